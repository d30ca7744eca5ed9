//! For AI workflow builders: a user's connections as context for a model, and a generated workflow
//! validated against the live accounts.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery, Auth};
use crate::services::ServiceError;
use crate::services::ai::context::{ContextRequest, DEFAULT_MAX_BYTES, MAX_MAX_BYTES, MIN_MAX_BYTES};
use crate::services::ai::validate::{MAX_STEPS, StepIn};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(context)).routes(routes!(validate))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ContextQuery {
    /// The org (secret keys; a session is always its own).
    org: Option<String>,
    /// The user whose connections (secret keys; a session is always itself).
    user: Option<String>,
    /// Add, per top-level resource kind, the names of up to `limit` items.
    #[serde(default)]
    resources: bool,
    /// Item names per kind, 1–50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    limit: Option<u32>,
    /// `json` (default) or `markdown`: compact text for a prompt.
    #[param(pattern = "^(json|markdown)$")]
    format: Option<String>,
    /// The answer's size bound in bytes, 512 to 1048576 (default 65536); what does not fit is left
    /// out and named in `omitted`.
    #[param(minimum = 512, maximum = 1_048_576)]
    max_bytes: Option<usize>,
}

/// A connection as a model should know it.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
struct ContextDto(Value);

/// What one user's connections can do: provider, label, account and status; actions with their input
/// schemas (`resource_inputs` names the inputs that take a resource and its kind); resource kinds and
/// their parents; with `resources=true` item names per top-level kind. Unusable connections say why.
/// `format=markdown` answers the same as compact text (`text/markdown`).
#[utoipa::path(get, path = "/v1/context", tag = "ai", params(ContextQuery), security(("bearer" = [])),
    responses((status = 200, description = "JSON, or Markdown with format=markdown",
        content((ContextDto = "application/json"), (String = "text/markdown"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn context(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<ContextQuery>,
) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::from(ServiceError::invalid("limit", "limit must be from 1 to 50")));
    }
    let max_bytes = q.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    if !(MIN_MAX_BYTES..=MAX_MAX_BYTES).contains(&max_bytes) {
        return Err(ApiError::from(ServiceError::invalid(
            "max_bytes",
            format!("max_bytes must be from {MIN_MAX_BYTES} to {MAX_MAX_BYTES}"),
        )));
    }
    let markdown = match q.format.as_deref() {
        None | Some("json") => false,
        Some("markdown") => true,
        Some(_) => return Err(ApiError::from(ServiceError::invalid("format", "format is json or markdown"))),
    };
    let req = ContextRequest { org: q.org, user: q.user, resources: q.resources, limit, max_bytes, markdown };
    let (_, text) = state.services.context(&actor, &req).await?;
    let mut res = text.into_response();
    let media = if markdown { "text/markdown; charset=utf-8" } else { "application/json" };
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    Ok(res)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WorkflowStep {
    /// The connection the step runs as (`conn_…`).
    connection: String,
    /// The action's name, e.g. `append_row`.
    action: String,
    /// The action's input. A string holding `{{steps.N.output.PATH}}` takes a value from step N's
    /// output when the workflow runs (N from 0, an earlier step).
    #[serde(default)]
    #[schema(value_type = Object)]
    input: Map<String, Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ValidateBody {
    /// For secret keys: whose view (sessions: their own).
    org: Option<String>,
    user: Option<String>,
    /// 1 to 100 steps, in order.
    #[schema(min_items = 1, max_items = 100)]
    steps: Vec<WorkflowStep>,
}

#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
struct ValidationDto(Value);

/// Checks a workflow without running anything: per step the connection (usable, with the action's
/// scopes), the action, the input against its schema (every violation at its JSON pointer), and every
/// resource-bound input resolved against the live account (`resolved`: `{id, name}`; or the
/// candidates when ambiguous, the closest names when not found). `feedback` has one line per problem,
/// to hand back to a model as it is.
#[utoipa::path(post, path = "/v1/workflows/validate", tag = "ai", request_body = ValidateBody, security(("bearer" = [])),
    responses((status = 200, body = ValidationDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn validate(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(b): ApiJson<ValidateBody>,
) -> ApiResult<Json<Value>> {
    if b.steps.is_empty() || b.steps.len() > MAX_STEPS {
        return Err(ApiError::from(ServiceError::invalid("steps", format!("steps must hold 1 to {MAX_STEPS} steps"))));
    }
    let steps =
        b.steps.into_iter().map(|s| StepIn { connection: s.connection, action: s.action, input: s.input }).collect();
    let v = state.services.validate_workflow(&actor, b.org.as_deref(), b.user.as_deref(), steps).await?;
    Ok(Json(serde_json::to_value(v).map_err(|e| ApiError::from(ServiceError::Internal(e.to_string())))?))
}
