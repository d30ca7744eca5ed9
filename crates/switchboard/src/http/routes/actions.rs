use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, Auth};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_actions)).routes(routes!(run_action))
}

/// Set on an answer that is the stored result of an earlier run with the same Idempotency-Key.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

#[derive(Serialize, ToSchema)]
struct ActionDto {
    /// verb_noun, e.g. `post_message`.
    name: String,
    title: String,
    /// What it does and what its inputs mean, written for people and for AI models.
    description: String,
    /// JSON Schema 2020-12 of `input`; an input bound to a resource kind carries `x-resource`
    /// (it takes an id, the provider's URL of the item, or its name).
    #[schema(value_type = Object)]
    input_schema: Value,
    /// JSON Schema of `output`, where the provider's answer is stable.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    output_schema: Option<Value>,
    /// Whether running it twice does no more than running it once.
    retry_safe: bool,
    /// Scopes the connection lacks for this action; any one of them would do. Empty when it has one.
    missing_scopes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
struct ActionsDto {
    actions: Vec<ActionDto>,
}

/// The actions this connection can run.
#[utoipa::path(get, path = "/v1/connections/{id}/actions", tag = "actions", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ActionsDto), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_actions(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ActionsDto>> {
    let actions = state.services.list_actions(&actor, &id).await?;
    Ok(Json(ActionsDto {
        actions: actions
            .into_iter()
            .map(|a| ActionDto {
                name: a.name,
                title: a.title,
                description: a.description,
                input_schema: a.input_schema,
                output_schema: a.output_schema,
                retry_safe: a.retry_safe,
                missing_scopes: a.missing_scopes,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RunBody {
    /// The action's input, as its `input_schema` describes.
    #[serde(default)]
    #[schema(value_type = Object)]
    input: Map<String, Value>,
}

#[derive(Serialize, ToSchema)]
struct RunDto {
    #[schema(value_type = Object)]
    output: Value,
}

/// Runs an action. Input errors are a 400 with every problem in `error.details`, each at its JSON
/// pointer. With an `Idempotency-Key` header, a repeat with the same input answers the first
/// run's output (header `Idempotent-Replayed: true`) without running again; with another input
/// it is a 409.
#[utoipa::path(post, path = "/v1/connections/{id}/actions/{action}", tag = "actions",
    params(("id" = String, Path), ("action" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 printable characters; repeats within SWITCHBOARD_IDEMPOTENCY_RETENTION_H answer the first result")),
    request_body = RunBody, security(("bearer" = [])),
    responses((status = 200, body = RunDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn run_action(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath((id, action)): ApiPath<(String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RunBody>,
) -> ApiResult<Response> {
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(v.to_str().map_err(|_| ApiError {
            field: Some("Idempotency-Key".into()),
            ..ApiError::bad_request("the Idempotency-Key header must be printable ASCII")
        })?),
        None => None,
    };
    let run = state.services.run_action(&actor, &id, &action, body.input, key).await?;
    let mut res = Json(RunDto { output: run.output }).into_response();
    if run.replayed {
        res.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(res)
}
