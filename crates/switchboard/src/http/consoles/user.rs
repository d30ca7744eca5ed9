//! The end user's integrations page: entered through a connect link, then the marketplace (`/ui`)
//! and one page per provider (`/ui/p/{provider}`) with its accounts and the ways to connect one.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret as _;
use switchboard_core::access::{Principal, Role};
use switchboard_core::catalog::{FieldFormat, Provider};

use super::view::{Base, linkify, logo_svg, when};
use super::{Framing, Messages, nonce, respond};
use crate::http::AppState;
use crate::http::extract::{browser_cookie, browser_cookie_name};
use crate::services::ServiceError;
use crate::services::browser::BrowserSession;
use crate::services::credentials::connections::Connection;
use crate::store::Page;

fn messages(headers: &HeaderMap, session: Option<&BrowserSession>) -> Messages {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Messages::negotiate(session.and_then(|s| s.locale.as_deref()), accept)
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    base: Base,
    heading: String,
    text: String,
}

/// A page that only says something (an ended session, a spent link).
fn message_page(state: &AppState, headers: &HeaderMap, status: StatusCode, heading: String, text: String) -> Response {
    let t = messages(headers, None);
    let n = nonce();
    let page = MessagePage { base: Base::new(state, t, heading.clone(), n.clone(), String::new()), heading, text };
    respond(state, &page, status, &n, Framing::AllowedParents)
}

/// The browser session of a page request, or the page saying it has ended.
async fn session_of(state: &AppState, headers: &HeaderMap) -> Result<BrowserSession, Response> {
    let ended = || {
        let t = messages(headers, None);
        message_page(state, headers, StatusCode::UNAUTHORIZED, t.get("page.error_title"), t.get("page.session_ended"))
    };
    let Some(cookie) = browser_cookie(headers, &state.services.settings) else { return Err(ended()) };
    match state.services.browser_session(&cookie).await {
        Ok(s) if matches!(s.principal, Principal::Session { .. }) => Ok(s),
        Ok(_) | Err(ServiceError::Unauthenticated(_)) => Err(ended()),
        Err(e) => Err(crate::http::error::ApiError::from(e).into_response()),
    }
}

/// `GET /ui/connect/{link}`: trades the single-use link for a cookie, then to `/ui` (no token in
/// that URL). A page in an iframe gets a partitioned `SameSite=None` cookie, which framed pages need.
pub(super) async fn enter(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(link): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let opened = match state.services.open_connect_link(&link).await {
        Ok(o) => o,
        Err(ServiceError::Unauthenticated(message)) => {
            let t = messages(&headers, None);
            return message_page(&state, &headers, StatusCode::UNAUTHORIZED, t.get("page.error_title"), message);
        }
        Err(e) => return crate::http::error::ApiError::from(e).into_response(),
    };
    let settings = &state.services.settings;
    let framed = headers.get("sec-fetch-dest").is_some_and(|v| v.as_bytes() == b"iframe");
    let https = settings.public_url.scheme() == "https";
    let max_age = opened.expires_at.millis().saturating_sub(state.services.clock.now().millis()) / 1000;
    let same_site = if framed {
        "None; Secure; Partitioned"
    } else if https {
        "Lax; Secure"
    } else {
        "Lax"
    };
    let cookie = format!(
        "{}={}; Path=/; Max-Age={max_age}; HttpOnly; SameSite={same_site}",
        browser_cookie_name(settings),
        opened.cookie.expose_secret()
    );
    // Straight to one provider's page when asked for one the catalog has.
    let target = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find_map(|(k, v)| (k == "provider").then(|| v.into_owned()))
        .filter(|p| state.services.catalog.get(p).is_some())
        .map_or_else(|| "/ui".to_owned(), |p| format!("/ui/p/{p}"));
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, target)]).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    super::secure_headers(res.headers_mut());
    res
}

/// The providers this session's page offers: the catalog's that are connectable (credential modes,
/// or an OAuth integration), limited to the session's list when it has one.
async fn offered(
    state: &AppState,
    session: &BrowserSession,
) -> Result<(Vec<Arc<Provider>>, BTreeMap<String, String>), ServiceError> {
    let integrations = state.services.connectable_integrations().await?;
    let mut out: Vec<Arc<Provider>> = state
        .services
        .catalog
        .iter()
        .filter(|p| !p.credentials.is_empty() || integrations.contains_key(&p.id))
        .filter(|p| session.providers.as_ref().is_none_or(|allowed| allowed.contains(&p.id)))
        .cloned()
        .collect();
    out.sort_by_key(|p| p.name.to_lowercase());
    Ok((out, integrations))
}

async fn visible_connections(
    state: &AppState,
    session: &BrowserSession,
    provider: Option<&str>,
) -> Result<Vec<Connection>, ServiceError> {
    state
        .services
        .list_connections(&session.principal, None, provider.map(str::to_owned), None, Page { after: None, limit: 500 })
        .await
}

struct Card {
    id: String,
    name: String,
    description: String,
    categories: String,
    search: String,
    logo: String,
    connected: String,
}

struct Reauth {
    provider: String,
    text: String,
}

#[derive(Template)]
#[template(path = "marketplace.html")]
struct Marketplace {
    base: Base,
    cards: Vec<Card>,
    categories: Vec<(String, String)>,
    reauth: Vec<Reauth>,
    count: String,
    script_data: String,
}

fn account_name(c: &Connection) -> String {
    c.account_name
        .clone()
        .or_else(|| c.account_email.clone())
        .map_or_else(|| c.label.clone(), |n| format!("{} ({n})", c.label))
}

/// JSON for a `<script type="application/json">` block: `<` escaped so nothing can close it.
pub(super) fn script_json(v: &serde_json::Value) -> String {
    v.to_string().replace('<', "\\u003c")
}

fn script_data(state: &AppState, t: &Messages, session: &BrowserSession, extra: serde_json::Value) -> String {
    let mut data = serde_json::json!({
        "returnUrl": session.return_url,
        "messages": t.section_json(&["provider", "account", "market", "status", "page"]),
        "parents": state.services.settings.ui.frame_ancestors,
        "oauthTtlMs": u64::try_from(state.services.settings.oauth_state_ttl.as_millis()).unwrap_or(600_000),
    });
    if let (Some(d), serde_json::Value::Object(e)) = (data.as_object_mut(), extra) {
        d.extend(e);
    }
    script_json(&data)
}

/// `GET /ui`: every offered provider as a card, with search, category filter and connected counts.
pub(super) async fn marketplace(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match session_of(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = messages(&headers, Some(&session));
    let result: Result<_, ServiceError> = async {
        let (providers, _) = offered(&state, &session).await?;
        let connections = visible_connections(&state, &session, None).await?;
        Ok((providers, connections))
    }
    .await;
    let (providers, connections) = match result {
        Ok(v) => v,
        Err(e) => return crate::http::error::ApiError::from(e).into_response(),
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &connections {
        *counts.entry(c.provider.as_str()).or_default() += 1;
    }
    let mut categories: BTreeMap<String, String> = BTreeMap::new();
    let cards: Vec<Card> = providers
        .iter()
        .map(|p| {
            for c in &p.categories {
                categories.entry(c.clone()).or_insert_with(|| category_label(c));
            }
            let n = counts.get(p.id.as_str()).copied().unwrap_or(0);
            Card {
                id: p.id.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                categories: p.categories.join(" "),
                search: format!("{} {} {}", p.name, p.id, p.description).to_lowercase(),
                logo: logo_svg(&p.id, &p.name),
                connected: if n > 0 { t.fmt("market.connected", &[("n", &n.to_string())]) } else { String::new() },
            }
        })
        .collect();
    let offered_ids: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
    let reauth = connections
        .iter()
        .filter(|c| c.status == "needs_reauth" && offered_ids.contains(&c.provider.as_str()))
        .map(|c| {
            let provider =
                state.services.catalog.get(&c.provider).map_or_else(|| c.provider.clone(), |p| p.name.clone());
            Reauth {
                provider: c.provider.clone(),
                text: t.fmt("market.needs_reauth_banner", &[("account", &account_name(c)), ("provider", &provider)]),
            }
        })
        .collect();
    let count = if cards.len() == 1 {
        t.get("market.count_one")
    } else {
        t.fmt("market.count_many", &[("n", &cards.len().to_string())])
    };
    let n = nonce();
    let page = Marketplace {
        script_data: script_data(&state, &t, &session, serde_json::json!({ "page": "marketplace" })),
        base: Base::new(&state, t, t.get("page.integrations"), n.clone(), session.csrf.clone()),
        cards,
        categories: categories.into_iter().collect(),
        reauth,
        count,
    };
    respond(&state, &page, StatusCode::OK, &n, Framing::AllowedParents)
}

/// `crm` → `CRM`, `project-management` → `Project management`.
fn category_label(c: &str) -> String {
    const UPPER: &[&str] = &["crm", "ai", "sms", "smtp", "api"];
    if UPPER.contains(&c) {
        return c.to_uppercase();
    }
    let words = c.replace(['-', '_'], " ");
    let mut chars = words.chars();
    chars.next().map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + chars.as_str())
}

struct AccountView {
    id: String,
    label: String,
    name: String,
    identity: String,
    scopes: String,
    status: String,
    status_text: String,
    who: String,
    last_error: String,
    refreshed: String,
    tested: String,
    synced: String,
    visibility: String,
    shared: bool,
    owner: String,
    can_manage: bool,
    can_disconnect: bool,
    oauth: bool,
    confirm_title: String,
    confirm_text: String,
    confirm_yes: String,
}

struct FieldView {
    id: String,
    name: String,
    label: String,
    input_type: &'static str,
    multiline: bool,
    secret: bool,
    required: bool,
    prefixes: String,
    pattern: String,
    help: String,
    hint: String,
    options: Vec<String>,
    default: String,
}

struct ModeView {
    mode: String,
    what: String,
    label: String,
    title: String,
    checks: String,
    fields: Vec<FieldView>,
}

struct ParamView {
    id: String,
    name: String,
    label: String,
    pattern: String,
    help: String,
    example: String,
    default: String,
}

#[derive(Template)]
#[template(path = "provider.html")]
struct ProviderPage {
    base: Base,
    name: String,
    description: String,
    logo: String,
    accounts: Vec<AccountView>,
    no_accounts: String,
    integration: String,
    params: Vec<ParamView>,
    connect_label: String,
    connect_hint: String,
    modes: Vec<ModeView>,
    or_title: String,
    not_connectable: bool,
    script_data: String,
}

fn account_view(c: &Connection, session: &BrowserSession, t: &Messages) -> AccountView {
    let (user, role) = match &session.principal {
        Principal::Session { user, role, .. } => (Some(user.as_str()), *role),
        _ => (None, Role::Admin),
    };
    let owns = c.owner.as_deref().is_some() && c.owner.as_deref() == user;
    let is_admin = role == Role::Admin;
    let identity = [
        c.account_name.clone(),
        c.account_email.clone().filter(|e| Some(e) != c.account_name.as_ref()),
        c.account_id.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let name = account_name(c);
    let who = match c.status.as_str() {
        "needs_reauth" => t.get("status.needs_reauth_who"),
        "error" => t.get("status.error_who"),
        "revoked" => t.get("status.revoked_who"),
        _ => String::new(),
    };
    AccountView {
        id: c.id.clone(),
        label: c.label.clone(),
        identity,
        scopes: c.scopes.join(", "),
        status: c.status.clone(),
        status_text: t.get(&format!("status.{}", c.status)),
        who,
        last_error: c.last_error.as_deref().map(|e| t.fmt("status.last_error", &[("error", e)])).unwrap_or_default(),
        refreshed: when(c.last_refreshed_at, t),
        tested: when(c.last_tested_at, t),
        synced: when(c.last_sync_at, t),
        visibility: if c.shared { t.get("account.shared") } else { t.get("account.private") },
        shared: c.shared,
        owner: c.owner.clone().unwrap_or_default(),
        can_manage: is_admin || owns,
        can_disconnect: is_admin || (owns && !c.shared),
        oauth: c.auth_mode == "oauth2",
        confirm_title: t.fmt("account.confirm_title", &[("account", &name)]),
        confirm_text: t.fmt("account.confirm_text", &[("account", &name)]),
        confirm_yes: t.fmt("account.confirm_yes", &[("account", &name)]),
        name,
    }
}

fn mode_view(p: &Provider, mode: &str, spec: &switchboard_core::catalog::CredentialSpec, t: &Messages) -> ModeView {
    let fields = spec
        .fields
        .iter()
        .map(|f| {
            let mut hint = Vec::new();
            if !f.prefixes.is_empty() {
                hint.push(t.fmt("provider.must_start", &[("prefixes", &f.prefixes.join(", "))]));
            }
            if let Some(e) = &f.example {
                hint.push(t.fmt("provider.format_hint", &[("example", e)]));
            }
            if f.secret {
                hint.push(t.get("provider.secret_hint"));
            }
            FieldView {
                id: format!("f-{mode}-{}", f.name),
                name: f.name.clone(),
                label: f.label.clone(),
                input_type: match (f.secret, f.format) {
                    (true, _) => "password",
                    (_, FieldFormat::Url) => "url",
                    (_, FieldFormat::Email) => "email",
                    _ => "text",
                },
                multiline: f.format == FieldFormat::Json,
                secret: f.secret,
                required: f.required,
                prefixes: f.prefixes.join(","),
                pattern: f.pattern.clone().unwrap_or_default(),
                help: f.help.as_deref().map(linkify).unwrap_or_default(),
                hint: hint.join(" "),
                options: if f.format == FieldFormat::Enum { f.options.clone() } else { Vec::new() },
                default: f.default.clone().unwrap_or_default(),
            }
        })
        .collect();
    let what = spec.test.as_ref().map_or_else(
        || spec.label.clone(),
        |r| match (&r.path, &r.url) {
            (Some(path), _) => format!("{} {path}", r.method.to_uppercase()),
            (None, Some(url)) => format!("{} {url}", r.method.to_uppercase()),
            (None, None) => spec.label.clone(),
        },
    );
    ModeView {
        mode: mode.to_owned(),
        label: spec.label.clone(),
        title: t.fmt("provider.credentials_title", &[("mode", &spec.label)]),
        checks: t.fmt("provider.checks", &[("what", &what), ("provider", &p.name)]),
        what,
        fields,
    }
}

/// `GET /ui/p/{provider}`: the accounts of one provider and the ways to connect another.
pub(super) async fn provider_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(provider): Path<String>,
) -> Response {
    let session = match session_of(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = messages(&headers, Some(&session));
    let result: Result<_, ServiceError> = async {
        let (providers, integrations) = offered(&state, &session).await?;
        let Some(p) = providers.into_iter().find(|p| p.id == provider) else { return Ok(None) };
        let connections = visible_connections(&state, &session, Some(&p.id)).await?;
        Ok(Some((p, integrations, connections)))
    }
    .await;
    let (p, integrations, connections) = match result {
        Ok(Some(v)) => v,
        Ok(None) => {
            return message_page(
                &state,
                &headers,
                StatusCode::NOT_FOUND,
                t.get("page.error_title"),
                t.get("provider.not_connectable"),
            );
        }
        Err(e) => return crate::http::error::ApiError::from(e).into_response(),
    };
    let integration = integrations.get(&p.id).cloned().unwrap_or_default();
    let params = p
        .placeholders
        .iter()
        .filter(|(_, ph)| ph.per_account)
        .map(|(name, ph)| ParamView {
            id: format!("param-{name}"),
            name: name.clone(),
            label: ph.label.clone(),
            pattern: ph.pattern.clone(),
            help: ph.help.as_deref().map(linkify).unwrap_or_default(),
            example: ph
                .example
                .as_deref()
                .map(|e| t.fmt("provider.format_hint", &[("example", e)]))
                .unwrap_or_default(),
            default: ph.default.clone().unwrap_or_default(),
        })
        .collect();
    let modes: Vec<ModeView> =
        p.credentials.iter().map(|(mode, spec)| mode_view(&p, mode.as_str(), spec, &t)).collect();
    let or_title = modes.first().map(|m| t.fmt("provider.or_credentials", &[("mode", &m.label)])).unwrap_or_default();
    let n = nonce();
    let page = ProviderPage {
        script_data: script_data(
            &state,
            &t,
            &session,
            serde_json::json!({ "page": "provider", "provider": p.id, "providerName": p.name, "integration": integration }),
        ),
        accounts: connections.iter().map(|c| account_view(c, &session, &t)).collect(),
        no_accounts: t.fmt("provider.no_accounts", &[("provider", &p.name)]),
        connect_label: t.fmt("provider.connect_oauth", &[("provider", &p.name)]),
        connect_hint: t.fmt("provider.connect_oauth_hint", &[("provider", &p.name)]),
        not_connectable: integration.is_empty() && modes.is_empty(),
        base: Base::new(&state, t, p.name.clone(), n.clone(), session.csrf.clone()),
        name: p.name.clone(),
        description: p.description.clone(),
        logo: logo_svg(&p.id, &p.name),
        integration,
        params,
        modes,
        or_title,
    };
    respond(&state, &page, StatusCode::OK, &n, Framing::AllowedParents)
}

#[derive(Template)]
#[template(path = "done.html")]
struct DonePage {
    base: Base,
}

/// `GET /ui/oauth/done`: where a popup's flow ends. It closes itself; the page that opened it reads
/// the result from the server, not from this window.
pub(super) async fn oauth_done(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let t = messages(&headers, None);
    let n = nonce();
    let page = DonePage { base: Base::new(&state, t, t.get("page.done"), n.clone(), String::new()) };
    respond(&state, &page, StatusCode::OK, &n, Framing::OwnPopup)
}
