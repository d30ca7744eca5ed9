//! The HTTP layer: routing, authentication extractors, DTOs and the error
//! table. Handlers are thin — extract, call one service, map the answer — and
//! every route is registered together with its OpenAPI description.

mod consoles;
mod contract;
pub mod error;
pub mod extract;
pub mod limits;
mod mcp;
mod middleware;
mod openapi;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, StatusCode};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::services::Services;
use error::ApiError;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub services: Arc<Services>,
    pub openapi_json: Arc<String>,
    pub limits: Arc<limits::RateLimits>,
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The API's routes with their OpenAPI description, before state and layers.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(routes::health::router())
        .merge(routes::providers::router())
        .merge(routes::sessions::router())
        .merge(routes::integrations::router())
        .merge(routes::oauth::router())
        .merge(routes::connections::router())
        .merge(routes::resources::router())
        .merge(routes::actions::router())
        .merge(routes::proxy::router())
        .merge(routes::ai::router())
        .merge(routes::webhooks::router())
        .merge(routes::audit::router())
}

/// The OpenAPI document of every route, as served at `/openapi.json`.
#[must_use]
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, doc) = api().split_for_parts();
    public_paths(doc)
}

/// The document with axum's catch-all spelling (`{*path}`) written the OpenAPI way (`{path}`), and
/// what [`contract`] adds.
fn public_paths(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    if let Some(mut item) = doc.paths.paths.remove(routes::proxy::ROUTE) {
        // One handler serves every method; each operation still needs its own id.
        for (method, op) in [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
            ("head", &mut item.head),
            ("options", &mut item.options),
        ] {
            if let Some(op) = op {
                op.operation_id = Some(format!("proxy_{method}"));
            }
        }
        doc.paths.paths.insert(routes::proxy::documented_path(), item);
    }
    contract::document_refusals(&mut doc);
    contract::document_constraints(&mut doc);
    contract::document_links(&mut doc);
    contract::document_either_shapes(&mut doc);
    contract::document_proxy(&mut doc, &routes::proxy::documented_path());
    doc
}

/// The complete application router.
pub fn router(services: Services) -> Router {
    let (routes, doc) = api().split_for_parts();
    let doc = public_paths(doc);
    let openapi_json = Arc::new(doc.to_pretty_json().unwrap_or_else(|_| "{}".into()));
    let max_body = services.settings.max_body_bytes;
    let limits = Arc::new(limits::RateLimits::new(&services.settings.limits));
    let state = AppState { services: Arc::new(services), openapi_json, limits };
    routes
        .merge(consoles::router())
        .route("/mcp", mcp::route(&state.services))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::connect_link_cors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::observe))
        .layer(axum::middleware::from_fn_with_state(max_body, middleware::limit_declared_body))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(SetSensitiveRequestHeadersLayer::new([axum::http::header::AUTHORIZATION, axum::http::header::COOKIE]))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .with_state(state)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("there is no route {method} {}; /openapi.json lists them", uri.path()))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not accept {method}; /openapi.json lists the methods it does", uri.path()),
    )
}
