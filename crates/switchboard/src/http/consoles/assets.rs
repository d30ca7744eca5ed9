//! The pages' files, compiled into the binary: one stylesheet, one script, an icon, and the brand
//! stylesheet made from the operator's accent colour. Their URLs carry a version (a digest of the
//! files), so browsers may keep them for a year.

use std::sync::LazyLock;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};
use switchboard_core::colour::{AA_TEXT, Rgb, readable_on, text_on};

use crate::http::AppState;

/// Name, media type, body.
const FILES: &[(&str, &str, &str)] = &[
    ("ui.css", "text/css; charset=utf-8", include_str!("assets/ui.css")),
    ("ui.js", "text/javascript; charset=utf-8", include_str!("assets/ui.js")),
    ("icon.svg", "image/svg+xml", include_str!("assets/icon.svg")),
    ("docs.js", "text/javascript; charset=utf-8", include_str!("assets/docs.js")),
    ("docs.css", "text/css; charset=utf-8", include_str!("assets/docs.css")),
];

/// A digest of every file: changes whenever one does.
pub(crate) static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    for (name, _, body) in FILES {
        h.update(name.as_bytes());
        h.update(body.as_bytes());
    }
    hex::encode(&h.finalize()[..6])
});

/// The light and dark themes' backgrounds, which links in the accent colour must stand out from.
pub(crate) const LIGHT_BACKGROUND: Rgb = Rgb(0xff, 0xff, 0xff);
pub(crate) const DARK_BACKGROUND: Rgb = Rgb(0x12, 0x14, 0x18);

pub(super) async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, mime, body)) = FILES.iter().find(|(n, _, _)| *n == file) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mut res = (*body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

/// The accent colour and the colours drawn on or beside it, for both themes, each kept at WCAG AA.
pub(super) async fn brand_css(State(state): State<AppState>) -> Response {
    let accent = state.services.settings.ui.accent;
    let css = format!(
        ":root{{--accent:{a};--on-accent:{oa};--accent-text:{lt};}}\n\
         @media (prefers-color-scheme: dark){{:root{{--accent:{da};--on-accent:{doa};--accent-text:{dt};}}}}\n",
        a = accent.hex(),
        oa = text_on(accent).hex(),
        lt = readable_on(accent, LIGHT_BACKGROUND, AA_TEXT).hex(),
        // Dark buttons use the accent made readable on the dark background, so they stand out from it.
        da = readable_on(accent, DARK_BACKGROUND, 3.0).hex(),
        doa = text_on(readable_on(accent, DARK_BACKGROUND, 3.0)).hex(),
        dt = readable_on(accent, DARK_BACKGROUND, AA_TEXT).hex(),
    );
    let mut res = css.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}
