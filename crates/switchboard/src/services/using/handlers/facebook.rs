//! Facebook Page actions: a Page is acted for with its own Page access token, which the
//! connection's user token fetches fresh (`GET /{page-id}?fields=access_token`); the token never
//! leaves this run — it is not stored, logged or answered.

use serde_json::{Map, Value};
use switchboard_core::catalog::{Action, RequestSpec};

use super::super::actions::{RunError, Values};
use super::super::resources::Caller;
use crate::services::{ServiceError, Services};

/// Computes `handler.page_token` for the Page `input.page` resolved to.
pub(super) async fn page_token(
    services: &Services,
    conn: &Caller<'_>,
    action: &Action,
    values: &Values<'_>,
    provider_status: &mut Option<u16>,
) -> Result<Map<String, Value>, RunError> {
    if !values.resolved.contains_key("page") {
        return Err(ServiceError::Internal("a Page action needs its page resolved".into()).into());
    }
    // https://developers.facebook.com/docs/pages-api/getting-started#page-access-tokens
    let spec = RequestSpec {
        path: Some("/{resolved.page.id}".into()),
        query: [("fields".to_owned(), "access_token".to_owned())].into_iter().collect(),
        ..RequestSpec::default()
    };
    let lookup = Action { retry_safe: true, ..action.clone() };
    let rec = services.record_of(conn).await?;
    let doc = services.call_action(rec, &lookup, &spec, values, provider_status).await?;
    let token = doc.get("access_token").and_then(Value::as_str).ok_or_else(|| {
        ServiceError::InsufficientScope {
            message: "Facebook gave no access token for this Page: the user must have a task on it and grant the Page permissions the action names".into(),
            scopes: action.scopes.clone(),
        }
    })?;
    Ok(Map::from_iter([("page_token".to_owned(), Value::String(token.to_owned()))]))
}
