//! A security alert's state, folded from the snapshots GitHub sent of it
//! (`FactBody::SecurityAlert`, from `ingest::github`).
//!
//! Snapshots are read in time order (then fact id, so arrival order never matters); the latest
//! says where the alert stands. The alert **opened** at its `created_at` and is **fixed** or
//! **dismissed** at the latest snapshot's `closed_at` (its own time when the payload dates the
//! closing nowhere else). A reopened alert is open again: its time to fix, once fixed, still
//! runs from when it was first found, since the risk was there all along.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::deployment::facts_in_order;
use crate::model::{AlertKind, AlertSeverity, AlertState, EntityKey, Fact, FactBody, RepoName};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityAlert {
    pub repo: RepoName,
    /// The entity id: `dependabot:20`.
    pub id: String,
    pub kind: AlertKind,
    pub number: u64,
    pub state: AlertState,
    pub severity: AlertSeverity,
    pub title: String,
    pub opened_at: DateTime<Utc>,
    /// When it was fixed or dismissed; `None` while open.
    pub closed_at: Option<DateTime<Utc>>,
    pub html_url: Option<String>,
    /// The latest snapshot.
    pub updated_at: DateTime<Utc>,
}

impl SecurityAlert {
    pub fn key(&self) -> EntityKey {
        EntityKey::Alert {
            repo: self.repo.clone(),
            id: self.id.clone(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.state == AlertState::Open
    }

    /// Seconds from found to fixed, for a fixed alert (a dismissed one was not fixed).
    pub fn time_to_fix(&self) -> Option<f64> {
        let fixed = self.closed_at.filter(|_| self.state == AlertState::Fixed)?;
        Some(super::deployment::seconds_between(self.opened_at, fixed).max(0.0))
    }
}

/// Folds an alert's facts into its current state; `None` for another kind of entity or an alert
/// without snapshots.
pub fn project_security_alert(key: &EntityKey, facts: &[Fact]) -> Option<SecurityAlert> {
    let EntityKey::Alert { repo, id } = key else {
        return None;
    };
    let snapshots: Vec<(DateTime<Utc>, &crate::model::AlertSnapshot)> = facts_in_order(facts)
        .into_iter()
        .filter_map(|fact| match &fact.body {
            FactBody::SecurityAlert(snapshot) => Some((fact.at, snapshot)),
            _ => None,
        })
        .collect();
    let (updated_at, latest) = *snapshots.last()?;
    let opened_at = snapshots.iter().map(|(_, s)| s.created_at).min()?;
    let closed_at = match latest.state {
        AlertState::Open => None,
        _ => Some(latest.closed_at.unwrap_or(updated_at)),
    };
    Some(SecurityAlert {
        repo: repo.clone(),
        id: id.clone(),
        kind: latest.kind,
        number: latest.number,
        state: latest.state,
        severity: latest.severity,
        title: latest.title.clone(),
        opened_at,
        closed_at,
        html_url: snapshots.iter().rev().find_map(|(_, s)| s.html_url.clone()),
        updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::testing::t;
    use crate::model::AlertSnapshot;

    fn key() -> EntityKey {
        EntityKey::Alert {
            repo: "acme/api".into(),
            id: "dependabot:20".into(),
        }
    }

    fn snapshot(id: &str, at: &str, state: AlertState, closed: Option<&str>) -> Fact {
        Fact {
            entity: key(),
            id: id.into(),
            at: t(at),
            body: FactBody::SecurityAlert(AlertSnapshot {
                kind: AlertKind::Dependabot,
                number: 20,
                state,
                severity: AlertSeverity::High,
                title: "semver ReDoS".into(),
                created_at: t("2026-10-05T08:00:00Z"),
                closed_at: closed.map(t),
                html_url: Some("https://github.com/acme/api/security/dependabot/20".into()),
            }),
        }
    }

    #[test]
    fn the_latest_snapshot_says_where_an_alert_stands_whatever_the_arrival_order() {
        // given an alert found at 08:00 and fixed at 14:00, its deliveries in either order
        let created = snapshot("a#0", "2026-10-05T08:00:00Z", AlertState::Open, None);
        let fixed = snapshot(
            "b#0",
            "2026-10-05T14:00:00Z",
            AlertState::Fixed,
            Some("2026-10-05T14:00:00Z"),
        );
        for facts in [
            vec![created.clone(), fixed.clone()],
            vec![fixed.clone(), created.clone()],
        ] {
            // when folded
            let alert = project_security_alert(&key(), &facts).expect("an alert");
            // then it is fixed, six hours after it was found
            assert_eq!(alert.state, AlertState::Fixed);
            assert!(!alert.is_open());
            assert_eq!(alert.time_to_fix(), Some(6.0 * 3600.0));
            assert_eq!(alert.id, "dependabot:20");
        }
    }

    #[test]
    fn a_reopened_alert_is_open_and_a_dismissed_one_was_never_fixed() {
        let reopened = vec![
            snapshot("a#0", "2026-10-05T08:00:00Z", AlertState::Open, None),
            snapshot("b#0", "2026-10-05T09:00:00Z", AlertState::Fixed, None),
            snapshot("c#0", "2026-10-06T09:00:00Z", AlertState::Open, None),
        ];
        let alert = project_security_alert(&key(), &reopened).expect("an alert");
        assert!(alert.is_open());
        assert_eq!(alert.closed_at, None);
        assert_eq!(alert.time_to_fix(), None);

        let dismissed = vec![snapshot(
            "a#0",
            "2026-10-05T10:00:00Z",
            AlertState::Dismissed,
            None,
        )];
        let alert = project_security_alert(&key(), &dismissed).expect("an alert");
        assert_eq!(
            alert.closed_at,
            Some(t("2026-10-05T10:00:00Z")),
            "its own time"
        );
        assert_eq!(alert.time_to_fix(), None);
        assert_eq!(project_security_alert(&key(), &[]), None);
    }
}
