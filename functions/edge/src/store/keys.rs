//! Every key of the table, spelled once: partition prefixes, sort keys, the indexes and the
//! keys a projection is indexed under. Code outside the store builds and reads keys only
//! through these. (Entity keys are the domain's `EntityKey::partition_key`; their prefixes are
//! repeated here for the IAM policy and the scans, and a test holds the two together.)

use std::ops::{Bound, RangeBounds};

use chrono::{DateTime, Utc};
use flowmeter::config::PRODUCTION;
use flowmeter::derive::{Bucket, Scope};
use flowmeter::model::EntityKey;

use super::Projection;

/// A pull request's partition (`PR#<owner/repo>#<number>`).
pub const PULL_REQUEST: &str = "PR#";
/// A deployment's partition (`DEP#<owner/repo>#<id>`).
pub const DEPLOYMENT: &str = "DEP#";
/// An incident's partition (`INC#<id>`).
pub const INCIDENT: &str = "INC#";
/// A branch's partition (`BR#<owner/repo>#<branch>`): its pushes and the PRs headed there.
pub const BRANCH: &str = "BR#";
/// A ticket's partition (`TICKET#<source>:<key>`): its facts, the PRs naming it (links) and its
/// projection.
pub const TICKET: &str = "TICKET#";
/// A GitOps application's partition (`APP#argocd:<app>@<environment>`): its state
/// observations and the projection that says where it stands.
pub const APP: &str = "APP#";
/// A security alert's partition (`SEC#<owner/repo>#<kind>:<number>`): GitHub's snapshots of it
/// and the projection that says where it stands.
pub const ALERT: &str = "SEC#";
/// The entity partitions: facts, links, projections and PR-by-head records live here.
pub const ENTITY_PARTITIONS: [&str; 7] = [
    PULL_REQUEST,
    DEPLOYMENT,
    INCIDENT,
    BRANCH,
    TICKET,
    APP,
    ALERT,
];
/// The partitions of entities that have a projection.
pub const PROJECTED_ENTITIES: [&str; 3] = [PULL_REQUEST, DEPLOYMENT, INCIDENT];

/// Sort keys of facts: `FACT#<at>#<identity>#<n>` for source facts, [`LINK`] for derived ones.
pub const FACT: &str = "FACT#";
/// Sort keys of derived facts (links): `FACT#LINK#<link id>`.
pub const LINK: &str = "FACT#LINK#";
/// The sort key of an entity's projection.
pub const PROJECTION_SK: &str = "PROJ";

/// A pipeline run's done marker: `BATCH#<run>` / `DONE` (the stored prefix keeps its old name).
pub const RUN: &str = "BATCH#";
pub const RUN_DONE_SK: &str = "DONE";
/// An event on its way to the bus: `OUTBOX#<event id>` / `EVENT` (`store::outbox`).
pub const OUTBOX: &str = "OUTBOX#";
pub const OUTBOX_SK: &str = "EVENT";
/// The `gsi2` partition of events whose publishing failed, swept by later runs.
pub const UNPUBLISHED: &str = "OUTBOX";
/// A repo's metadata: `REPO#<owner/repo>` / `META`.
pub const REPO: &str = "REPO#";
pub const REPO_META_SK: &str = "META";
/// Bucket members: `BUCKET#<scope>|<week>` / `M#<entity>`.
pub const BUCKET: &str = "BUCKET#";
pub const MEMBER: &str = "M#";
/// Rollups: `ROLLUP#<scope>` / `<week>`.
pub const ROLLUP: &str = "ROLLUP#";
/// Partition prefix of the record of a parked entity: `PARKED#<entity key>` / `PARKED`.
pub const PARKED_PREFIX: &str = "PARKED#";
pub const PARKED_SK: &str = "PARKED";
/// The org config: `CONFIG` / `CURRENT`.
pub const CONFIG_PK: &str = "CONFIG";
pub const CONFIG_SK: &str = "CURRENT";
/// The digest send ledger: `DIGEST#<org>#<week>`.
pub const DIGEST: &str = "DIGEST#";
/// Backfills: `BACKFILL` / `<id>`, each job's state, checkpoint and lease.
pub const BACKFILL_PK: &str = "BACKFILL";
/// The ETag of a GitHub answer whose facts are all written: `ETAG#<url>` / `ETAG`.
pub const ETAG: &str = "ETAG#";
pub const ETAG_SK: &str = "ETAG";

/// The partition key prefixes the rollup function writes and deletes under: the entity
/// partitions (link facts, projections, PR-by-head records), bucket members, rollups, run
/// markers and repo metadata. template.yaml's `RollupRole` may write under these only
/// (`dynamodb:LeadingKeys`), so a rollup cannot overwrite `CONFIG` or the digest ledger
/// (`DIGEST#`). tests/template.rs holds the two lists together; tests/derived_writes.rs checks
/// that a pipeline run writes under no other prefix. A new kind of derived item needs its
/// prefix here and in the template.
pub const ROLLUP_WRITE_PREFIXES: &[&str] = &joined::<13>(
    &ENTITY_PARTITIONS,
    &[BUCKET, ROLLUP, RUN, REPO, PARKED_PREFIX, OUTBOX],
);

/// `a` then `b` as one array of `N` (checked at compile time), so a list that extends another
/// names only what it adds.
const fn joined<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    assert!(
        a.len() + b.len() == N,
        "joined: N is not the sum of the lengths"
    );
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < a.len() { a[i] } else { b[i - a.len()] };
        i += 1;
    }
    out
}

/// Whether a sort key is a fact's, source or derived (what the stream passes on).
pub fn is_fact(sk: &str) -> bool {
    sk.starts_with(FACT)
}

/// Whether a sort key is a source fact's (a fact, not a link).
pub fn is_source_fact(sk: &str) -> bool {
    is_fact(sk) && !sk.starts_with(LINK)
}

/// The sort key of the derived fact (link) `id`.
pub fn link_sk(id: &str) -> String {
    format!("{LINK}{id}")
}

/// Whether an item is a record kept by reprocess (the org config, the digest ledger, backfills
/// and their ETags, the events outbox, whose ids keep a reprocess from announcing a change
/// again): neither a source fact nor derived from them.
pub fn is_record(pk: &str) -> bool {
    pk == CONFIG_PK
        || pk.starts_with(DIGEST)
        || pk == BACKFILL_PK
        || pk.starts_with(ETAG)
        || pk.starts_with(OUTBOX)
}

pub fn etag_pk(url: &str) -> String {
    format!("{ETAG}{url}")
}

pub fn outbox_pk(event_id: &str) -> String {
    format!("{OUTBOX}{event_id}")
}

pub fn run_pk(run: &str) -> String {
    format!("{RUN}{run}")
}

pub fn repo_pk(repo: &str) -> String {
    format!("{REPO}{repo}")
}

pub fn bucket_pk(bucket: &Bucket) -> String {
    format!("{BUCKET}{bucket}")
}

/// A bucket's partition from its key as a projection remembers it (`<scope>|<week>`).
pub fn bucket_key_pk(bucket_key: &str) -> String {
    format!("{BUCKET}{bucket_key}")
}

/// The bucket key (`<scope>|<week>`) of a bucket member's partition key.
pub fn bucket_key_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(BUCKET)
}

pub fn member_sk(id: &str) -> String {
    format!("{MEMBER}{id}")
}

pub fn rollup_pk(scope: &Scope) -> String {
    format!("{ROLLUP}{scope}")
}

/// The scope of a rollup partition key (`None`: not one).
pub fn scope_of_rollup(pk: &str) -> Option<Scope> {
    pk.strip_prefix(ROLLUP).and_then(Scope::parse)
}

pub fn parked_pk(entity: &EntityKey) -> String {
    format!("{PARKED_PREFIX}{}", entity.partition_key())
}

/// The digest send ledger's partition of one org and week (never written by the rollup role,
/// never deleted by reprocess).
pub fn digest_ledger_pk(org: &str, week: &str) -> String {
    format!("{DIGEST}{org}#{week}")
}

/// Instant formatting used inside sort keys: fixed width, so string order is time order.
pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The sort key bounds (for `BETWEEN`) of index entries `<time>#<id>` whose time lies in
/// `range`. '~' sorts after every character used in keys and a single space before them (key
/// values cannot be empty): an included end takes every id at that time, an excluded one none.
pub fn time_bounds(range: &impl RangeBounds<DateTime<Utc>>) -> (String, String) {
    let lo = match range.start_bound() {
        Bound::Included(at) => time(*at),
        Bound::Excluded(at) => format!("{}~", time(*at)),
        Bound::Unbounded => " ".to_string(),
    };
    let hi = match range.end_bound() {
        Bound::Included(at) => format!("{}~", time(*at)),
        Bound::Excluded(at) => time(*at),
        Bound::Unbounded => "~".to_string(),
    };
    (lo, hi)
}

/// The table's global secondary indexes (template.yaml, resource `Table`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    /// Production deployments of a repo by finish (`DEPS#<repo>`), those of another
    /// environment (`ENVDEPS#<repo>#<environment>`), incidents of a service by opening
    /// (`INCS#<service>`), security alerts of a repo by opening (`SECS#<repo>`).
    Gsi1,
    /// Merged PRs of a repo by merge (`MERGED#<repo>`), open incidents (`OPENINC`), GitOps
    /// applications by id (`APPS`).
    Gsi2,
}

impl Index {
    pub const ALL: [Index; 2] = [Index::Gsi1, Index::Gsi2];

    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1",
            Index::Gsi2 => "gsi2",
        }
    }

    /// The item attribute holding this index's partition key.
    pub fn pk_attribute(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1pk",
            Index::Gsi2 => "gsi2pk",
        }
    }

    /// The item attribute holding this index's sort key.
    pub fn sk_attribute(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1sk",
            Index::Gsi2 => "gsi2sk",
        }
    }
}

/// A partition of an index, and which index it is on.
pub(super) struct IndexPartition {
    pub index: Index,
    pub pk: String,
}

pub(super) fn deployments_of_repo(repo: &str) -> IndexPartition {
    let pk = format!("DEPS#{repo}");
    IndexPartition {
        index: Index::Gsi1,
        pk,
    }
}

/// The finished attempts of `repo` in a configured environment: production's are
/// [`deployments_of_repo`], the others' `ENVDEPS#<repo>#<environment>`.
pub(super) fn deployments_in_environment(repo: &str, environment: &str) -> IndexPartition {
    if environment == PRODUCTION {
        return deployments_of_repo(repo);
    }
    let pk = format!("ENVDEPS#{repo}#{environment}");
    IndexPartition {
        index: Index::Gsi1,
        pk,
    }
}

pub(super) fn incidents_of_service(service: &str) -> IndexPartition {
    let pk = format!("INCS#{service}");
    IndexPartition {
        index: Index::Gsi1,
        pk,
    }
}

/// Every GitOps application of the org, by id (`gsi2`): an org has tens or hundreds, so one
/// query reads them all for every repo a read covers.
pub(super) fn apps() -> IndexPartition {
    IndexPartition {
        index: Index::Gsi2,
        pk: "APPS".to_string(),
    }
}

/// A repo's security alerts by opening (`gsi1`), open or not: a repo has tens or hundreds, so
/// one query reads its open ones and its fixes alike.
pub(super) fn alerts_of_repo(repo: &str) -> IndexPartition {
    IndexPartition {
        index: Index::Gsi1,
        pk: format!("SECS#{repo}"),
    }
}

pub(super) fn merged_prs_of_repo(repo: &str) -> IndexPartition {
    let pk = format!("MERGED#{repo}");
    IndexPartition {
        index: Index::Gsi2,
        pk,
    }
}

pub(super) fn open_incidents() -> IndexPartition {
    let pk = "OPENINC".to_string();
    IndexPartition {
        index: Index::Gsi2,
        pk,
    }
}

fn entry(at: DateTime<Utc>, id: impl std::fmt::Display) -> String {
    format!("{}#{id}", time(at))
}

/// The index keys a projection is stored under, `[gsi1pk, gsi1sk, gsi2pk, gsi2sk]`: a merged
/// PR of the default branch on `gsi2` by merge; a finished attempt in a configured
/// environment on `gsi1` by finish, under its environment's partition; an incident on `gsi1`
/// by opening, and on `gsi2` while open; a GitOps application on `gsi2` under `APPS`. A PR is
/// found by head branch through `Store::put_head_index`, not an index.
pub fn index_keys(projection: &Projection) -> [Option<String>; 4] {
    let on = |partition: IndexPartition, sk: String| match partition.index {
        Index::Gsi1 => [Some(partition.pk), Some(sk), None, None],
        Index::Gsi2 => [None, None, Some(partition.pk), Some(sk)],
    };
    match projection {
        Projection::PullRequest(pr) => match pr.merged_at.filter(|_| pr.merged_to_default()) {
            Some(merged) => on(merged_prs_of_repo(&pr.repo), entry(merged, pr.number)),
            None => [None, None, None, None],
        },
        Projection::Deployment(d) => {
            // A projection stored before `stage` existed is production when it says so.
            let stage = d.stage.as_deref().or(d.is_production.then_some(PRODUCTION));
            match (d.finished_at.filter(|_| d.is_attempt()), stage) {
                (Some(finished), Some(stage)) => on(
                    deployments_in_environment(&d.repo, stage),
                    entry(finished, &d.id),
                ),
                _ => [None, None, None, None],
            }
        }
        Projection::Incident(i) => {
            let sk = entry(i.opened_at, &i.id);
            let [gsi1pk, gsi1sk, ..] = on(incidents_of_service(&i.service), sk.clone());
            let [.., gsi2pk, gsi2sk] = match i.resolved_at {
                None => on(open_incidents(), sk),
                Some(_) => [None, None, None, None],
            };
            [gsi1pk, gsi1sk, gsi2pk, gsi2sk]
        }
        // Read by key: the reads find a ticket from the PRs that name it.
        Projection::Ticket(_) => [None, None, None, None],
        Projection::App(app) => on(apps(), app.id.clone()),
        Projection::SecurityAlert(alert) => on(
            alerts_of_repo(&alert.repo),
            entry(alert.opened_at, &alert.id),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .expect("time")
    }

    #[test]
    fn entity_keys_begin_with_the_prefixes_listed_here() {
        let repo = "acme/api".to_string();
        let keys = [
            (
                EntityKey::PullRequest {
                    repo: repo.clone(),
                    number: 1,
                },
                PULL_REQUEST,
            ),
            (
                EntityKey::Deployment {
                    repo: repo.clone(),
                    id: "gh:1".into(),
                },
                DEPLOYMENT,
            ),
            (EntityKey::Incident { id: "pd:1".into() }, INCIDENT),
            (
                EntityKey::Branch {
                    repo,
                    branch: "main".into(),
                },
                BRANCH,
            ),
        ];
        for (key, prefix) in keys {
            assert!(key.partition_key().starts_with(prefix), "{key:?}");
            assert!(ROLLUP_WRITE_PREFIXES.contains(&prefix));
        }
        // Tickets get the PRs naming them and their projection.
        let ticket = EntityKey::Ticket {
            id: "jira:ENG-1".into(),
        };
        assert!(ticket.partition_key().starts_with(TICKET));
        assert!(ENTITY_PARTITIONS.contains(&TICKET));
        assert!(ROLLUP_WRITE_PREFIXES.contains(&TICKET));
        // Applications get their projection.
        let app = EntityKey::App {
            id: "argocd:api@prod".into(),
        };
        assert!(app.partition_key().starts_with(APP));
        assert!(ENTITY_PARTITIONS.contains(&APP));
        assert!(ROLLUP_WRITE_PREFIXES.contains(&APP));
        // Security alerts get their projection.
        let alert = EntityKey::Alert {
            repo: "acme/api".into(),
            id: "dependabot:20".into(),
        };
        assert!(alert.partition_key().starts_with(ALERT));
        assert!(ENTITY_PARTITIONS.contains(&ALERT));
        assert!(ROLLUP_WRITE_PREFIXES.contains(&ALERT));
        assert_eq!(
            EntityKey::from_partition_key(&alert.partition_key()),
            Some(alert)
        );
    }

    #[test]
    fn rollup_and_bucket_keys_read_back() {
        let scope = Scope::parse("repo:acme/api").expect("scope");
        assert_eq!(rollup_pk(&scope), "ROLLUP#repo:acme/api");
        assert_eq!(scope_of_rollup(&rollup_pk(&scope)), Some(scope));
        assert_eq!(scope_of_rollup("BUCKET#org|2026-W41"), None);
        assert_eq!(
            bucket_key_of(&bucket_key_pk("org|2026-W41")),
            Some("org|2026-W41")
        );
        assert_eq!(link_sk("ships"), "FACT#LINK#ships");
        assert!(is_source_fact("FACT#2026-10-05T10:00:00.000Z#d1#0"));
        assert!(!is_source_fact(&link_sk("ships")) && is_fact(&link_sk("ships")));
        assert!(is_record(CONFIG_PK) && is_record(&digest_ledger_pk("acme", "2026-W41")));
        assert!(!is_record(&run_pk("r1")) && !is_record(&repo_pk("acme/api")));
        assert!(is_record(BACKFILL_PK) && is_record(&etag_pk("/repos/acme/api/pulls/1")));
    }

    #[test]
    fn time_bounds_include_or_exclude_every_id_at_an_end() {
        let (a, b) = (at("2026-10-05T10:00:00Z"), at("2026-10-06T10:00:00Z"));
        let (lo, hi) = time_bounds(&(a..=b));
        assert_eq!(
            (lo.as_str(), hi.as_str()),
            ("2026-10-05T10:00:00.000Z", "2026-10-06T10:00:00.000Z~")
        );
        let (lo, hi) = time_bounds(&(a..b));
        assert_eq!(hi, "2026-10-06T10:00:00.000Z");
        assert!(lo.as_str() <= "2026-10-05T10:00:00.000Z#1");
        let at_b = entry(b, 7);
        assert!(at_b > hi, "an excluded end leaves {at_b} out");
        assert_eq!(time_bounds(&(..)), (" ".to_string(), "~".to_string()));
        assert_eq!(time_bounds(&(a..)).1, "~");
    }

    #[test]
    fn a_finished_attempt_is_indexed_under_its_environment() {
        use flowmeter::model::DeploymentState;
        let finished = at("2026-10-05T10:00:00Z");
        let deployment = |stage: Option<&str>, state: Option<DeploymentState>| {
            Projection::Deployment(flowmeter::derive::Deployment {
                repo: "acme/api".into(),
                id: "gh:7".into(),
                stage: stage.map(str::to_string),
                is_production: stage == Some("production"),
                state,
                finished_at: state.map(|_| finished),
                ..Default::default()
            })
        };
        let ok = Some(DeploymentState::Success);
        let sk = Some("2026-10-05T10:00:00.000Z#gh:7".to_string());
        assert_eq!(
            index_keys(&deployment(Some("production"), ok)),
            [Some("DEPS#acme/api".into()), sk.clone(), None, None]
        );
        assert_eq!(
            index_keys(&deployment(Some("qa"), Some(DeploymentState::Failure))),
            [Some("ENVDEPS#acme/api#qa".into()), sk, None, None]
        );
        // Running, or to no configured environment: found by no index.
        assert_eq!(
            index_keys(&deployment(Some("qa"), None)),
            [None, None, None, None]
        );
        assert_eq!(index_keys(&deployment(None, ok)), [None, None, None, None]);
    }

    #[test]
    fn each_index_has_its_own_attributes() {
        assert_eq!(Index::ALL.map(Index::name), ["gsi1", "gsi2"]);
        for index in Index::ALL {
            assert!(index.pk_attribute().starts_with(index.name()));
            assert!(index.sk_attribute().starts_with(index.name()));
            assert_ne!(index.pk_attribute(), index.sk_attribute());
        }
    }
}
