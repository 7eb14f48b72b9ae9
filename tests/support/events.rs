//! Domain events as the tests check them.

use flowmeter_devserver::event_bus::RecordedEntry;
use serde_json::Value;

/// Each entry's detail against `docs/events/<type>.schema.json`, and its source.
pub fn assert_details_match_their_schemas(entries: &[RecordedEntry]) {
    for entry in entries {
        let path = format!(
            "{}/docs/events/{}.schema.json",
            env!("CARGO_MANIFEST_DIR"),
            entry.detail_type
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let schema: Value = serde_json::from_str(&text).expect("schema JSON");
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(&entry.detail)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{}: {errors:?}\n{}",
            entry.detail_type,
            entry.detail
        );
        assert_eq!(entry.source, "flowmeter");
    }
}
