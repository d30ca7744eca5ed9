//! The consoles, served by the binary: the start page `/`, the end user's integrations page `/ui`
//! (entered through a session's single-use `connect_url`) and the pages' assets. Pages are rendered
//! on the server from askama templates (`templates/`) with texts from `messages/`; the one script
//! (`assets/ui.js`) calls the same `/v1` API as any client, authenticated by the page's cookie and its
//! CSRF token. Every page has a nonce CSP and asks for nothing outside this server.

mod admin;
mod assets;
mod docs;
mod i18n;
mod start;
mod user;
mod view;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use i18n::Messages;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(start::start_page))
        .route("/docs", get(docs::docs_page))
        .route("/docs/assets/{file}", get(docs::docs_asset))
        .route("/ui", get(user::marketplace))
        .route("/ui/connect/{link}", get(user::enter))
        .route("/ui/p/{provider}", get(user::provider_page))
        .route("/ui/oauth/done", get(user::oauth_done))
        .route("/ui/admin", get(admin::console))
        .route("/ui/admin/sign-in", axum::routing::post(admin::sign_in))
        .route("/ui/admin/sign-out", axum::routing::post(admin::sign_out))
        .route("/ui/admin/live", get(admin::live))
        .route("/ui/brand.css", get(assets::brand_css))
        .route("/ui/assets/{file}", get(assets::asset))
}

/// Who may frame a page, and who may open it.
#[derive(Clone, Copy)]
enum Framing {
    /// The start page and the operator console: never framed, isolated from their opener
    /// (`Cross-Origin-Opener-Policy: same-origin`).
    Nobody,
    /// The integrations page: framed by this server and the operator's `ui_frame_ancestors`, and
    /// opened by host apps as a popup — it keeps its opener (no COOP) so it can tell the host.
    AllowedParents,
    /// A page only ever opened as a popup by this server's own page (the end of an OAuth flow).
    OwnPopup,
}

/// A fresh CSP nonce.
fn nonce() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(switchboard_core::random::bytes::<16>())
}

/// An HTML page with the headers every console page carries.
fn html_page(state: &AppState, status: StatusCode, html: String, nonce: &str, framing: Framing) -> Response {
    let ui = &state.services.settings.ui;
    let ancestors = match framing {
        Framing::AllowedParents if !ui.frame_ancestors.is_empty() => format!("'self' {}", ui.frame_ancestors.join(" ")),
        Framing::AllowedParents => "'self'".to_owned(),
        Framing::Nobody | Framing::OwnPopup => "'none'".to_owned(),
    };
    // An operator's https logo is the one image allowed from elsewhere.
    let logo_origin = ui
        .logo_url
        .as_deref()
        .filter(|l| l.starts_with("https://"))
        .and_then(|l| url::Url::parse(l).ok())
        .map(|u| format!(" {}", u.origin().ascii_serialization()))
        .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:{logo_origin}; \
         font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    );
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    secure_headers(h);
    if matches!(framing, Framing::Nobody) {
        h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    }
    res
}

fn secure_headers(h: &mut HeaderMap) {
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"));
}

/// A template rendered as a page; a rendering failure is ours: logged, answered with a plain 500.
fn respond<T: askama::Template>(
    state: &AppState,
    page: &T,
    status: StatusCode,
    nonce: &str,
    framing: Framing,
) -> Response {
    match page.render() {
        Ok(html) => html_page(state, status, html, nonce, framing),
        Err(e) => {
            tracing::error!(error = %e, "a console template did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}
