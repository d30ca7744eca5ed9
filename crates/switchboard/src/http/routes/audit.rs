use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchboard_core::time::Timestamp;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::{ApiQuery, Auth};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Only this org's entries (sessions always see only their own org).
    org: Option<String>,
    /// Only entries about this connection.
    connection: Option<String>,
    /// Only entries about this target id (integration, key, connection…).
    target: Option<String>,
    /// Only this action, e.g. `integration.create`.
    action: Option<String>,
    /// Page size, 1–500 (default 100).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct AuditEntryDto {
    id: String,
    at: String,
    org: Option<String>,
    actor: String,
    action: String,
    target_kind: String,
    target_id: String,
    outcome: String,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
struct AuditPage {
    items: Vec<AuditEntryDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// The audit log, newest first. Secret keys and org admins.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_audit(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let org = super::org_filter(q.org.as_deref())?;
    let page = super::page(q.limit, q.cursor)?;
    let limit = page.limit;
    let target = q.connection.or(q.target);
    let items = state.services.list_audit(&actor, org.as_ref(), target, q.action, page).await?;
    let next_cursor = super::next_cursor(&items, limit, |i| i.id.clone());
    let items = items
        .into_iter()
        .map(|r| AuditEntryDto {
            at: Timestamp::from_millis(r.at).to_rfc3339(),
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
            id: r.id,
            org: r.org,
            actor: r.actor,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            outcome: r.outcome,
        })
        .collect();
    Ok(Json(AuditPage { items, next_cursor }))
}
