//! Linear deliveries are dated by their sender (`webhookTimestamp`), and the webhook refuses one
//! dated more than a minute from its clock: a recorded payload must be stamped before it is
//! signed and sent.

use serde_json::Value;

/// `body` with its `webhookTimestamp` set to `sent_ms` (milliseconds since the epoch); a body
/// that is not a JSON object is returned as it is.
pub fn sent_at(body: &[u8], sent_ms: i64) -> Vec<u8> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    object.insert("webhookTimestamp".into(), Value::from(sent_ms));
    serde_json::to_vec(&Value::Object(object)).unwrap_or_else(|_| body.to_vec())
}

/// [`sent_at`] the current time.
pub fn sent_now(body: &[u8]) -> Vec<u8> {
    sent_at(body, chrono::Utc::now().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_the_timestamp_and_keeps_the_rest() {
        let body = br#"{"type":"Issue","webhookTimestamp":1}"#;
        let stamped: Value = serde_json::from_slice(&sent_at(body, 42)).expect("JSON");
        assert_eq!(stamped["webhookTimestamp"], 42);
        assert_eq!(stamped["type"], "Issue");
        assert_eq!(sent_at(b"[1]", 42), b"[1]");
    }
}
