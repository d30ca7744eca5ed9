//! Notion `create_page`: plain values by property name, turned into page property values by the
//! data source's property types (https://developers.notion.com/reference/post-page,
//! page-property-values), and plain-text content as paragraph blocks.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use switchboard_core::catalog::Provider;
use switchboard_core::resources::Item;

use super::super::actions::{RunError, invalid_input};
use super::super::resources::Caller;
use super::by_name::{choice, map_by_name};
use crate::services::{InputProblem, ServiceError, Services};

/// A rich text object's `text.content` holds at most 2000 characters (Notion's request limits).
const TEXT_LIMIT: usize = 2000;
/// A request's `children` holds at most 100 blocks.
const BLOCK_LIMIT: usize = 100;

/// Property types whose values Notion computes or sets itself.
const READ_ONLY: &[&str] = &[
    "button",
    "created_by",
    "created_time",
    "formula",
    "last_edited_by",
    "last_edited_time",
    "rollup",
    "unique_id",
    "verification",
];

/// `text` as rich text objects, each within the length limit.
fn rich_text(text: &str) -> Value {
    let chars: Vec<char> = text.chars().collect();
    let parts: Vec<Value> = chars
        .chunks(TEXT_LIMIT)
        .map(|c| json!({"type": "text", "text": {"content": c.iter().collect::<String>()}}))
        .collect();
    Value::Array(parts)
}

/// The property value object for a property of type `kind`, or why `value` cannot be one.
fn property_value(kind: &str, property: &Item, value: &Value) -> Result<Value, String> {
    let name = &property.name;
    let want = |what: &str| format!("property {name:?} is a {kind} property: give {what}");
    if READ_ONLY.contains(&kind) {
        return Err(format!("property {name:?} is a {kind} property, set by Notion: it cannot be written"));
    }
    let string = || value.as_str().ok_or_else(|| want("a string"));
    Ok(match kind {
        "title" => json!({"title": rich_text(string()?)}),
        "rich_text" => json!({"rich_text": rich_text(string()?)}),
        "number" => json!({"number": value.as_f64().map(|_| value.clone()).ok_or_else(|| want("a number"))?}),
        "checkbox" => json!({"checkbox": value.as_bool().ok_or_else(|| want("true or false"))?}),
        "select" => json!({"select": {"name": value.as_str().ok_or_else(|| want("an option name, a string"))?}}),
        "multi_select" => {
            let names = value
                .as_array()
                .filter(|a| a.iter().all(Value::is_string))
                .ok_or_else(|| want("a list of option names (strings)"))?;
            json!({"multi_select": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()})
        }
        "status" => {
            let s = value.as_str().ok_or_else(|| want("the name of one of its options, a string"))?;
            let real =
                choice(property.fields.get("status_options"), s).map_err(|e| format!("property {name:?}: {e}"))?;
            json!({"status": {"name": real}})
        }
        "date" => json!({"date": {"start": value.as_str().ok_or_else(|| want("an ISO 8601 date, a string"))?}}),
        "url" => json!({"url": string()?}),
        "email" => json!({"email": string()?}),
        "phone_number" => json!({"phone_number": string()?}),
        other => {
            return Err(format!("property {name:?} is a {other} property, which cannot be set from a plain value"));
        }
    })
}

/// `properties` maps property names (the data source's, read through the `property` kind) to
/// plain values; `content` is plain text, paragraphs separated by blank lines. Computes
/// `handler.properties` and, with content, `handler.children` (paragraph blocks).
pub(super) async fn create_page(
    services: &Services,
    conn: &Caller<'_>,
    provider: &Arc<Provider>,
    input: &Value,
    resolved: &BTreeMap<String, Item>,
) -> Result<Map<String, Value>, RunError> {
    let Some(database) = resolved.get("database") else {
        return Err(ServiceError::Internal("create_page needs its database resolved".into()).into());
    };
    let kind = services.kind_of(provider, &conn.gate.auth_mode, "property")?;
    let parents = BTreeMap::from([("database".to_owned(), database.id.clone())]);
    let schema = services.fetch_listed(conn, kind, &parents, None, None, kind.max_limit).await?.items();
    let given = input.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    let whose = format!("database {:?}", database.name);
    let (properties, mut problems) =
        map_by_name(&given, &schema, "/input/properties", "property", &whose, property_value);
    let mut computed = Map::new();
    if let Some(content) = input.get("content").and_then(Value::as_str) {
        let blocks: Vec<Value> = content
            .replace("\r\n", "\n")
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| json!({"object": "block", "type": "paragraph", "paragraph": {"rich_text": rich_text(p)}}))
            .collect();
        if blocks.len() > BLOCK_LIMIT {
            problems.push(InputProblem {
                path: "/input/content".into(),
                message: format!(
                    "content has {} paragraphs; a page is created with at most {BLOCK_LIMIT}",
                    blocks.len()
                ),
                candidates: None,
            });
        } else if !blocks.is_empty() {
            computed.insert("children".into(), Value::Array(blocks));
        }
    }
    if !problems.is_empty() {
        return Err(invalid_input("create_page", problems).into());
    }
    computed.insert("properties".into(), Value::Object(properties));
    Ok(computed)
}
