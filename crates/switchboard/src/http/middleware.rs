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

/// Lets the browser SDK on a host app's page (an origin of `SWITCHBOARD_UI_FRAME_ANCESTORS`) ask for a
/// connect link with its session token: CORS for `POST /v1/connect-links` only, never with
/// credentials (the token is the credential), and for no other origin or route.
pub(super) async fn connect_link_cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, Method, StatusCode, header};
    if req.uri().path() != "/v1/connect-links" {
        return next.run(req).await;
    }
    let allowed = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| state.services.settings.ui.frame_ancestors.iter().any(|a| a == o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let preflight = req.method() == Method::OPTIONS;
    let mut res = if preflight {
        if allowed.is_some() { StatusCode::NO_CONTENT.into_response() } else { StatusCode::FORBIDDEN.into_response() }
    } else {
        next.run(req).await
    };
    if let Some(origin) = allowed {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        if preflight {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
    res
}
