//! `GET /docs`: the API reference, rendered from `/openapi.json` in the browser by Swagger UI, whose
//! pinned bundle comes from the `utoipa-swagger-ui` crate (vendored: compiled into the binary, never
//! fetched). Our own page and initializer load it, so the page keeps the consoles' nonce CSP and
//! asks for nothing outside this server.

use std::sync::{Arc, LazyLock};

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::view::Base;
use super::{Framing, Messages, nonce, respond};
use crate::http::AppState;

/// The Swagger UI files the page uses; nothing else of the bundle is served.
const SERVED: &[&str] = &["swagger-ui-bundle.js", "swagger-ui.css"];

static CONFIG: LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> =
    LazyLock::new(|| Arc::new(utoipa_swagger_ui::Config::from("/openapi.json")));

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage {
    base: Base,
}

pub(super) async fn docs_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let t = Messages::negotiate(None, headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let n = nonce();
    let page = DocsPage { base: Base::new(&state, t, t.get("start.docs"), n.clone(), String::new()) };
    respond(&state, &page, StatusCode::OK, &n, Framing::Nobody)
}

pub(super) async fn docs_asset(Path(file): Path<String>) -> Response {
    if !SERVED.contains(&file.as_str()) {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    }
    match utoipa_swagger_ui::serve(&file, CONFIG.clone()) {
        Ok(Some(f)) => {
            let mut res = f.bytes.into_owned().into_response();
            let h = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&f.content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            if f.gzpipped {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            res
        }
        Ok(None) => (StatusCode::NOT_FOUND, "no such file").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a Swagger UI file could not be served");
            (StatusCode::INTERNAL_SERVER_ERROR, "the file could not be served").into_response()
        }
    }
}
