use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
}

#[derive(Serialize, ToSchema)]
struct Health {
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
struct Ready {
    status: &'static str,
    database: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = Ready),
    (status = 503, body = crate::http::error::ErrorBody),
))]
async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Ready>> {
    let store = &state.services.store;
    let unavailable = |m: String| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m);
    store.ping().await.map_err(|e| unavailable(format!("the database does not answer: {e}")))?;
    let current = store.migrations_current().await.map_err(|e| unavailable(format!("cannot read migrations: {e}")))?;
    if !current {
        return Err(unavailable("the database is missing migrations; run `switchboard migrate`".into()));
    }
    Ok(Json(Ready { status: "ready", database: store.backend().name() }))
}

/// Prometheus text: requests and latencies per route and status, and each capability's own figures.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.services.settings.metrics_public {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(switchboard_core::request::bearer_token)
            .unwrap_or_default();
        match state.services.authenticate(token).await {
            Ok(p) if p.require_secret_key("reading metrics").is_ok() => {}
            Ok(_) => {
                return ApiError::new(StatusCode::FORBIDDEN, "forbidden", "reading metrics needs a secret API key")
                    .into_response();
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.services.metrics.render())
        .into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "health", responses((status = 200, content_type = "application/json", body = Object)))]
async fn openapi_json(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], state.openapi_json.as_str().to_owned()).into_response()
}
