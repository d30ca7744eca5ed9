//! Cross-cutting request handling: metrics and access logs, body limits, panics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::metrics::HttpLabels;

/// Records the request in `/metrics` and the log: method, route template,
/// status, latency. Never the raw path or query (they can carry ids and codes).
pub(super) async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status();
    state.services.metrics.observe_http(
        HttpLabels { method: method.to_string(), route: route.clone(), status: status.as_u16().to_string() },
        elapsed.as_secs_f64(),
    );
    tracing::info!(
        target: "switchboard::http",
        %method,
        route,
        status = status.as_u16(),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        request_id,
        "request"
    );
    response
}

/// Refuses a declared body over the limit before reading it. Bodies without a
/// length are cut off by `DefaultBodyLimit` in the JSON extractor. The proxy streams
/// bodies and has limits of its own (SWITCHBOARD_PROXY_MAX_REQUEST_MB).
pub(super) async fn limit_declared_body(State(limit): State<usize>, req: Request, next: Next) -> Response {
    if req.extensions().get::<MatchedPath>().is_some_and(|m| m.as_str() == super::routes::proxy::ROUTE) {
        return next.run(req).await;
    }
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::too_large(limit).into_response();
    }
    next.run(req).await
}

pub(super) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "something went wrong on our side; it has been logged",
    )
    .into_response()
}
