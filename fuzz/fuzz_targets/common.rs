// Shared by the ingest targets: whatever a parser returns must be usable by the store without
// panicking (keys, sort keys, the JSON the item is written as), and facts must carry the ids the
// idempotency rests on.

use flowmeter::ingest::{IngestError, Normalized};

/// The event a forge target's input is for, and its body: the first byte picks one of `names`
/// (the event header), the rest is the body; `None` for an empty input. Every event's branch
/// of a parser is then one byte away, and fuzz/seed.sh writes its seeds in this layout.
#[allow(dead_code)] // the targets without an event header include this file too
pub fn pick<'a>(data: &'a [u8], names: &[&'static str]) -> Option<(&'static str, &'a [u8])> {
    let (&selector, body) = data.split_first()?;
    Some((names[selector as usize % names.len()], body))
}

pub fn check(result: Result<Normalized, IngestError>, id_prefix: Option<&str>) {
    match result {
        Ok(Normalized::Facts(facts)) => {
            // The webhook runs this before any write; it must answer, not panic.
            let _ = flowmeter::ingest::check_storable(&facts);
            for fact in &facts {
                let _ = fact.entity.partition_key();
                let _ = fact.sort_key();
                if let Some(prefix) = id_prefix {
                    assert!(fact.id.starts_with(prefix), "fact id {} lacks the delivery id", fact.id);
                }
                let json = serde_json::to_vec(fact).expect("a fact serializes");
                let back: flowmeter::model::Fact =
                    serde_json::from_slice(&json).expect("a fact deserializes");
                assert_eq!(back.sort_key(), fact.sort_key());
            }
        }
        Ok(Normalized::Ignored(_)) => {}
        Err(err) => {
            let _ = err.to_string();
        }
    }
}
