//! `GET /`: what this server is, with links to the consoles and the API reference.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::view::Base;
use super::{Framing, Messages, nonce, respond};
use crate::http::AppState;

#[derive(Template)]
#[template(path = "start.html")]
struct StartPage {
    base: Base,
    heading: String,
    version: &'static str,
    providers: usize,
}

pub(super) async fn start_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let t = Messages::negotiate(None, headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let product = state.services.settings.ui.product_name.clone();
    let n = nonce();
    let page = StartPage {
        heading: t.fmt("start.title", &[("product", &product)]),
        base: Base::new(&state, t, product, n.clone(), String::new()),
        version: env!("CARGO_PKG_VERSION"),
        providers: state.services.catalog.iter().count(),
    };
    respond(&state, &page, StatusCode::OK, &n, Framing::Nobody)
}
