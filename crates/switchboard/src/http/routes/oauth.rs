use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody, ErrorDetail};
use crate::http::extract::{ApiJson, ApiPath, Auth};
use crate::services::oauth::connect::{CallbackOutcome, StartRequest};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(start)).routes(routes!(callback)).routes(routes!(handshake))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StartBody {
    /// The integration (OAuth app) to connect with.
    integration: String,
    /// Another provider sharing the integration's OAuth app (e.g. `google-drive` with a Google app).
    provider: Option<String>,
    /// The org that will own the connection (sessions: their own).
    org: Option<String>,
    /// The user connecting (sessions: themselves).
    user: Option<String>,
    label: Option<String>,
    shared: Option<bool>,
    /// Where to send the browser afterwards; must be under SWITCHBOARD_ALLOWED_REDIRECTS.
    redirect_uri: Option<String>,
    /// Scopes to ask for (default: the integration's, else the catalog's).
    scopes: Option<Vec<String>>,
    /// Values for the provider's placeholders, e.g. `{"shop": "acme"}` or `{"tenant": "contoso.com"}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    params: Map<String, Value>,
    /// Re-authorize this existing connection instead of creating one (reconnect, more scopes);
    /// the connection's owner or an admin only.
    connection: Option<String>,
    /// With `connection`: the user may sign in to another account than the connection's
    /// (otherwise a different account is refused and nothing changes).
    #[serde(default)]
    replace_account: bool,
    /// Bind the flow to the browser sending this request: the answer sets a cookie that the
    /// callback must receive. Default: on for requests a browser sends from this server's own
    /// pages (`Sec-Fetch-Site: same-origin`), off otherwise.
    bind_browser: Option<bool>,
}

#[derive(Serialize, ToSchema)]
struct Started {
    /// Send the user's browser here.
    auth_url: String,
    handshake_id: String,
    expires_at: String,
}

/// Starts an OAuth connect flow: the URL to send the user's browser to.
#[utoipa::path(post, path = "/v1/oauth/start", tag = "oauth", request_body = StartBody, security(("bearer" = [])),
    responses((status = 200, body = Started), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn start(
    State(state): State<AppState>,
    Auth(actor): Auth,
    headers: HeaderMap,
    ApiJson(b): ApiJson<StartBody>,
) -> ApiResult<Response> {
    let from_our_pages = headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"same-origin");
    let bind_browser = b.bind_browser.unwrap_or(from_our_pages);
    let started = state
        .services
        .start_oauth(
            &actor,
            StartRequest {
                integration: b.integration,
                provider: b.provider,
                org: b.org,
                user: b.user,
                label: b.label,
                shared: b.shared,
                redirect_uri: b.redirect_uri,
                scopes: b.scopes,
                params: b.params,
                connection: b.connection,
                replace_account: b.replace_account,
                bind_browser,
            },
        )
        .await?;
    let mut res = Json(Started {
        auth_url: started.auth_url.to_string(),
        handshake_id: started.handshake_id,
        expires_at: started.expires_at.to_rfc3339(),
    })
    .into_response();
    if let Some((name, value)) = &started.browser_cookie {
        use secrecy::ExposeSecret as _;
        let settings = &state.services.settings;
        let secure = if settings.public_url.scheme() == "https" { "; Secure" } else { "" };
        let cookie = format!(
            "{name}={}; Path=/oauth/callback; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            value.expose_secret(),
            settings.oauth_state_ttl.as_secs()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

/// The request's cookies by name (the first of each).
fn cookies(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for h in headers.get_all(header::COOKIE) {
        for pair in h.to_str().unwrap_or_default().split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                out.entry(k.to_owned()).or_insert_with(|| v.to_owned());
            }
        }
    }
    out
}

/// Where providers send the browser back: `?code&state` or `?error&state`. Public.
/// Completes the flow, then redirects to the caller's target with `status=success&connection_id=…`
/// or `status=error&code=…`, or shows a page that tells the opener window and closes.
#[utoipa::path(get, path = "/oauth/callback", tag = "oauth",
    params(("state" = String, Query), ("code" = Option<String>, Query), ("error" = Option<String>, Query), ("iss" = Option<String>, Query)),
    responses((status = 302, description = "to the caller's redirect target"), (status = 200, content_type = "text/html", body = String), (status = 400, content_type = "text/html", body = String)))]
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let outcome = state.services.oauth_callback(&query, &cookies(&headers)).await;
    let mut res = match outcome {
        CallbackOutcome::Redirect(target) => {
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(target.as_str()) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        CallbackOutcome::Page { ok, title, message, notify, http_status } => {
            let nonce = base64_nonce();
            let targets: Vec<String> = state
                .services
                .settings
                .allowed_redirects
                .iter()
                .filter_map(|a| url::Url::parse(a).ok())
                .map(|u| u.origin().ascii_serialization())
                .collect();
            let html = page(ok, &title, &message, notify.as_ref(), &targets, &nonce);
            let mut r = (StatusCode::from_u16(http_status).unwrap_or(StatusCode::OK), html).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            let csp = format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            );
            if let Ok(v) = HeaderValue::from_str(&csp) {
                r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
            r
        }
    };
    secure_headers(res.headers_mut());
    res
}

fn secure_headers(h: &mut HeaderMap) {
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

fn base64_nonce() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(switchboard_core::random::bytes::<16>())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A self-contained page: no third-party resource, the only script inline under the CSP nonce.
fn page(ok: bool, title: &str, message: &str, notify: Option<&Value>, targets: &[String], nonce: &str) -> String {
    let script = match notify {
        Some(n) => {
            // JSON in a script block: escape '<' so no "</script>" can close it.
            let data = n.to_string().replace('<', "\\u003c");
            // Only the operator's app origins; the service sends no `notify` when there are none.
            let targets = serde_json::to_string(targets).unwrap_or_else(|_| "[]".into()).replace('<', "\\u003c");
            format!(
                "<script nonce=\"{nonce}\">(function(){{var d={data};var t={targets};if(window.opener){{t.forEach(function(o){{try{{window.opener.postMessage(d,o);}}catch(e){{}}}});window.close();}}}})();</script>"
            )
        }
        None => String::new(),
    };
    let colour = if ok { "#1a7f37" } else { "#b42318" };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"referrer\" content=\"no-referrer\"><title>{t}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2328}}h1{{font-size:1.3rem;color:{colour}}}</style></head>\
<body><h1>{t}</h1><p>{m}</p>{script}</body></html>",
        t = escape(title),
        m = escape(message)
    )
}

#[derive(Serialize, ToSchema)]
struct HandshakeDto {
    id: String,
    /// `pending`, `completed`, `failed` or `expired`.
    status: String,
    provider: String,
    connection_id: Option<String>,
    error: Option<ErrorDetail>,
    expires_at: String,
}

/// The state of a connect flow, for clients that poll.
#[utoipa::path(get, path = "/v1/oauth/handshakes/{id}", tag = "oauth", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = HandshakeDto), (status = 404, body = ErrorBody)))]
async fn handshake(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<HandshakeDto>> {
    let h = state.services.handshake_status(&actor, &id).await?;
    Ok(Json(HandshakeDto {
        id: h.id,
        status: h.status.to_owned(),
        provider: h.provider,
        connection_id: h.connection_id,
        error: h.error.map(|(code, message)| ErrorDetail {
            code: leak_code(&code),
            message,
            field: None,
            details: None,
        }),
        expires_at: h.expires_at.to_rfc3339(),
    }))
}

/// Error codes of failed handshakes come from a small set; others read as `provider_error`.
fn leak_code(code: &str) -> &'static str {
    match code {
        "access_denied" => "access_denied",
        "invalid_grant" => "invalid_grant",
        "issuer_mismatch" => "issuer_mismatch",
        "invalid_signature" => "invalid_signature",
        "shop_mismatch" => "shop_mismatch",
        "token_exchange_failed" => "token_exchange_failed",
        "invalid_token" => "invalid_token",
        "integration_removed" => "integration_removed",
        "server_error" => "server_error",
        "invalid_request" => "invalid_request",
        "issuer_missing" => "issuer_missing",
        "browser_mismatch" => "browser_mismatch",
        "account_mismatch" => "account_mismatch",
        "connection_removed" => "connection_removed",
        _ => "provider_error",
    }
}
