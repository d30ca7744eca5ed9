//! The HTTP layer: routing, authentication extractors, DTOs and the error
//! table. Handlers are thin — extract, call one service, map the answer — and
//! every route is registered together with its OpenAPI description.

mod consoles;
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

/// Refusals every operation of a kind can answer, documented once here rather than on each route:
/// a bearer-authenticated one can be unauthenticated (401), forbidden (403) or over its rate (429);
/// one with input can get 400; one with a body 413 and 415; every one that reads the database 503.
fn document_refusals(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, Schema};
    let error = |what: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build(),
        )
    };
    for (path, item) in &mut doc.paths.paths {
        let public = matches!(path.as_str(), "/healthz" | "/metrics" | "/openapi.json");
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
            &mut item.head,
            &mut item.options,
        ]
        .into_iter()
        .flatten()
        {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let has_input = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let has_body = op.request_body.is_some();
            let mut refusals = Vec::new();
            if secured {
                refusals.push(("401", "no bearer token, or one that is unknown, revoked or expired"));
                refusals.push(("403", "the token may not do this (a session acting beyond its user or role)"));
                refusals.push((
                    "429",
                    "the key's or session's rate is spent (SWITCHBOARD_RATE_LIMIT_*); Retry-After and RateLimit say when to come back",
                ));
            }
            if has_input || has_body {
                refusals.push(("400", "a parameter or the body is wrong; the message and `field` name it"));
            }
            if has_body {
                refusals.push(("413", "the body is larger than SWITCHBOARD_MAX_BODY_BYTES"));
                refusals.push(("415", "the body is not sent as the content type this operation takes"));
            }
            if !public {
                refusals.push(("503", "the database is unavailable (down, full, read-only); try again shortly"));
            }
            for (code, what) in refusals {
                op.responses.responses.entry(code.to_owned()).or_insert_with(|| error(what));
            }
            for param in op.parameters.iter_mut().flatten() {
                if let RefOr::T(param) = param {
                    match param.name.as_str() {
                        "limit" => set_limit_range(param, path),
                        "org" | "user" => {
                            if let Some(RefOr::T(Schema::Object(o))) = param.schema.as_mut() {
                                o.pattern = Some(switchboard_core::ids::NAME_PATTERN.to_owned());
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    // Bodies: the org and user fields, and an integration's id, follow the same rules.
    if let Some(components) = doc.components.as_mut() {
        for (name, schema) in &mut components.schemas {
            let RefOr::T(Schema::Object(o)) = schema else { continue };
            for (field, prop) in &mut o.properties {
                let pattern = match (name.as_str(), field.as_str()) {
                    (_, "org" | "user") => switchboard_core::ids::NAME_PATTERN,
                    ("CreateIntegration", "id") | (_, "integration") => switchboard_core::ids::INTEGRATION_ID_PATTERN,
                    _ => continue,
                };
                if let RefOr::T(Schema::Object(p)) = prop {
                    p.pattern = Some(pattern.to_owned());
                }
            }
        }
    }
}

/// The ranges the server enforces for `limit`: 1 to 500 for lists, 1 to the listing maximum
/// (SWITCHBOARD_LISTING_MAX_LIMIT, 100 by default) for resource listings, 1 to 50 for context names.
fn set_limit_range(param: &mut utoipa::openapi::path::Parameter, path: &str) {
    use utoipa::openapi::{RefOr, Schema};
    let max: usize = if path.contains("/resources/") {
        100
    } else if path == "/v1/context" {
        50
    } else {
        500
    };
    if let Some(RefOr::T(Schema::Object(o))) = param.schema.as_mut() {
        o.minimum = Some(1usize.into());
        o.maximum = Some(max.into());
    }
}

/// The document with axum's catch-all spelling (`{*path}`) written the OpenAPI way (`{path}`).
fn public_paths(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    document_refusals(&mut doc);
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
