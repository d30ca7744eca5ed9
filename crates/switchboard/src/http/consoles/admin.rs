//! The operator console (`/ui/admin`): entered with a secret key through a form that trades it for a
//! cookie session (the key is never kept by the browser), then one page of health — connections by
//! provider and status, refreshes over 24 hours and 14 days as server-drawn SVG charts, connections
//! needing re-auth, webhook endpoints with their events and refusals, deliveries with the dead ones
//! to replay, the audit log with filters, and the integrations with their callback URL. Sections
//! change live: `/ui/admin/live` streams server-sent events when connections or deliveries do.

use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use switchboard_core::ids::OrgId;
use switchboard_core::time::Timestamp;

use super::view::{Base, when};
use super::{Framing, Messages, nonce, respond};
use crate::http::AppState;
use crate::http::extract::{CONSOLE_COOKIE, browser_cookie_named, cookie_name};
use crate::services::ServiceError;
use crate::services::browser::BrowserSession;
use crate::services::console::{Dashboard, RefreshBar};
use crate::store::Page;

fn messages(headers: &HeaderMap) -> Messages {
    Messages::negotiate(None, headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
}

#[derive(Template)]
#[template(path = "admin_sign_in.html")]
struct SignInPage {
    base: Base,
    error: String,
}

fn sign_in_page(state: &AppState, headers: &HeaderMap, status: StatusCode, error: String) -> Response {
    let t = messages(headers);
    let n = nonce();
    let page = SignInPage { base: Base::new(state, t, t.get("admin.title"), n.clone(), String::new()), error };
    respond(state, &page, status, &n, Framing::Nobody)
}

async fn console_session(state: &AppState, headers: &HeaderMap) -> Option<BrowserSession> {
    let cookie = browser_cookie_named(headers, &cookie_name(&state.services.settings, CONSOLE_COOKIE))?;
    state.services.browser_session(&cookie).await.ok().filter(|s| s.principal.require_secret_key("").is_ok())
}

#[derive(Deserialize)]
pub(super) struct SignIn {
    key: String,
}

/// Whether a form post comes from this server's own page: `Sec-Fetch-Site` where the browser sends
/// it, else the `Origin` (pages sent with `Referrer-Policy: no-referrer` post `Origin: null`, so the
/// fetch metadata is what modern browsers are judged by).
fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let ours = state.services.settings.public_url.origin().ascii_serialization();
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).is_none_or(|origin| origin == ours)
}

/// `POST /ui/admin/sign-in`: a secret key for a console cookie (8 hours, or until the key is revoked).
pub(super) async fn sign_in(State(state): State<AppState>, headers: HeaderMap, form: axum::Form<SignIn>) -> Response {
    let t = messages(&headers);
    if !same_origin(&state, &headers) {
        return sign_in_page(&state, &headers, StatusCode::FORBIDDEN, t.get("admin.cross_site"));
    }
    let opened = match state.services.open_console(form.key.trim()).await {
        Ok(o) => o,
        Err(ServiceError::Unauthenticated(m)) => return sign_in_page(&state, &headers, StatusCode::UNAUTHORIZED, m),
        Err(e) => return crate::http::error::ApiError::from(e).into_response(),
    };
    let settings = &state.services.settings;
    let secure = if settings.public_url.scheme() == "https" { "; Secure" } else { "" };
    let cookie = format!(
        "{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        cookie_name(settings, CONSOLE_COOKIE),
        opened.cookie.expose_secret(),
        opened.expires_at.millis().saturating_sub(state.services.clock.now().millis()) / 1000
    );
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, "/ui/admin")]).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    super::secure_headers(res.headers_mut());
    res
}

#[derive(Deserialize)]
pub(super) struct SignOut {
    csrf: String,
}

/// `POST /ui/admin/sign-out`: ends the console session.
pub(super) async fn sign_out(State(state): State<AppState>, headers: HeaderMap, form: axum::Form<SignOut>) -> Response {
    if let Some(s) = console_session(&state, &headers).await
        && s.csrf_matches(&form.csrf)
        && let Some(cookie) = browser_cookie_named(&headers, &cookie_name(&state.services.settings, CONSOLE_COOKIE))
        && let Err(e) = state.services.end_browser_session(&cookie).await
    {
        return crate::http::error::ApiError::from(e).into_response();
    }
    let gone = format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict",
        cookie_name(&state.services.settings, CONSOLE_COOKIE)
    );
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, "/ui/admin")]).into_response();
    if let Ok(v) = HeaderValue::from_str(&gone) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize, Default)]
pub(super) struct AuditQuery {
    action: Option<String>,
    org: Option<String>,
    target: Option<String>,
}

struct StatusRow {
    provider: String,
    cells: Vec<i64>,
    total: i64,
}

struct AuditRow {
    at: String,
    org: String,
    actor: String,
    action: String,
    target: String,
    outcome: String,
}

struct EndpointRow {
    id: String,
    provider: String,
    org: String,
    events: i64,
    last_event: String,
    refused: u64,
    last_refusal: String,
}

struct DeadRow {
    id: String,
    event: String,
    subscription: String,
    attempts: i32,
    last_error: String,
    updated: String,
}

struct IntegrationRow {
    id: String,
    provider: String,
    callback: String,
}

struct ReauthRow {
    id: String,
    org: String,
    provider: String,
    label: String,
    error: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct ConsolePage {
    base: Base,
    statuses: Vec<&'static str>,
    status_rows: Vec<StatusRow>,
    hourly_chart: String,
    daily_chart: String,
    rate_24h: String,
    rate_14d: String,
    reauth: Vec<ReauthRow>,
    endpoints: Vec<EndpointRow>,
    delivery_counts: Vec<(String, i64)>,
    dead: Vec<DeadRow>,
    audit: Vec<AuditRow>,
    filter_action: String,
    filter_org: String,
    filter_target: String,
    integrations: Vec<IntegrationRow>,
    oauth_providers: Vec<(String, String)>,
    callback_url: String,
    script_data: String,
}

fn rate(bars: &[RefreshBar], t: &Messages) -> String {
    let ok: i64 = bars.iter().map(|b| b.success).sum();
    let failed: i64 = bars.iter().map(|b| b.failure).sum();
    if ok + failed == 0 {
        return t.get("admin.no_refreshes");
    }
    // Whole percent, rounded down, so 99.9 % never reads as 100 %.
    let pct = ok * 100 / (ok + failed);
    t.fmt("admin.rate", &[("pct", &pct.to_string()), ("ok", &ok.to_string()), ("failed", &failed.to_string())])
}

/// A bar chart of refreshes: successes and failures stacked, with a title and description for
/// screen readers and a `<title>` per bar with its figures.
fn chart(id: &str, bars: &[RefreshBar], label: impl Fn(Timestamp) -> String, title: &str, t: &Messages) -> String {
    let (w, h, pad) = (720.0_f64, 160.0_f64, 24.0_f64);
    let max = bars.iter().map(|b| b.success + b.failure).max().unwrap_or(0).max(1);
    // Counts are small integers; f64 holds them exactly.
    #[allow(clippy::cast_precision_loss)]
    let scale = |v: i64| (v as f64) / (max as f64) * (h - pad);
    #[allow(clippy::cast_precision_loss)]
    let slot = w / bars.len().max(1) as f64;
    let mut out = format!(
        "<svg class=\"chart\" id=\"{id}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" preserveAspectRatio=\"none\">\
<title id=\"{id}-t\">{title}</title><desc id=\"{id}-d\">{}</desc>\
<line x1=\"0\" y1=\"{base}\" x2=\"{w}\" y2=\"{base}\" class=\"axis\"/>",
        rate(bars, t),
        base = h - pad,
    );
    for (i, b) in bars.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x = i as f64 * slot + slot * 0.15;
        let bw = slot * 0.7;
        let sh = scale(b.success);
        let fh = scale(b.failure);
        let tip = t.fmt(
            "admin.bar",
            &[("when", &label(b.start)), ("ok", &b.success.to_string()), ("failed", &b.failure.to_string())],
        );
        out.push_str(&format!(
            "<g class=\"bar\" data-success=\"{}\" data-failure=\"{}\"><title>{}</title>\
<rect class=\"ok\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{sh:.1}\"/>\
<rect class=\"fail\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{fh:.1}\"/></g>",
            b.success,
            b.failure,
            tip.replace('&', "&amp;").replace('<', "&lt;"),
            h - pad - sh,
            h - pad - sh - fh,
        ));
    }
    out.push_str("</svg>");
    out
}

const STATUSES: [&str; 5] = ["connected", "refreshing", "needs_reauth", "error", "revoked"];

fn status_rows(d: &Dashboard) -> Vec<StatusRow> {
    let mut rows: Vec<StatusRow> = Vec::new();
    for s in &d.statuses {
        let i = match rows.iter().position(|r| r.provider == s.provider) {
            Some(i) => i,
            None => {
                rows.push(StatusRow { provider: s.provider.clone(), cells: vec![0; STATUSES.len()], total: 0 });
                rows.len() - 1
            }
        };
        if let Some(col) = STATUSES.iter().position(|x| *x == s.status) {
            rows[i].cells[col] += s.count;
        }
        rows[i].total += s.count;
    }
    rows.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.provider.cmp(&b.provider)));
    rows
}

/// `GET /ui/admin`: the console, or its sign-in form.
pub(super) async fn console(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let Some(session) = console_session(&state, &headers).await else {
        return sign_in_page(&state, &headers, StatusCode::OK, String::new());
    };
    let t = messages(&headers);
    let actor = &session.principal;
    let nonempty = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let result: Result<_, ServiceError> = async {
        let d = state.services.dashboard(actor).await?;
        let org = match nonempty(&q.org) {
            Some(o) => Some(OrgId::parse(&o).map_err(|e| ServiceError::invalid("org", e.0))?),
            None => None,
        };
        let audit = state
            .services
            .list_audit(actor, org.as_ref(), nonempty(&q.target), nonempty(&q.action), Page { after: None, limit: 30 })
            .await?;
        let integrations = state.services.list_integrations(actor, None).await?;
        Ok((d, audit, integrations))
    }
    .await;
    let (d, audit, integrations) = match result {
        Ok(v) => v,
        Err(e) => return crate::http::error::ApiError::from(e).into_response(),
    };
    let callback_url = {
        let mut u = state.services.settings.public_url.clone();
        u.set_path("/oauth/callback");
        u.to_string()
    };
    let hour_label = |ts: Timestamp| when(Some(ts), &t);
    let day_label = |ts: Timestamp| ts.to_rfc3339().get(..10).unwrap_or_default().to_owned();
    let name_of = |id: &str| state.services.catalog.get(id).map_or_else(|| id.to_owned(), |p| p.name.clone());
    let n = nonce();
    let page = ConsolePage {
        statuses: STATUSES.to_vec(),
        status_rows: status_rows(&d),
        hourly_chart: chart("chart-24h", &d.hourly, hour_label, &t.get("admin.chart_24h"), &t),
        daily_chart: chart("chart-14d", &d.daily, day_label, &t.get("admin.chart_14d"), &t),
        rate_24h: rate(&d.hourly, &t),
        rate_14d: rate(&d.daily, &t),
        reauth: d
            .needs_reauth
            .iter()
            .map(|c| ReauthRow {
                id: c.id.clone(),
                org: c.org.clone(),
                provider: name_of(&c.provider),
                label: c.label.clone(),
                error: c.last_error.clone().unwrap_or_default(),
            })
            .collect(),
        endpoints: d
            .endpoints
            .iter()
            .map(|e| EndpointRow {
                id: e.endpoint.id.clone(),
                provider: name_of(&e.endpoint.provider),
                org: e.endpoint.org.clone(),
                events: e.events_24h,
                last_event: when(e.last_event_at, &t),
                refused: e.refused.count,
                last_refusal: if e.refused.count > 0 {
                    format!("{} — {}", when(Some(Timestamp::from_millis(e.refused.last_at)), &t), e.refused.last_reason)
                } else {
                    String::new()
                },
            })
            .collect(),
        delivery_counts: d.delivery_counts.clone(),
        dead: d
            .dead
            .iter()
            .map(|r| DeadRow {
                id: r.id.clone(),
                event: r.event_id.clone(),
                subscription: r.subscription_id.clone(),
                attempts: r.attempts,
                last_error: r.last_error.clone().unwrap_or_default(),
                updated: when(Some(Timestamp::from_millis(r.updated_at)), &t),
            })
            .collect(),
        audit: audit
            .into_iter()
            .map(|a| AuditRow {
                at: when(Some(Timestamp::from_millis(a.at)), &t),
                org: a.org.unwrap_or_default(),
                actor: a.actor,
                action: a.action,
                target: format!("{} {}", a.target_kind, a.target_id),
                outcome: a.outcome,
            })
            .collect(),
        filter_action: nonempty(&q.action).unwrap_or_default(),
        filter_org: nonempty(&q.org).unwrap_or_default(),
        filter_target: nonempty(&q.target).unwrap_or_default(),
        integrations: integrations
            .iter()
            .map(|i| IntegrationRow {
                id: i.id.to_string(),
                provider: name_of(&i.provider),
                callback: i.redirect_uri.clone().unwrap_or_else(|| callback_url.clone()),
            })
            .collect(),
        oauth_providers: {
            let mut v: Vec<(String, String)> = state
                .services
                .catalog
                .iter()
                .filter(|p| p.oauth2.is_some())
                .map(|p| (p.id.clone(), p.name.clone()))
                .collect();
            v.sort_by_key(|(_, name)| name.to_lowercase());
            v
        },
        callback_url,
        script_data: super::user::script_json(&serde_json::json!({
            "page": "admin",
            "messages": t.section_json(&["admin"]),
        })),
        base: Base::new(&state, t, t.get("admin.title"), n.clone(), session.csrf.clone()),
    };
    respond(&state, &page, StatusCode::OK, &n, Framing::Nobody)
}

/// `GET /ui/admin/live`: a server-sent event `changed` naming `connections` or `deliveries` whenever
/// either changes (read from the store every 2 s, so changes made through any instance appear). The
/// stream ends with the console session; browsers reconnect by themselves.
pub(super) async fn live(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(session) = console_session(&state, &headers).await else {
        return (StatusCode::UNAUTHORIZED, "sign in to the operator console first").into_response();
    };
    let services = state.services.clone();
    let until = session.expires_at.millis();
    let start = services.console_fingerprint(&session.principal).await.ok();
    // Bounded: at most one hour per stream and never past the session's end.
    let deadline = (services.clock.now().millis() + 3_600_000).min(until);
    let stream = futures::stream::unfold((start, session), move |(last, session)| {
        let services = services.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if services.clock.now().millis() >= deadline {
                    return None;
                }
                let Ok(now) = services.console_fingerprint(&session.principal).await else { continue };
                let Some(before) = last.clone() else {
                    return Some((
                        Ok::<_, std::convert::Infallible>(Event::default().comment("ready")),
                        (Some(now), session),
                    ));
                };
                let changed = match (before.0 != now.0, before.1 != now.1) {
                    (true, true) => "connections deliveries",
                    (true, false) => "connections",
                    (false, true) => "deliveries",
                    (false, false) => continue,
                };
                return Some((Ok(Event::default().event("changed").data(changed)), (Some(now), session)));
            }
        }
    });
    let mut res = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
