//! PagerDuty V3 webhook bodies.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::ts;

/// An incident of the PagerDuty service named `service`.
#[derive(Clone, Copy, Debug)]
pub struct Incident<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub service: &'a str,
    pub created: DateTime<Utc>,
}

impl Incident<'_> {
    /// The V3 event `event_type` (`incident.triggered`, `incident.resolved`…) with id
    /// `event_id`, the incident then in `status`, at `at`.
    pub fn event(
        &self,
        event_id: &str,
        event_type: &str,
        status: &str,
        at: DateTime<Utc>,
    ) -> Value {
        json!({"event": {
            "id": event_id, "event_type": event_type, "resource_type": "incident",
            "occurred_at": ts(at), "agent": null, "client": null,
            "data": {"id": self.id, "type": "incident", "number": 1, "status": status,
                     "title": self.title, "urgency": "high", "priority": null,
                     "created_at": ts(self.created),
                     "service": {"id": "PSVC", "summary": self.service, "type": "service_reference"}}
        }})
    }
}
