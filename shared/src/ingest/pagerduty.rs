//! PagerDuty V3 webhooks to incident facts.
//!
//! Only events whose `data` is an incident are read: `incident.triggered`, `acknowledged`,
//! `resolved` and `reopened` carry a lifecycle step; every other incident event
//! (`priority_updated`, `unacknowledged`, `escalated`, `reassigned`, `delegated`,
//! `service_updated`, …) becomes an `Updated` fact with the incident's current title, urgency,
//! priority and service, because severity (mapped from urgency/priority in config) and service
//! can change after the trigger and the latest snapshot must win. Events whose `data` is not an
//! incident (notes, responders, status updates, conference bridges, `pagey.ping`) are ignored.
//!
//! The fact id is `<event.id>#0`: PagerDuty keeps the event id across retries, so a retry writes
//! nothing new.

use serde::Deserialize;

use super::json::{from_value, Timestamp};
use super::{check_id, parse_body, IngestError, Normalized};
use crate::model::{EntityKey, Fact, FactBody, IncidentAction};

pub fn normalize_pagerduty(body: &[u8]) -> Result<Normalized, IngestError> {
    let root = parse_body(body)?;
    // First look only at the type, so events of other shapes never fail on fields we would not
    // read anyway.
    let head: Head = from_value(&root)?;
    let is_incident = head.event.event_type.starts_with("incident.")
        && head.event.data.as_ref().and_then(|d| d.kind.as_deref()) == Some("incident");
    if !is_incident {
        return Ok(Normalized::Ignored("not an incident event"));
    }
    let Envelope { event } = from_value(&root)?;
    check_id(&event.id, "event.id")?;
    let data = event.data;
    check_id(&data.id, "event.data.id")?;

    let action = match event.event_type.as_str() {
        "incident.triggered" => IncidentAction::Opened,
        "incident.acknowledged" => IncidentAction::Acknowledged,
        "incident.resolved" => IncidentAction::Resolved,
        "incident.reopened" => IncidentAction::Reopened,
        _ => IncidentAction::Updated,
    };
    let occurred = event.occurred_at.0;
    let opened_at = match action {
        IncidentAction::Opened => Some(occurred),
        _ => data.created_at.map(|t| t.0),
    };
    let resolved_at = (action == IncidentAction::Resolved).then_some(occurred);
    let (service, service_id) = match data.service {
        Some(s) => (s.summary, s.id),
        None => (None, None),
    };
    let fact = Fact {
        entity: EntityKey::Incident {
            id: format!("pd:{}", data.id),
        },
        id: format!("{}#0", event.id),
        at: occurred,
        body: FactBody::Incident {
            action,
            title: data.title.unwrap_or_default(),
            service,
            service_id,
            // PagerDuty has no sev1…sev4 of its own; config maps urgency and priority.
            severity: None,
            urgency: data.urgency,
            priority: data.priority.and_then(|p| p.summary),
            labels: Vec::new(),
            deployment_sha: None,
            repo: None,
            html_url: data.html_url,
            opened_at,
            resolved_at,
        },
    };
    Ok(Normalized::Facts(vec![fact]))
}

#[derive(Deserialize)]
struct Head {
    event: HeadEvent,
}

#[derive(Deserialize)]
struct HeadEvent {
    event_type: String,
    data: Option<HeadData>,
}

#[derive(Deserialize)]
struct HeadData {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    event: Event,
}

#[derive(Deserialize)]
struct Event {
    id: String,
    event_type: String,
    occurred_at: Timestamp,
    data: Incident,
}

#[derive(Deserialize)]
struct Incident {
    id: String,
    title: Option<String>,
    urgency: Option<String>,
    priority: Option<Reference>,
    service: Option<Reference>,
    html_url: Option<String>,
    created_at: Option<Timestamp>,
}

#[derive(Deserialize)]
struct Reference {
    id: Option<String>,
    summary: Option<String>,
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::ingest::testing::{incident, mutate, set, single_of, ts};

    pub(crate) const TRIGGERED: &[u8] =
        include_bytes!("../../../tests/fixtures/pagerduty/triggered_v3.json");
    pub(crate) const RESOLVED: &[u8] =
        include_bytes!("../../../tests/fixtures/pagerduty/resolved_v3.json");
    pub(crate) const PRIORITY_UPDATED: &[u8] = include_bytes!(
        "../../../tests/fixtures/pagerduty/go-pagerduty.webhookv3_test.priority_updated.body.json"
    );

    fn single(body: &[u8]) -> Fact {
        single_of(normalize_pagerduty(body).expect("accepted"))
    }

    #[test]
    fn triggered() {
        let fact = single(TRIGGERED);
        assert_eq!(fact.entity, incident("pd:PFQZPSY"));
        assert_eq!(fact.id, "01BZYIL05THJDFF2Y08X9SVMTU#0");
        assert_eq!(fact.at, ts("2021-06-04T13:35:29.781Z"));
        assert_eq!(
            fact.body,
            FactBody::Incident {
                action: IncidentAction::Opened,
                title: "Test Incident 3".into(),
                service: Some("pig208".into()),
                service_id: Some("PA2P440".into()),
                severity: None,
                urgency: Some("high".into()),
                priority: None,
                labels: vec![],
                deployment_sha: None,
                repo: None,
                html_url: Some("https://pig208.pagerduty.com/incidents/PFQZPSY".into()),
                opened_at: Some(ts("2021-06-04T13:35:29.781Z")),
                resolved_at: None,
            }
        );
    }

    #[test]
    fn resolved() {
        let fact = single(RESOLVED);
        assert_eq!(fact.entity, incident("pd:PCPZE64"));
        assert_eq!(fact.id, "01BZYH1JJY09P9LEIST8HG2PMN#0");
        let FactBody::Incident {
            action,
            opened_at,
            resolved_at,
            ..
        } = fact.body
        else {
            panic!("expected an incident");
        };
        assert_eq!(action, IncidentAction::Resolved);
        assert_eq!(opened_at, None);
        assert_eq!(resolved_at, Some(ts("2021-06-04T13:16:53.816Z")));
    }

    #[test]
    fn priority_update_carries_the_new_priority() {
        let fact = single(PRIORITY_UPDATED);
        assert_eq!(fact.entity, incident("pd:PGR0VU2"));
        assert_eq!(fact.id, "01BWDWL3NYY7LUFPZCC28QUCMK#0");
        assert_eq!(fact.at, ts("2021-04-26T17:36:27.458Z"));
        let FactBody::Incident {
            action,
            priority,
            urgency,
            service,
            service_id,
            title,
            ..
        } = fact.body
        else {
            panic!("expected an incident");
        };
        assert_eq!(action, IncidentAction::Updated);
        assert_eq!(priority.as_deref(), Some("P1"));
        assert_eq!(urgency.as_deref(), Some("high"));
        assert_eq!(service.as_deref(), Some("API Service"));
        assert_eq!(service_id.as_deref(), Some("PF9KMXH"));
        assert_eq!(title, "A little bump in the road");
    }

    #[test]
    fn lifecycle_event_types() {
        for (event_type, action) in [
            ("incident.acknowledged", IncidentAction::Acknowledged),
            ("incident.reopened", IncidentAction::Reopened),
            ("incident.unacknowledged", IncidentAction::Updated),
            ("incident.escalated", IncidentAction::Updated),
        ] {
            let body = mutate(TRIGGERED, |v| {
                set(v, "/event/event_type", json!(event_type))
            });
            let fact = single(&body);
            assert!(
                matches!(&fact.body, FactBody::Incident { action: a, opened_at: None, resolved_at: None, .. } if *a == action),
                "{event_type}: {fact:?}"
            );
        }
    }

    #[test]
    fn non_incident_events_are_ignored() {
        let ping = json!({"event": {"id": "01", "event_type": "pagey.ping", "resource_type": "pagey",
            "occurred_at": "2021-06-04T13:35:29.781Z", "agent": null, "client": null,
            "data": {"message": "Hello from your friend Pagey!", "type": "ping"}}});
        let note = json!({"event": {"id": "02", "event_type": "incident.annotated",
            "occurred_at": "2021-06-04T13:35:29.781Z",
            "data": {"incident": {"id": "PFQZPSY", "type": "incident_reference"},
                     "id": "P1", "content": "note", "trimmed": false, "type": "incident_note"}}});
        for body in [ping, note] {
            let bytes = serde_json::to_vec(&body).expect("serializes");
            assert_eq!(
                normalize_pagerduty(&bytes),
                Ok(Normalized::Ignored("not an incident event"))
            );
        }
    }

    #[test]
    fn redelivery_gives_identical_facts() {
        for body in [TRIGGERED, RESOLVED, PRIORITY_UPDATED] {
            assert_eq!(normalize_pagerduty(body), normalize_pagerduty(body));
        }
    }

    #[test]
    fn errors_name_the_field() {
        let no_id = mutate(TRIGGERED, |v| {
            v.pointer_mut("/event/data")
                .and_then(Value::as_object_mut)
                .map(|o| o.remove("id"));
        });
        assert_eq!(
            normalize_pagerduty(&no_id),
            Err(IngestError::MissingField {
                path: "event.data.id".into()
            })
        );
        let bad_time = mutate(TRIGGERED, |v| set(v, "/event/occurred_at", json!("now")));
        assert_eq!(
            normalize_pagerduty(&bad_time),
            Err(IngestError::BadTimestamp {
                path: "event.occurred_at".into(),
                value: "now".into()
            })
        );
        let wrong_type = mutate(TRIGGERED, |v| {
            set(v, "/event/data/service", json!("pig208"))
        });
        assert!(matches!(
            normalize_pagerduty(&wrong_type),
            Err(IngestError::InvalidField { path, .. }) if path == "event.data.service"
        ));
        assert!(matches!(
            normalize_pagerduty(b"{\"event\":"),
            Err(IngestError::MalformedJson(_))
        ));
        assert_eq!(
            normalize_pagerduty(b"{}"),
            Err(IngestError::MissingField {
                path: "event".into()
            })
        );
    }
}
