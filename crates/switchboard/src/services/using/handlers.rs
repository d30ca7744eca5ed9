//! Actions written in code, where catalog data cannot say what to send. Each is named in the
//! catalog (`handler = "…"`), documented in providers/FORMAT.md, and ends in the action's own
//! catalog `request`, whose templates may use the `{handler.…}` values the handler computes.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use switchboard_core::catalog::{Action, ActionHandler, Provider};
use switchboard_core::resources::{self as core_resources, Item};

use super::actions::{RunError, Values, read_output};
use super::email::Email;
use super::resources::Caller;
use crate::services::{InputProblem, ServiceError, Services};

/// Runs the named handler; `input` has its resource-bound values resolved to ids already.
pub(super) async fn run(
    services: &Services,
    handler: ActionHandler,
    conn: &Caller<'_>,
    provider: &Arc<Provider>,
    action: &Action,
    values: &Values<'_>,
    provider_status: &mut Option<u16>,
) -> Result<Value, RunError> {
    let action_name = action.name.as_deref().unwrap_or("send_email");
    let mut email_recipients = None;
    let computed = match handler {
        ActionHandler::SheetsAppendRow => {
            sheets_append_row(services, conn, provider, values.input, values.resolved).await?
        }
        ActionHandler::SmtpSendEmail => return smtp_send_email(services, conn, values.input).await,
        ActionHandler::SendgridMail => {
            let email = Email::parse(action_name, values.input)?;
            let from = email.from.clone().ok_or_else(|| {
                ServiceError::invalid("input.from", "SendGrid needs `from`: an address of a verified sender")
            })?;
            email_recipients = Some(email.recipients());
            Map::from_iter([("body".to_owned(), email.sendgrid_body(&from))])
        }
        ActionHandler::GmailRaw => {
            use base64::Engine as _;
            let email = Email::parse(action_name, values.input)?;
            // From the mailbox itself unless the input names another of its addresses (an alias).
            let rec = services.record_of(conn).await?;
            let from = match (&email.from, &rec.account_email) {
                (Some(f), _) => f.clone(),
                (None, Some(e)) => e.parse().map_err(|_| ServiceError::Internal("the connection's email".into()))?,
                (None, None) => {
                    return Err(ServiceError::invalid(
                        "input.from",
                        "give `from`: this connection has no email address",
                    )
                    .into());
                }
            };
            let mime = email.mime(from)?.formatted();
            email_recipients = Some(email.recipients());
            Map::from_iter([("raw".to_owned(), Value::String(base64::engine::general_purpose::URL_SAFE.encode(mime)))])
        }
        ActionHandler::GraphMail => {
            let email = Email::parse(action_name, values.input)?;
            email_recipients = Some(email.recipients());
            Map::from_iter([("message".to_owned(), email.graph_message())])
        }
    };
    let spec = action
        .request
        .as_ref()
        .ok_or_else(|| ServiceError::Internal(format!("{}: handler without its request", provider.id)))?;
    let rec = services.record_of(conn).await?;
    let values = Values { computed: &computed, ..*values };
    let doc = services.call_action(rec, action, spec, &values, provider_status).await?;
    let mut output = read_output(action, &doc);
    // Mail APIs accept with an empty 202: say what was accepted.
    if let (Some(to), Value::Object(out)) = (email_recipients, &mut output) {
        out.insert("sent".into(), Value::Bool(true));
        out.insert("to".into(), to.into_iter().map(Value::String).collect());
    }
    Ok(output)
}

/// Sends the email through the connection's own SMTP server (its settings, checked address and
/// TLS as the connection test uses them), from `input.from` or the connection's `from`.
async fn smtp_send_email(services: &Services, conn: &Caller<'_>, input: &Value) -> Result<Value, RunError> {
    let email = Email::parse("send_email", input)?;
    let rec = services.record_of(conn).await?;
    let fields = services.open_fields(&rec).await?;
    let from = match (&email.from, fields.get("from")) {
        (Some(f), _) => f.clone(),
        (None, Some(f)) => f.parse().map_err(|_| {
            ServiceError::invalid("input.from", "the connection's from address does not parse; give `from`")
        })?,
        (None, None) => {
            return Err(ServiceError::invalid("input.from", "give `from`: this connection has no from address").into());
        }
    };
    let message = email.mime(from)?;
    let reply =
        crate::services::credentials::smtp::send(&fields, &services.settings, &services.outbound, &message).await?;
    Ok(serde_json::json!({"sent": true, "to": email.recipients(), "reply": reply}))
}

/// `values` maps column names (the sheet's header row, read fresh: a cached header could put a
/// value under the wrong column) to cell values. Computes `handler.range` (the sheet's A1
/// anchor, its title quoted) and `handler.row` (the cells in column order, blanks between).
async fn sheets_append_row(
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
        return Err(super::actions::invalid_input("append_row", problems).into());
    }
    let title = sheet.name.replace('\'', "''");
    Ok(Map::from_iter([
        ("range".to_owned(), Value::String(format!("'{title}'!A1"))),
        ("row".to_owned(), Value::Array(cells)),
    ]))
}
