//! The shapes of GitLab's webhook payloads, only the fields Flowmeter reads, and the timestamp
//! forms GitLab writes.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer};

use super::super::json::{null_as_default, Timestamp};
use super::super::{repo_name, IngestError};
use crate::model::RepoName;
use crate::time::is_supported_instant;

/// A GitLab time: RFC 3339 (`2013-12-03T17:23:34Z`, `2019-06-05T14:32:20.211Z`), or the Ruby
/// forms older payloads and some fields use (`2013-12-03 17:23:34 UTC`,
/// `2021-04-28 21:50:00 +0200`), normalized to UTC. Anything else is a bad timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GlTime(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for GlTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(GlTimeVisitor)
    }
}

struct GlTimeVisitor;

impl<'de> Visitor<'de> for GlTimeVisitor {
    type Value = GlTime;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a GitLab timestamp")
    }

    /// RFC 3339 first, with its errors (so a bad value is reported as a bad timestamp, and an
    /// out-of-range one as such); then GitLab's space-separated forms.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<GlTime, E> {
        let rfc3339 = Timestamp::deserialize(BorrowedStrDeserializer::<E>::new(v));
        let Err(error) = rfc3339 else {
            return rfc3339.map(|Timestamp(t)| GlTime(t));
        };
        let parsed = match v.strip_suffix(" UTC") {
            Some(naive) => NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f")
                .map(|t| t.and_utc())
                .ok(),
            None => DateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f %z")
                .map(|t| t.with_timezone(&Utc))
                .ok(),
        };
        match parsed {
            Some(t) if is_supported_instant(t) => Ok(GlTime(t)),
            // Out of range, or no form at all: RFC 3339's own verdict names which.
            _ => Err(error),
        }
    }
}

/// A GitLab account as webhooks show it (`user`, `assignees[]`, `reviewers[]`).
#[derive(Deserialize)]
pub(super) struct User {
    /// Older payloads leave it out.
    #[serde(default)]
    pub id: Option<u64>,
    pub username: String,
    /// Not in GitLab's documented payloads; read in case an instance sends it.
    #[serde(default)]
    pub bot: Option<bool>,
}

/// A reviewer with GitLab's review state (GitLab 18.x: `unreviewed`, `review_started`,
/// `reviewed`, `requested_changes`, `approved`, `unapproved`).
#[derive(Deserialize)]
pub(super) struct Reviewer {
    #[serde(default)]
    pub id: Option<u64>,
    pub username: String,
    #[serde(default)]
    pub bot: Option<bool>,
    #[serde(default)]
    pub state: Option<String>,
}

/// `project` (and an MR's `source`): the web address names the repository.
#[derive(Deserialize)]
pub(super) struct Project {
    pub web_url: String,
    #[serde(default)]
    pub default_branch: Option<String>,
}

impl Project {
    /// `https://gitlab.com/group/sub/proj` → `gitlab.com/group/sub/proj`.
    pub fn name(&self, path: &str) -> Result<RepoName, IngestError> {
        repo_name(without_scheme(&self.web_url), path)
    }
}

pub(super) fn without_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

#[derive(Deserialize)]
pub(super) struct Label {
    pub title: String,
}

pub(super) fn label_titles(labels: &[Label]) -> Vec<String> {
    labels.iter().map(|l| l.title.clone()).collect()
}

/// `changes.<field>`: what it was and what it is.
#[derive(Deserialize)]
pub(super) struct Change<T> {
    #[serde(default)]
    pub previous: Option<T>,
    #[serde(default)]
    pub current: Option<T>,
}

#[derive(Deserialize, Default)]
pub(super) struct MrChanges {
    #[serde(default)]
    pub draft: Option<Change<bool>>,
    #[serde(default)]
    pub labels: Option<Change<Vec<Label>>>,
    #[serde(default)]
    pub title: Option<IgnoredAny>,
    #[serde(default)]
    pub description: Option<IgnoredAny>,
    #[serde(default)]
    pub reviewers: Option<Change<Vec<Reviewer>>>,
}

#[derive(Deserialize)]
pub(super) struct MergeRequestEvent {
    pub object_attributes: MrAttributes,
    pub user: User,
    pub project: Project,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Option<Vec<Label>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub changes: MrChanges,
    #[serde(default, deserialize_with = "null_as_default")]
    pub assignees: Vec<User>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub reviewers: Vec<Reviewer>,
}

/// `object_attributes` of a Merge Request Hook. `iid` comes first: a payload without it is
/// reported as missing `object_attributes.iid`, the field no fact can do without.
#[derive(Deserialize)]
pub(super) struct MrAttributes {
    pub iid: u64,
    pub title: String,
    pub created_at: GlTime,
    pub updated_at: GlTime,
    pub source_branch: String,
    pub target_branch: String,
    #[serde(default)]
    pub author_id: Option<u64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub draft: Option<bool>,
    /// The older name of `draft`.
    #[serde(default)]
    pub work_in_progress: Option<bool>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    /// Present when the update pushed new commits.
    #[serde(default)]
    pub oldrev: Option<String>,
    #[serde(default)]
    pub source: Option<Project>,
    #[serde(default)]
    pub last_commit: Option<CommitRef>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Option<Vec<Label>>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct CommitRef {
    pub id: String,
}

#[derive(Deserialize)]
pub(super) struct PushEvent {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub before: String,
    pub after: String,
    pub project: Project,
    /// The newest 20 commits at most (`total_commits_count` says how many were pushed).
    #[serde(default, deserialize_with = "null_as_default")]
    pub commits: Vec<PushCommit>,
}

#[derive(Deserialize)]
pub(super) struct PushCommit {
    pub id: String,
    #[serde(default)]
    pub message: Option<String>,
    pub timestamp: GlTime,
}

#[derive(Deserialize)]
pub(super) struct NoteEvent {
    pub object_attributes: NoteAttributes,
    pub user: User,
    pub project: Project,
    #[serde(default)]
    pub merge_request: Option<NoteMergeRequest>,
}

#[derive(Deserialize)]
pub(super) struct NoteAttributes {
    pub id: u64,
    pub noteable_type: String,
    pub created_at: GlTime,
    #[serde(default)]
    pub system: Option<bool>,
    /// `DiffNote` for a note on a line of the diff, `DiscussionNote` or `null` otherwise.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub position: Option<IgnoredAny>,
    #[serde(default)]
    pub action: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct NoteMergeRequest {
    pub iid: u64,
    #[serde(default)]
    pub author_id: Option<u64>,
}

#[derive(Deserialize)]
pub(super) struct DeploymentEvent {
    pub deployment_id: u64,
    pub status: String,
    pub status_changed_at: GlTime,
    pub environment: String,
    pub project: Project,
    #[serde(default)]
    pub short_sha: Option<String>,
    #[serde(default)]
    pub commit_url: Option<String>,
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
}

#[derive(Deserialize)]
pub(super) struct PipelineEvent {
    pub object_attributes: PipelineAttributes,
    pub project: Project,
    #[serde(default)]
    pub user: Option<User>,
}

#[derive(Deserialize)]
pub(super) struct PipelineAttributes {
    pub id: u64,
    pub sha: String,
    pub status: String,
    pub created_at: GlTime,
    #[serde(default)]
    pub finished_at: Option<GlTime>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct IssueEvent {
    pub object_attributes: IssueAttributes,
    pub project: Project,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Option<Vec<Label>>,
}

#[derive(Deserialize)]
pub(super) struct IssueAttributes {
    pub iid: u64,
    pub title: String,
    pub created_at: GlTime,
    #[serde(default)]
    pub updated_at: Option<GlTime>,
    #[serde(default)]
    pub closed_at: Option<GlTime>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    /// The work item type's name (`Issue`, `Incident`), GitLab 17.2 and later.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Earlier versions' `issue_type` (`issue`, `incident`).
    #[serde(default)]
    pub issue_type: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Option<Vec<Label>>,
}
