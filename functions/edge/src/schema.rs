//! Creates the table from its definition in `template.yaml`, so DynamoDB Local (dev server,
//! tests) and AWS can never disagree on keys and indexes.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use serde::Deserialize;

use crate::store::{Store, StoreError};

/// The table resource's logical id in `template.yaml`.
pub const TABLE_RESOURCE: &str = "Table";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub attribute_definitions: Vec<AttributeDef>,
    pub key_schema: Vec<KeyDef>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexDef>,
    pub stream_specification: Option<StreamDef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDef {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyDef {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexDef {
    pub index_name: String,
    pub key_schema: Vec<KeyDef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDef {
    pub stream_view_type: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("template.yaml: {0}")]
    Template(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads `Resources.Table.Properties` out of the template text.
pub fn table_definition(template: &str) -> Result<TableDefinition, SchemaError> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(template).map_err(|e| SchemaError::Template(e.to_string()))?;
    let properties = doc
        .get("Resources")
        .and_then(|r| r.get(TABLE_RESOURCE))
        .and_then(|t| t.get("Properties"))
        .ok_or_else(|| {
            SchemaError::Template(format!("no Resources.{TABLE_RESOURCE}.Properties"))
        })?;
    serde_yaml_ng::from_value(properties.clone()).map_err(|e| SchemaError::Template(e.to_string()))
}

fn key_schema(keys: &[KeyDef]) -> Result<Vec<KeySchemaElement>, SchemaError> {
    keys.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(|e| SchemaError::Template(e.to_string()))
        })
        .collect()
}

/// Creates `store`'s table as `template.yaml` defines it (on-demand, with its stream and GSIs)
/// and waits until it is active. An existing table is left as it is.
pub async fn create_table(store: &Store, template: &str) -> Result<(), SchemaError> {
    let def = table_definition(template)?;
    let client = store.client();
    let exists = client
        .describe_table()
        .table_name(store.table())
        .send()
        .await
        .is_ok();
    if exists {
        return Ok(());
    }
    let mut request = client
        .create_table()
        .table_name(store.table())
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&def.key_schema)?));
    for attr in &def.attribute_definitions {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&attr.attribute_name)
                .attribute_type(ScalarAttributeType::from(attr.attribute_type.as_str()))
                .build()
                .map_err(|e| SchemaError::Template(e.to_string()))?,
        );
    }
    for index in &def.global_secondary_indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(key_schema(&index.key_schema)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| SchemaError::Template(e.to_string()))?,
        );
    }
    if let Some(stream) = &def.stream_specification {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(stream.stream_view_type.as_str()))
                .build()
                .map_err(|e| SchemaError::Template(e.to_string()))?,
        );
    }
    request
        .send()
        .await
        .map_err(|e| StoreError::from_sdk("CreateTable", e))?;
    for _ in 0..100 {
        let status = store.describe_table().await?;
        let active = status
            .table()
            .and_then(|t| t.table_status())
            .is_some_and(|s| s.as_str() == "ACTIVE");
        if active {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(SchemaError::Template(format!(
        "table {} did not become active",
        store.table()
    )))
}

/// The template, compiled in: the dev server and tests need no file path to find it.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");
