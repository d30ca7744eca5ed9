//! Actions written in code, where catalog data cannot say what to send. Each is named in the
//! catalog (`handler = "…"`), documented in providers/FORMAT.md, and most end in the action's own
//! catalog `request`, whose templates may use the `{handler.…}` values the handler computes (one,
//! SMTP, does the whole action). One module per provider family.

mod airtable;
mod by_name;
mod drive;
mod email;
mod facebook;
mod notion;
mod sheets;
mod telegram;

use std::sync::Arc;

use email::Email;
use serde_json::{Map, Value};
use switchboard_core::catalog::{Action, ActionHandler, Provider};

use super::actions::{RunError, Values, read_output};
use super::resources::Caller;
use crate::services::{ServiceError, Services};

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
    let mut raw_body = None;
    let computed = match handler {
        ActionHandler::SheetsAppendRow => {
            sheets::append_row(services, conn, provider, values.input, values.resolved).await?
        }
        ActionHandler::AirtableCreateRecord => {
            airtable::create_record(services, conn, provider, values.input, values.resolved).await?
        }
        ActionHandler::NotionCreatePage => {
            notion::create_page(services, conn, provider, values.input, values.resolved).await?
        }
        ActionHandler::SmtpSendEmail => return email::smtp_send_email(services, conn, values.input).await,
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
        ActionHandler::DriveMultipartUpload => {
            let (computed, body) = drive::multipart_upload(values.input, values.resolved)?;
            raw_body = Some(body);
            computed
        }
        ActionHandler::TelegramUpload => {
            let photo = action.request.as_ref().and_then(|r| r.path.as_deref()) == Some("/sendPhoto");
            let (field, label) = if photo { ("photo", "send_photo") } else { ("document", "send_document") };
            raw_body = telegram::upload(label, field, values.input)?;
            Map::new()
        }
        ActionHandler::FacebookPageToken => {
            facebook::page_token(services, conn, action, values, provider_status).await?
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
    let values = Values { computed: &computed, body: raw_body.as_ref(), ..*values };
    let doc = services.call_action(rec, action, spec, &values, provider_status).await?;
    let mut output = read_output(action, &doc);
    // Mail APIs accept with an empty 202: say what was accepted.
    if let (Some(to), Value::Object(out)) = (email_recipients, &mut output) {
        out.insert("sent".into(), Value::Bool(true));
        out.insert("to".into(), to.into_iter().map(Value::String).collect());
    }
    Ok(output)
}
