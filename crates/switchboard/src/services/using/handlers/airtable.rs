//! Airtable `create_record`: cell values by field name, typed against the table's fields
//! (https://airtable.com/developers/web/api/create-records, field-model).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use switchboard_core::catalog::Provider;
use switchboard_core::resources::Item;

use super::super::actions::{RunError, invalid_input};
use super::super::resources::Caller;
use super::by_name::{choice, map_by_name};
use crate::services::{ServiceError, Services};

/// Field types whose cells are computed (field-model: "read only"), never written.
const READ_ONLY: &[&str] = &[
    "aiText",
    "autoNumber",
    "button",
    "count",
    "createdBy",
    "createdTime",
    "externalSyncSource",
    "formula",
    "lastModifiedBy",
    "lastModifiedTime",
    "lookup",
    "multipleLookupValues",
    "rollup",
];

/// The cell value to write for a field of type `kind`, or why `value` cannot be one. Types not
/// named here (attachments, collaborators, barcodes, types Airtable adds) go as given.
fn cell(kind: &str, field: &Item, value: &Value) -> Result<Value, String> {
    let want = |what: &str| format!("field {:?} is a {kind} field: give {what}", field.name);
    if READ_ONLY.contains(&kind) {
        return Err(format!("field {:?} is a {kind} field, computed by Airtable: it cannot be written", field.name));
    }
    match kind {
        "singleLineText" | "multilineText" | "richText" | "email" | "url" | "phoneNumber" | "date" | "dateTime" => {
            value.as_str().map(|_| value.clone()).ok_or_else(|| want("a string"))
        }
        "singleSelect" => {
            let s = value.as_str().ok_or_else(|| want("the name of one of its options, a string"))?;
            choice(field.fields.get("choices"), s)
                .map(Value::String)
                .map_err(|e| format!("field {:?}: {e}", field.name))
        }
        "number" | "currency" | "percent" | "rating" | "duration" => {
            value.as_f64().map(|_| value.clone()).ok_or_else(|| want("a number"))
        }
        "checkbox" => value.as_bool().map(Value::Bool).ok_or_else(|| want("true or false")),
        "multipleSelects" => {
            let items = value.as_array().ok_or_else(|| want("a list of option names"))?;
            let mut out = Vec::new();
            for v in items {
                let s = v.as_str().ok_or_else(|| want("a list of option names (strings)"))?;
                out.push(Value::String(
                    choice(field.fields.get("choices"), s).map_err(|e| format!("field {:?}: {e}", field.name))?,
                ));
            }
            Ok(Value::Array(out))
        }
        "multipleRecordLinks" => match value.as_array() {
            Some(ids) if ids.iter().all(Value::is_string) => Ok(value.clone()),
            _ => Err(want("a list of record ids (strings, recXXXXXXXXXXXXXX)")),
        },
        _ => Ok(value.clone()),
    }
}

/// `fields` maps field names (the table's, read through the `field` kind) to cell values.
/// Computes `handler.fields`: the cells keyed by the fields' real names.
pub(super) async fn create_record(
    services: &Services,
    conn: &Caller<'_>,
    provider: &Arc<Provider>,
    input: &Value,
    resolved: &BTreeMap<String, Item>,
) -> Result<Map<String, Value>, RunError> {
    let (Some(base), Some(table)) = (resolved.get("base"), resolved.get("table")) else {
        return Err(ServiceError::Internal("create_record needs its base and table resolved".into()).into());
    };
    let kind = services.kind_of(provider, &conn.gate.auth_mode, "field")?;
    let parents = BTreeMap::from([("base".to_owned(), base.id.clone()), ("table".to_owned(), table.id.clone())]);
    let fields = services.fetch_listed(conn, kind, &parents, None, None, kind.max_limit).await?.items();
    let given = input.get("fields").and_then(Value::as_object).cloned().unwrap_or_default();
    let whose = format!("table {:?}", table.name);
    let (cells, problems) = map_by_name(&given, &fields, "/input/fields", "field", &whose, cell);
    if !problems.is_empty() {
        return Err(invalid_input("create_record", problems).into());
    }
    Ok(Map::from_iter([("fields".to_owned(), Value::Object(cells))]))
}
