//! The OpenAPI 3.1 document (`functions/api/openapi.yaml`), whose schemas are JSON Schema
//! 2020-12: what the API's answers are checked against.

use serde_json::{json, Value};

/// The document, parsed.
pub fn document() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/functions/api/openapi.yaml"
    ))
    .expect("openapi.yaml");
    serde_yaml_ng::from_str(&text).expect("openapi.yaml parses")
}

/// A validator for `components.schemas.<name>`: the document's schemas become `$defs` of one
/// root schema, so their internal references resolve without a registry.
pub fn validator(document: &Value, name: &str) -> jsonschema::Validator {
    let defs = document
        .pointer("/components/schemas")
        .expect("components.schemas")
        .to_string()
        .replace("#/components/schemas/", "#/$defs/");
    let defs: Value = serde_json::from_str(&defs).expect("schemas as JSON");
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "$ref": format!("#/$defs/{name}"),
    });
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .expect("schema compiles")
}

/// Panics naming every way `answer` departs from `components.schemas.<name>`.
pub fn assert_matches(answer: &Value, name: &str) {
    let document = document();
    let errors: Vec<String> = validator(&document, name)
        .iter_errors(answer)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {}\n{answer}", errors.join("\n"));
}
