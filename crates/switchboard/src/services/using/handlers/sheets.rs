//! Google Sheets `append_row`: values by column name, through the sheet's header row.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use switchboard_core::catalog::Provider;
use switchboard_core::resources::{self as core_resources, Item};

use super::super::actions::RunError;
use super::super::resources::Caller;
use crate::services::{InputProblem, ServiceError, Services};

/// `values` maps column names (the sheet's header row, read fresh: a cached header could put a
/// value under the wrong column) to cell values. Computes `handler.range` (the sheet's A1
/// anchor, its title quoted) and `handler.row` (the cells in column order, blanks between).
pub(super) async fn append_row(
    services: &Services,
    conn: &Caller<'_>,
    provider: &Arc<Provider>,
    input: &Value,
    resolved: &BTreeMap<String, Item>,
) -> Result<Map<String, Value>, RunError> {
    let (Some(spreadsheet), Some(sheet)) = (resolved.get("spreadsheet"), resolved.get("sheet")) else {
        return Err(ServiceError::Internal("append_row needs its spreadsheet and sheet resolved".into()).into());
    };
    let column_kind = services.kind_of(provider, &conn.gate.auth_mode, "column")?;
    let parents =
        BTreeMap::from([("spreadsheet".to_owned(), spreadsheet.id.clone()), ("sheet".to_owned(), sheet.id.clone())]);
    let header = services.fetch_listed(conn, column_kind, &parents, None, None, column_kind.max_limit).await?.items();
    let values = input.get("values").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut cells: Vec<Value> = Vec::new();
    let mut problems = Vec::new();
    for (name, value) in &values {
        let wanted = core_resources::normalize(name);
        let column = header
            .iter()
            .find(|c| c.name == *name)
            .or_else(|| header.iter().find(|c| core_resources::normalize(&c.name) == wanted));
        let Some(column) = column else {
            let real: Vec<String> = header.iter().map(|c| format!("{:?}", c.name)).collect();
            problems.push(InputProblem {
                path: format!("/input/values/{}", name.replace('~', "~0").replace('/', "~1")),
                message: if real.is_empty() {
                    format!("sheet {:?} has no header row, so there is no column {name:?}; write the column names in row 1 first", sheet.name)
                } else {
                    format!("sheet {:?} has no column {name:?}; its columns are {}", sheet.name, real.join(", "))
                },
                candidates: Some(
                    core_resources::suggestions(&header, &wanted, 5)
                        .iter()
                        .map(|c| serde_json::json!({"id": c.id, "name": c.name}))
                        .collect(),
                ),
            });
            continue;
        };
        let position = column.fields.get("position").and_then(Value::as_u64).unwrap_or(0) as usize;
        if cells.len() <= position {
            cells.resize(position + 1, Value::String(String::new()));
        }
        cells[position] = value.clone();
    }
    if !problems.is_empty() {
        return Err(super::super::actions::invalid_input("append_row", problems).into());
    }
    let title = sheet.name.replace('\'', "''");
    Ok(Map::from_iter([
        ("range".to_owned(), Value::String(format!("'{title}'!A1"))),
        ("row".to_owned(), Value::Array(cells)),
    ]))
}
