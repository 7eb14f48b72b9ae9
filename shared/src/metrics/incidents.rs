//! `GET /v1/incidents`: incidents opened and resolved in the period, MTTR, by service and
//! severity, and the incidents open now.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{p50, week_string, Quantiles, ReportWindow};
use crate::derive::deployment::seconds_between;
use crate::derive::{Incident, Rollup};
use crate::sketch::QuantileSketch;
use crate::time::IsoWeek;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentReport {
    pub scope: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Incidents opened in the period (by opening week).
    pub opened: u64,
    /// Incidents resolved in the period (by resolve week).
    pub resolved: u64,
    /// Resolved − opened of the incidents resolved in the period.
    pub mttr: Quantiles,
    /// Every service that opened or resolved an incident in the period, most incidents opened
    /// first, then by name.
    pub by_service: Vec<ServiceIncidents>,
    pub by_severity: BySeverity,
    /// Incidents open now (as handed in by the caller), oldest first.
    pub open: Vec<OpenIncidentEntry>,
    pub weeks: Vec<IncidentWeek>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceIncidents {
    pub service: String,
    pub opened: u64,
    /// Of the service's incidents resolved in the period; `null` when none was.
    pub mttr_p50_seconds: Option<f64>,
}

/// Incidents opened in the period by severity. The four levels are always present; `unknown`
/// (an extra field) counts the incidents whose severity nothing mapped, so the five add up to
/// `opened`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BySeverity {
    pub sev1: u64,
    pub sev2: u64,
    pub sev3: u64,
    pub sev4: u64,
    pub unknown: u64,
}

/// An open incident, as the caller loads it (the `OPENINC` index).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIncident {
    pub id: String,
    pub service: String,
    pub severity: Option<String>,
    pub opened_at: DateTime<Utc>,
}

impl From<Incident> for OpenIncident {
    /// What the report and the digest keep of an open incident's projection.
    fn from(incident: Incident) -> OpenIncident {
        OpenIncident {
            id: incident.id,
            service: incident.service,
            severity: incident.severity,
            opened_at: incident.opened_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenIncidentEntry {
    pub id: String,
    pub service: String,
    pub severity: Option<String>,
    /// RFC 3339 UTC.
    pub opened_at: DateTime<Utc>,
    /// `now − opened_at`, never negative (an opening stamped after `now` by a skewed clock
    /// is 0 old).
    pub age_seconds: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentWeek {
    #[serde(with = "week_string")]
    pub week: IsoWeek,
    pub opened: u64,
    pub mttr_p50_seconds: Option<f64>,
}

impl IncidentReport {
    /// The report of `window` (rollups of other weeks are ignored), with the incidents `open`
    /// now aged at `now`.
    pub fn build(
        window: &ReportWindow,
        rollups: &[(IsoWeek, Rollup)],
        open: &[OpenIncident],
        now: DateTime<Utc>,
    ) -> IncidentReport {
        let period = window.period(rollups);
        let total = &period.total;
        IncidentReport {
            scope: window.scope.to_string(),
            from: window.from,
            to: window.to,
            opened: total.incidents_opened,
            resolved: total.incidents_resolved,
            mttr: Quantiles::of(&total.mttr),
            by_service: by_service(&total.opened_by_service, &total.mttr_by_service),
            by_severity: by_severity(total.incidents_opened, &total.opened_by_severity),
            open: open_entries(open, now),
            weeks: period.each_week(|week, r| IncidentWeek {
                week,
                opened: r.incidents_opened,
                mttr_p50_seconds: p50(&r.mttr),
            }),
        }
    }
}

fn by_service(
    opened: &BTreeMap<String, u64>,
    mttr: &BTreeMap<String, QuantileSketch>,
) -> Vec<ServiceIncidents> {
    let services: BTreeSet<&String> = opened.keys().chain(mttr.keys()).collect();
    let mut rows: Vec<ServiceIncidents> = services
        .into_iter()
        .map(|service| ServiceIncidents {
            service: service.clone(),
            opened: opened.get(service).copied().unwrap_or(0),
            mttr_p50_seconds: mttr.get(service).and_then(p50),
        })
        .collect();
    rows.sort_by(|a, b| (Reverse(a.opened), &a.service).cmp(&(Reverse(b.opened), &b.service)));
    rows
}

fn by_severity(opened: u64, counts: &BTreeMap<String, u64>) -> BySeverity {
    let get = |level: &str| counts.get(level).copied().unwrap_or(0);
    let (sev1, sev2, sev3, sev4) = (get("sev1"), get("sev2"), get("sev3"), get("sev4"));
    BySeverity {
        sev1,
        sev2,
        sev3,
        sev4,
        unknown: opened.saturating_sub(
            sev1.saturating_add(sev2)
                .saturating_add(sev3)
                .saturating_add(sev4),
        ),
    }
}

fn open_entries(open: &[OpenIncident], now: DateTime<Utc>) -> Vec<OpenIncidentEntry> {
    let mut entries: Vec<OpenIncidentEntry> = open
        .iter()
        .map(|incident| OpenIncidentEntry {
            id: incident.id.clone(),
            service: incident.service.clone(),
            severity: incident.severity.clone(),
            opened_at: incident.opened_at,
            age_seconds: seconds_between(incident.opened_at, now),
        })
        .collect();
    entries.sort_by(|a, b| (a.opened_at, &a.id).cmp(&(b.opened_at, &b.id)));
    entries
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::metrics::testing::*;

    /// W41: checkout sev1 + sev2, payments sev2, search (no severity) opened; checkout resolved
    /// in 1800 s, payments in 7200 s.
    /// W42: payments sev3 opened; checkout resolved in 3600 s, search in 600 s.
    /// W43: nothing opened; payments resolved in 86 400 s, billing (opened before the period)
    /// in 300 s.
    fn three_weeks() -> Vec<(IsoWeek, Rollup)> {
        vec![
            (
                week(2026, 41),
                rollup(&[
                    opened("checkout", Some("sev1")),
                    opened("checkout", Some("sev2")),
                    opened("payments", Some("sev2")),
                    opened("search", None),
                    resolved("checkout", 1800.0),
                    resolved("payments", 7200.0),
                ]),
            ),
            (
                week(2026, 42),
                rollup(&[
                    opened("payments", Some("sev3")),
                    resolved("checkout", 3600.0),
                    resolved("search", 600.0),
                ]),
            ),
            (
                week(2026, 43),
                rollup(&[resolved("payments", 86400.0), resolved("billing", 300.0)]),
            ),
        ]
    }

    #[test]
    fn three_weeks_by_hand() {
        let open = [
            OpenIncident {
                id: "pd:Q2".into(),
                service: "payments".into(),
                severity: Some("sev3".into()),
                opened_at: t("2026-10-14T12:00:00Z"),
            },
            OpenIncident {
                id: "gen:a".into(),
                service: "search".into(),
                severity: None,
                opened_at: t("2026-10-08T09:30:00Z"),
            },
            OpenIncident {
                id: "gen:skewed".into(),
                service: "search".into(),
                severity: Some("sev4".into()),
                opened_at: t("2026-10-26T00:05:00Z"),
            },
        ];
        let report = incident_report(
            "org",
            date("2026-10-05"),
            date("2026-10-25"),
            &three_weeks(),
            &open,
            t("2026-10-26T00:00:00Z"),
        );
        // opened 4 + 1 + 0 = 5; resolved 2 + 2 + 2 = 6.
        // MTTR [300, 600, 1800, 3600, 7200, 86400], n = 6: p50 rank 3 → 1800, p90 rank
        // ceil(5.4) = 6 → 86400.
        // by_service: checkout 2 opened, MTTR [1800, 3600] → rank 1 → 1800; payments 2,
        // [7200, 86400] → 7200; search 1, [600]; billing 0, [300]. Ties on 2 by name.
        // by_severity: sev1 1, sev2 2, sev3 1, sev4 0, unknown 5 − 4 = 1.
        // open ages at 26 Oct 00:00: gen:a opened 8 Oct 09:30 → 17 d 14 h 30 m = 17·86400 +
        // 52200 = 1521000 s; pd:Q2 opened 14 Oct 12:00 → 11 d 12 h = 993600 s; gen:skewed
        // opened 5 min after now → 0. Oldest first.
        // weeks: W41 4 opened, MTTR p50 of [1800, 7200] → 1800; W42 1, [600, 3600] → 600; W43
        // 0, [300, 86400] → 300.
        let expected = json!({
            "scope": "org",
            "from": "2026-10-05",
            "to": "2026-10-25",
            "opened": 5,
            "resolved": 6,
            "mttr": {"p50_seconds": 1800.0, "p90_seconds": 86400.0},
            "by_service": [
                {"service": "checkout", "opened": 2, "mttr_p50_seconds": 1800.0},
                {"service": "payments", "opened": 2, "mttr_p50_seconds": 7200.0},
                {"service": "search", "opened": 1, "mttr_p50_seconds": 600.0},
                {"service": "billing", "opened": 0, "mttr_p50_seconds": 300.0}
            ],
            "by_severity": {"sev1": 1, "sev2": 2, "sev3": 1, "sev4": 0, "unknown": 1},
            "open": [
                {"id": "gen:a", "service": "search", "severity": null,
                 "opened_at": "2026-10-08T09:30:00Z", "age_seconds": 1521000.0},
                {"id": "pd:Q2", "service": "payments", "severity": "sev3",
                 "opened_at": "2026-10-14T12:00:00Z", "age_seconds": 993600.0},
                {"id": "gen:skewed", "service": "search", "severity": "sev4",
                 "opened_at": "2026-10-26T00:05:00Z", "age_seconds": 0.0}
            ],
            "weeks": [
                {"week": "2026-W41", "opened": 4, "mttr_p50_seconds": 1800.0},
                {"week": "2026-W42", "opened": 1, "mttr_p50_seconds": 600.0},
                {"week": "2026-W43", "opened": 0, "mttr_p50_seconds": 300.0}
            ]
        });
        assert_serializes_to(&report, &expected);
        assert_round_trips(&report);
    }

    #[test]
    fn no_incidents_still_lists_every_severity_and_week() {
        let report = incident_report(
            "service:checkout",
            date("2026-10-05"),
            date("2026-10-18"),
            &[(week(2026, 42), Rollup::default())],
            &[],
            t("2026-10-19T00:00:00Z"),
        );
        let json = serde_json::to_value(&report).expect("serialize");
        assert_eq!(
            json["by_severity"],
            json!({"sev1": 0, "sev2": 0, "sev3": 0, "sev4": 0, "unknown": 0})
        );
        assert_eq!(json["by_service"], json!([]));
        assert_eq!(json["open"], json!([]));
        assert_eq!(
            json["mttr"],
            json!({"p50_seconds": null, "p90_seconds": null})
        );
        assert_eq!(
            json["weeks"],
            json!([
                {"week": "2026-W41", "opened": 0, "mttr_p50_seconds": null},
                {"week": "2026-W42", "opened": 0, "mttr_p50_seconds": null}
            ])
        );
    }

    #[test]
    fn by_service_orders_by_opened_then_name() {
        let weeks = [(
            week(2026, 41),
            rollup(&[
                opened("zeta", None),
                opened("alpha", None),
                opened("mid", None),
                opened("mid", None),
                opened("beta", None),
            ]),
        )];
        let report = incident_report(
            "org",
            date("2026-10-05"),
            date("2026-10-11"),
            &weeks,
            &[],
            t("2026-10-12T00:00:00Z"),
        );
        let order: Vec<(&str, u64)> = report
            .by_service
            .iter()
            .map(|s| (s.service.as_str(), s.opened))
            .collect();
        assert_eq!(order, [("mid", 2), ("alpha", 1), ("beta", 1), ("zeta", 1)]);
        assert!(report
            .by_service
            .iter()
            .all(|s| s.mttr_p50_seconds.is_none()));
        assert_eq!(report.by_severity.unknown, 5);
    }

    #[test]
    fn severity_sums_saturate() {
        // Counts from stored rollups (merged across scopes): 2^64 - 1 + 1 sev-counted incidents
        // of 5 opened leave 0 unknown, not an overflow.
        let counts = BTreeMap::from([("sev1".to_string(), u64::MAX), ("sev2".to_string(), 1)]);
        let b = by_severity(5, &counts);
        assert_eq!((b.sev1, b.sev2, b.unknown), (u64::MAX, 1, 0));
    }
}
