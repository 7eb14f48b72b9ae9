//! Plain data shared by every layer: facts (what a source told us), projections (what we
//! currently believe about one entity) and bucket members (what one projection contributes to
//! one weekly rollup).
//!
//! Facts are immutable once written and keyed so that the same delivery always produces the
//! same keys: that is what makes a redelivery write nothing new. Everything else is derived and
//! can be rebuilt from facts at any time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A repository as `owner/name`, lower-cased at ingest so keys never split on case.
pub type RepoName = String;

/// The entity a fact belongs to. Facts of one entity share a DynamoDB partition, so the entity's
/// projection is one `Query` away.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntityKey {
    PullRequest {
        repo: RepoName,
        number: u64,
    },
    /// `id` is source-qualified: `gh:<deployment id>`, `wr:<workflow run id>`, `gen:<id>`.
    Deployment {
        repo: RepoName,
        id: String,
    },
    /// `id` is source-qualified: `pd:<incident id>`, `gh:<repo>#<issue number>`, `gen:<id>`.
    Incident {
        id: String,
    },
    /// Pushes of one branch; the default branch's pushes give the commit order that decides
    /// which PRs a deployment ships, a head branch's pushes give a PR's first-commit time.
    Branch {
        repo: RepoName,
        branch: String,
    },
    /// A ticket of an issue tracker. `id` is source-qualified: `jira:<issue key>` (`jira:ENG-1`),
    /// `linear:<identifier>` (`linear:ENG-1`). Its facts are stored and folded by
    /// `derive::ticket`; no rollup reads them yet.
    Ticket {
        id: String,
    },
    /// An application of a GitOps tool, whose desired and actual state it reports. `id` is
    /// source-qualified: `argocd:<application>@<environment>` (the environment keeps apart two
    /// Argo CD instances, one per cluster, that both run an application of the same name). Its
    /// facts are folded by `derive::app_state`.
    App {
        id: String,
    },
    /// A security alert of a repository: `id` is `<kind>:<number>` (`dependabot:20`,
    /// `code_scanning:7`, `secret_scanning:3`). Folded by `derive::security`.
    Alert {
        repo: RepoName,
        id: String,
    },
}

impl EntityKey {
    /// The partition key of the entity in the table. Stable: changing it orphans stored facts.
    pub fn partition_key(&self) -> String {
        match self {
            EntityKey::PullRequest { repo, number } => format!("PR#{repo}#{number}"),
            EntityKey::Deployment { repo, id } => format!("DEP#{repo}#{id}"),
            EntityKey::Incident { id } => format!("INC#{id}"),
            EntityKey::Branch { repo, branch } => format!("BR#{repo}#{}", bounded_branch(branch)),
            EntityKey::Ticket { id } => format!("TICKET#{id}"),
            EntityKey::App { id } => format!("APP#{id}"),
            EntityKey::Alert { repo, id } => format!("SEC#{repo}#{id}"),
        }
    }

    /// Inverse of [`EntityKey::partition_key`]; `None` for keys that are not entities.
    pub fn from_partition_key(pk: &str) -> Option<EntityKey> {
        let (kind, rest) = pk.split_once('#')?;
        match kind {
            "PR" => {
                let (repo, number) = rest.rsplit_once('#')?;
                Some(EntityKey::PullRequest {
                    repo: repo.to_string(),
                    number: number.parse().ok()?,
                })
            }
            "DEP" => {
                // Repo names contain exactly one '/', never '#'; the id may contain '#'.
                let (repo, id) = rest.split_once('#')?;
                Some(EntityKey::Deployment {
                    repo: repo.to_string(),
                    id: id.to_string(),
                })
            }
            "INC" => Some(EntityKey::Incident {
                id: rest.to_string(),
            }),
            "TICKET" => Some(EntityKey::Ticket {
                id: rest.to_string(),
            }),
            "APP" => Some(EntityKey::App {
                id: rest.to_string(),
            }),
            "SEC" => {
                let (repo, id) = rest.rsplit_once('#')?;
                Some(EntityKey::Alert {
                    repo: repo.to_string(),
                    id: id.to_string(),
                })
            }
            "BR" => {
                let (repo, branch) = rest.split_once('#')?;
                Some(EntityKey::Branch {
                    repo: repo.to_string(),
                    branch: branch.to_string(),
                })
            }
            _ => None,
        }
    }
}

/// Branch names longer than this are keyed by their hash: a PR's head ref is only checked
/// for size as part of its fact, but a derived key over it (the PR-by-head record, whose key
/// is the branch's partition) could exceed DynamoDB's key limits and fail every retry.
pub const MAX_KEYED_BRANCH_BYTES: usize = 256;

/// The branch as it appears in keys: itself, or `~` and the first 32 hex digits of its SHA-256
/// when longer than [`MAX_KEYED_BRANCH_BYTES`]. Git forbids `~` in ref names, so the hashed form
/// never collides with a real branch, and it is a fixed point (short, so keyed as itself).
pub fn bounded_branch(branch: &str) -> std::borrow::Cow<'_, str> {
    if branch.len() <= MAX_KEYED_BRANCH_BYTES {
        return std::borrow::Cow::Borrowed(branch);
    }
    std::borrow::Cow::Owned(format!("~{}", short_digest(branch.as_bytes())))
}

/// The first 32 hex digits (128 bits) of SHA-256: an id for content that has none of its own,
/// short enough for any key, long enough that two different inputs never share one in practice.
pub fn short_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hex = hex::encode(Sha256::digest(bytes));
    hex.truncate(32);
    hex
}

/// A short identity of a value's content: the first 8 bytes of the SHA-256 of its JSON, in hex.
/// Stored beside facts and bucket members, so a write that would change nothing is skipped.
pub fn content_hash<T: Serialize>(value: &T) -> String {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..8])
}

/// One immutable statement from a source (or a derived link, see [`FactBody::is_derived`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub entity: EntityKey,
    /// Unique within the entity and deterministic from the delivery: `<source delivery id>#<n>`
    /// for source facts, `link:<kind>:<other entity>` for derived facts.
    pub id: String,
    /// When the thing happened according to the source (not when we received it). Source
    /// facts sort by it; derived facts sort under `FACT#LINK#` whatever their time.
    pub at: DateTime<Utc>,
    pub body: FactBody,
}

impl Fact {
    /// The sort key of the fact inside its entity partition. Time first, so a branch's pushes can
    /// be read in time order and from a point in time.
    pub fn sort_key(&self) -> String {
        if self.body.is_derived() {
            // A link's identity is what it links, not when: its time may change on recompute.
            return format!("FACT#LINK#{}", self.id);
        }
        format!(
            "FACT#{}#{}",
            self.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            self.id
        )
    }
}

/// A GitHub account as far as metrics care.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub login: String,
    /// GitHub says `type: Bot`, or the login ends in `[bot]`. Configured bot logins are applied
    /// later, at derive time, so a config change needs no re-ingest.
    pub is_bot: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrAction {
    Opened,
    Edited,
    Reopened,
    Closed,
    Synchronize,
    ReadyForReview,
    ConvertedToDraft,
    Labeled,
    Unlabeled,
    Other,
}

/// The pull request as the payload showed it, plus the action that produced the delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrSnapshot {
    pub action: PrAction,
    pub title: String,
    pub body: Option<String>,
    pub author: Actor,
    pub draft: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    pub merge_commit_sha: Option<String>,
    pub head_ref: String,
    /// The head commit: where a PR's own commits are walked back from (METRICS.md).
    #[serde(default)]
    pub head_sha: Option<String>,
    /// `owner/name` of the repository the head ref lives in, lower-cased; a fork's for a fork
    /// PR, whose head branch is not a branch of the base repository. `None` when unknown (a
    /// deleted fork).
    #[serde(default)]
    pub head_repo: Option<RepoName>,
    pub base_ref: String,
    /// The repository's default branch at delivery time.
    pub default_branch: String,
    pub additions: Option<u64>,
    pub deletions: Option<u64>,
    pub labels: Vec<String>,
    pub html_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    Dismissed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentKind {
    /// `pull_request_review_comment`: a comment on a line of the diff.
    Review,
    /// `issue_comment` on a PR: the conversation tab.
    Conversation,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    pub sha: String,
    /// Author time: when the work was done, the start of coding time.
    pub authored_at: DateTime<Utc>,
    pub author_login: Option<String>,
    /// The commit message's start, where ticket keys are found ([`capped_commit_message`]).
    /// `None` when the push carried none (or an empty one), in a push of more than 1,024
    /// commits ([`commit_message_share`]), and in push facts stored before messages were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A commit message keeps at most this many bytes, cut at a character boundary. Ticket keys
/// (`ENG-123`) are matched in commit messages and live in the subject line, which this holds
/// whole; a message itself may be of any size, and its push fact must stay under
/// `ingest::MAX_FACT_BYTES` (350 KiB). Bytes are counted as the fact's JSON spells them (a
/// newline or quote takes 2, another control character 6), so the cap holds for any string.
pub const MAX_COMMIT_MESSAGE_BYTES: usize = 1024;

/// All the messages of one push keep at most this many bytes together, so each of its `n`
/// commits keeps its `1/n` share ([`commit_message_share`]): up to 32 commits keep 1,024 bytes
/// each, 1,024 commits 32. GitHub sends up to 2,048 commits in one push, which take up to
/// 290 KiB without any message (40-hex SHA, time, 39-character login): at 1,024 bytes each the
/// messages alone would be 2 MiB.
pub const MAX_PUSH_MESSAGE_BYTES: usize = 32 * 1024;

/// A share smaller than this keeps no message (a push of more than 1,024 commits): so messages
/// add at most 45 KiB to a push fact (its budget and each message's field name), which is then
/// at most 190 KiB, and a push past 1,024 commits is exactly the fact it was without messages.
pub const MIN_COMMIT_MESSAGE_BYTES: usize = 32;

/// The bytes each message of a push of `commits` commits keeps: its share of
/// [`MAX_PUSH_MESSAGE_BYTES`], at most [`MAX_COMMIT_MESSAGE_BYTES`]; 0 (none kept) below
/// [`MIN_COMMIT_MESSAGE_BYTES`].
pub fn commit_message_share(commits: usize) -> usize {
    let share = (MAX_PUSH_MESSAGE_BYTES / commits.max(1)).min(MAX_COMMIT_MESSAGE_BYTES);
    if share < MIN_COMMIT_MESSAGE_BYTES {
        0
    } else {
        share
    }
}

/// The longest start of `message` whose JSON string takes at most `max_bytes` bytes (quotes
/// aside), cut at a character boundary; `None` when that is empty.
pub fn capped_commit_message(message: &str, max_bytes: usize) -> Option<String> {
    let mut used = 0;
    let mut end = 0;
    for (at, c) in message.char_indices() {
        used += json_escaped_len(c);
        if used > max_bytes {
            break;
        }
        end = at + c.len_utf8();
    }
    let kept = message.get(..end).unwrap_or_default();
    (!kept.is_empty()).then(|| kept.to_string())
}

/// The bytes `c` takes inside a JSON string as serde_json writes it.
fn json_escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if u32::from(c) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    Success,
    Failure,
    Error,
    InProgress,
    Queued,
    Pending,
    Inactive,
}

impl DeploymentState {
    /// Only terminal states count as production deployments (METRICS.md).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            DeploymentState::Success | DeploymentState::Failure | DeploymentState::Error
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentAction {
    Opened,
    Acknowledged,
    Resolved,
    Reopened,
    /// A change of labels, title, severity: only the snapshot fields matter.
    Updated,
}

/// The issue tracker a ticket lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketSource {
    Jira,
    Linear,
}

impl TicketSource {
    /// The prefix of the ticket's entity id: `jira:ENG-1`, `linear:ENG-1`.
    pub fn prefix(self) -> &'static str {
        match self {
            TicketSource::Jira => "jira",
            TicketSource::Linear => "linear",
        }
    }
}

/// Where a ticket's status stands, the same four for every tracker, so a metric never needs to
/// know a team's status names. Jira's categories map `new` → `Todo`, `indeterminate` →
/// `Started`, `done` → `Done` (Jira has no cancelled category: a "Won't Do" status is in
/// `done`); Linear's state types map `triage`, `backlog`, `unstarted` → `Todo`, `started` →
/// `Started`, `completed` → `Done`, `canceled` → `Canceled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketCategory {
    Todo,
    Started,
    Done,
    Canceled,
}

/// A change of a ticket's status, as the source reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusTransition {
    /// The previous status's name; `None` when the source does not say it (Linear's
    /// `updatedFrom` names only the previous state's id).
    pub from: Option<String>,
    /// The new status's name.
    pub to: String,
    /// The new status's category: Jira's changelog carries status names only, so this is the
    /// issue's current status category when the status is `to` (it is, in the delivery
    /// of the change itself), else `None`; Linear's is the new state's `type`.
    pub category: Option<TicketCategory>,
    /// When the change happened.
    pub at: DateTime<Utc>,
}

/// The scanner a security alert comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A vulnerable dependency (`dependabot_alert`).
    Dependabot,
    /// A finding of code scanning, CodeQL or another tool (`code_scanning_alert`).
    CodeScanning,
    /// A secret committed to the repository (`secret_scanning_alert`).
    SecretScanning,
}

impl AlertKind {
    /// The prefix of the alert's entity id: `dependabot:20`.
    pub fn prefix(self) -> &'static str {
        match self {
            AlertKind::Dependabot => "dependabot",
            AlertKind::CodeScanning => "code_scanning",
            AlertKind::SecretScanning => "secret_scanning",
        }
    }
}

/// One scale for every scanner (METRICS.md "Security alerts" says how each maps to it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    Low,
    Medium,
    High,
    Critical,
}

impl AlertSeverity {
    pub const ALL: [AlertSeverity; 4] = [
        AlertSeverity::Critical,
        AlertSeverity::High,
        AlertSeverity::Medium,
        AlertSeverity::Low,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AlertSeverity::Low => "low",
            AlertSeverity::Medium => "medium",
            AlertSeverity::High => "high",
            AlertSeverity::Critical => "critical",
        }
    }
}

/// Whether an alert is open, and how it closed: fixed (the code changed, the secret was
/// revoked) or dismissed (a false positive, a risk accepted, a test secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Fixed,
    Dismissed,
}

/// A security alert as one delivery showed it. The fact's `at` is the alert's latest change
/// the payload dates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertSnapshot {
    pub kind: AlertKind,
    pub number: u64,
    pub state: AlertState,
    pub severity: AlertSeverity,
    /// What was found: the advisory's summary, the rule's description, the secret's type.
    pub title: String,
    pub created_at: DateTime<Utc>,
    /// When it was fixed or dismissed, when the payload says.
    pub closed_at: Option<DateTime<Utc>>,
    pub html_url: Option<String>,
}

/// A ticket as one delivery showed it: trackers send the whole issue with every event, so each
/// fact is a full snapshot and the latest one wins (`derive::ticket`). The fact's `at` is the
/// event time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketSnapshot {
    pub source: TicketSource,
    /// The tracker's key: `ENG-1` (Jira issue key, Linear identifier).
    pub key: String,
    /// Jira's project key or Linear's team key.
    pub project: String,
    pub title: String,
    /// The status's name as the team calls it (`In Review`).
    pub status: String,
    pub category: TicketCategory,
    /// The status change this event made, if it made one.
    pub transition: Option<StatusTransition>,
    /// Jira fix versions (names); empty for Linear, which has none.
    pub fix_versions: Vec<String>,
    /// Jira's sprint or Linear's cycle the ticket is in, if any.
    pub sprint: Option<String>,
    /// The event deleted the ticket (Jira `jira:issue_deleted`, Linear `remove`).
    pub deleted: bool,
    /// When the ticket was created, as the payload says.
    pub created_at: Option<DateTime<Utc>>,
    pub html_url: Option<String>,
}

/// A PR a deployment shipped, and whether the PR is an unplanned fix (rework).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ShippedPr {
    pub pr: EntityKey,
    pub rework: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FactBody {
    // ---- source facts -------------------------------------------------------------------
    PullRequest(PrSnapshot),
    Review {
        reviewer: Actor,
        state: ReviewState,
        submitted_at: DateTime<Utc>,
        body_nonempty: bool,
        /// The PR author, when the payload carries it, so "not the author" needs no join.
        pr_author: Option<String>,
    },
    ReviewDismissed {
        reviewer: Actor,
        review_id: u64,
    },
    Comment {
        commenter: Actor,
        kind: CommentKind,
        created_at: DateTime<Utc>,
        pr_author: Option<String>,
    },
    Push {
        before: String,
        after: String,
        /// In push order, oldest first (as GitHub sends them).
        commits: Vec<Commit>,
        forced: bool,
        /// The push went to the repository's default branch.
        to_default_branch: bool,
    },
    /// A deployment was requested (GitHub `deployment`), or a CI run that deploys started.
    DeploymentRequested {
        environment: String,
        sha: String,
        git_ref: Option<String>,
        creator: Option<Actor>,
        /// For `workflow_run` deployments: the workflow's name, matched against config.
        workflow: Option<String>,
        /// For a GitHub Deployment created by an Actions job: that job's workflow run, whose
        /// own `wr:` deployment it supersedes (the deployment counts once).
        #[serde(default)]
        workflow_run: Option<u64>,
    },
    /// A status change of a deployment. Terminal states end it.
    DeploymentStatus {
        state: DeploymentState,
        environment: Option<String>,
        /// Present when the status source also knows the sha (generic endpoint, workflow_run).
        sha: Option<String>,
        started_at: Option<DateTime<Utc>>,
        /// As on [`FactBody::DeploymentRequested`]: the status payload names the run too, so a
        /// lost `deployment` delivery loses nothing.
        #[serde(default)]
        workflow_run: Option<u64>,
    },
    Incident {
        action: IncidentAction,
        title: String,
        /// PagerDuty service name, or the repo for GitHub-issue incidents, or the generic field.
        service: Option<String>,
        /// PagerDuty service id (config may map ids to services).
        service_id: Option<String>,
        /// `sev1`…`sev4` when the source says so directly; otherwise raw urgency/priority.
        severity: Option<String>,
        urgency: Option<String>,
        priority: Option<String>,
        /// Labels (GitHub issues): whether it is an incident is decided with config at derive
        /// time.
        labels: Vec<String>,
        /// The incident names the deployment or sha it blames (wins over the blame window).
        deployment_sha: Option<String>,
        /// GitHub issue incidents: the repository the issue lives in.
        repo: Option<RepoName>,
        html_url: Option<String>,
        opened_at: Option<DateTime<Utc>>,
        resolved_at: Option<DateTime<Utc>>,
    },
    /// A ticket was created, changed or deleted in an issue tracker (Jira, Linear).
    TicketChanged(TicketSnapshot),
    /// A security alert as one delivery showed it (GitHub sends the whole alert with every
    /// event): the latest wins. On an [`EntityKey::Alert`]; folded by `derive::security`.
    SecurityAlert(AlertSnapshot),
    /// What a GitOps tool (Argo CD) reported of an application at `observed_at`: the revision
    /// it should run against the one it runs, and whether that is in sync and healthy. On an
    /// [`EntityKey::App`]; folded by `derive::app_state`.
    AppState {
        /// The application's name in the tool.
        app: String,
        /// The reported environment, matched against config's `environments:` at derive time.
        environment: String,
        /// The repository of the application's (first) source; `None` when not reported.
        repo: Option<RepoName>,
        /// What the application should run: its source's target revision (a branch, tag, commit
        /// or chart version, as configured: `HEAD`, `main`, `v1.2.0`).
        desired_revision: Option<String>,
        /// What it was last synced to: a commit sha (or chart version).
        synced_revision: Option<String>,
        /// Argo CD's sync status as reported: `Synced`, `OutOfSync` or `Unknown`.
        sync_status: String,
        /// Argo CD's health status as reported: `Healthy`, `Progressing`, `Degraded`,
        /// `Suspended`, `Missing` or `Unknown`.
        health: String,
        observed_at: DateTime<Utc>,
    },
    // ---- derived facts (written by the rollup function, upserted, never by ingest) ----------
    /// On a PR: this successful production deployment shipped it.
    ShippedBy {
        deployment: EntityKey,
        sha: String,
        finished_at: DateTime<Utc>,
    },
    /// On a deployment: every PR it shipped, in one fact. A deployment ships several PRs, and
    /// one fact per PR cost a write unit each (and as many stream records and rebuilds).
    ShipsPrs {
        prs: Vec<ShippedPr>,
    },
    /// On a deployment: this incident blames it.
    BlamedBy {
        incident: EntityKey,
        opened_at: DateTime<Utc>,
        resolved_at: Option<DateTime<Utc>>,
    },
    /// On a PR: this (merged) revert PR reverts it.
    RevertedBy {
        pr: EntityKey,
    },
    /// On a deployment: a PR it shipped was reverted, so the deployment failed.
    ShippedPrReverted {
        pr: EntityKey,
        revert: EntityKey,
    },
    /// On a successful production deployment: the next one redeployed an older commit of the
    /// default branch, i.e. rolled this one back, so it failed (METRICS.md).
    RolledBackBy {
        deployment: EntityKey,
    },
    /// On a failed deployment: the next successful production deployment of its repo, whose
    /// finish is the recovery when no incident blames the failure.
    FollowedBy {
        deployment: EntityKey,
        finished_at: DateTime<Utc>,
    },
    /// On a PR: another PR of the same head branch merged at `head_sha`. Commits up to there
    /// were that PR's, so this PR's own commits stop there if it was merged before this one
    /// was opened (docs/METRICS.md, "A PR's commits").
    EarlierPrHead {
        pr: EntityKey,
        head_sha: String,
        merged_at: DateTime<Utc>,
    },
    /// On a `wr:` workflow-run deployment: a GitHub production Deployment created by one of its
    /// jobs records the same deployment, with its real environment; the run no longer counts.
    SupersededBy {
        deployment: EntityKey,
    },
    /// On a ticket: this PR names it (title, body, head branch or one of its commits), merged
    /// at `merged_at` and shipped to production by a deployment finished at `shipped_at`.
    NamedByPr {
        pr: EntityKey,
        merged_at: Option<DateTime<Utc>>,
        shipped_at: Option<DateTime<Utc>>,
    },
}

impl FactBody {
    /// Derived facts are links between entities computed from other facts; they may be
    /// replaced or removed when their inputs change, unlike source facts.
    pub fn is_derived(&self) -> bool {
        matches!(
            self,
            FactBody::ShippedBy { .. }
                | FactBody::ShipsPrs { .. }
                | FactBody::BlamedBy { .. }
                | FactBody::RevertedBy { .. }
                | FactBody::ShippedPrReverted { .. }
                | FactBody::FollowedBy { .. }
                | FactBody::RolledBackBy { .. }
                | FactBody::SupersededBy { .. }
                | FactBody::EarlierPrHead { .. }
                | FactBody::NamedByPr { .. }
        )
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
