//! The OAuth connect flow: `start` makes a handshake and the authorization
//! URL; the browser comes back to `/oauth/callback`, which completes it and
//! stores the connection; clients can poll the handshake.
//!
//! Follows RFC 9700 for a client of many authorization servers: 256-bit
//! single-use state stored only as a digest, PKCE S256 where supported, the
//! expected issuer checked against `iss` (RFC 9207), browser redirects only to
//! allow-listed targets, and no token ever in a URL.

use std::collections::BTreeMap;
use std::time::Duration;

use hmac::{Hmac, KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use sha2::Sha256;
use switchboard_core::access::Principal;
use switchboard_core::catalog::{CallbackSignature, Provider};
use switchboard_core::ids::{ConnectionId, HandshakeId, OrgId, UserId};
use switchboard_core::time::Timestamp;
use switchboard_core::token::TokenDigest;
use switchboard_core::vault::Binding;

use super::protocol::{self as oauth, OAuthApp, OAuthTokens, TokenAnswer};
use crate::services::audit::{AuditEvent, Outcome};
use crate::services::credentials::connections::status;
use crate::services::{ServiceError, ServiceResult, Services, access};
use crate::store::{ConnectionRecord, HandshakeRecord, IntegrationRecord};

/// What `POST /v1/oauth/start` asks for.
#[derive(Debug, Default)]
pub struct StartRequest {
    pub integration: String,
    /// Another provider sharing the integration's OAuth app (e.g. google-drive on a Google app).
    pub provider: Option<String>,
    pub org: Option<String>,
    pub user: Option<String>,
    pub label: Option<String>,
    pub shared: Option<bool>,
    pub redirect_uri: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub params: Map<String, Value>,
    /// Re-authorize this existing connection (reconnect, or ask for more scopes).
    pub connection: Option<String>,
    /// Re-authorising may sign in to another account than the connection's (otherwise refused).
    pub replace_account: bool,
    /// Bind the flow to the browser that sent this request: the answer carries a
    /// cookie that the callback must see again.
    pub bind_browser: bool,
}

#[derive(Debug)]
pub struct Started {
    pub auth_url: url::Url,
    pub handshake_id: String,
    pub expires_at: Timestamp,
    /// The cookie binding the flow to this browser: `(name, value)`, set on the start answer.
    pub browser_cookie: Option<(String, SecretString)>,
}

/// The name of the cookie that binds handshake `id` to a browser.
#[must_use]
pub fn binding_cookie_name(handshake_id: &str) -> String {
    format!("sb_hs_{handshake_id}")
}

/// A handshake as a client polls it.
#[derive(Debug)]
pub struct HandshakeView {
    pub id: String,
    pub status: &'static str,
    pub provider: String,
    pub connection_id: Option<String>,
    pub error: Option<(String, String)>,
    pub expires_at: Timestamp,
}

/// How the callback answers the browser.
#[derive(Debug)]
pub enum CallbackOutcome {
    /// 302 to the caller's allow-listed redirect target.
    Redirect(url::Url),
    /// A small page; `notify` is posted to `window.opener` before it closes.
    Page { ok: bool, title: String, message: String, notify: Option<Value>, http_status: u16 },
}

const HANDSHAKES: &str = "oauth_handshakes";

fn verifier_binding<'a>(org: &'a str, id: &'a str) -> Binding<'a> {
    Binding { org, table: HANDSHAKES, row: id, field: "pkce_verifier" }
}

pub(crate) fn token_binding<'a>(org: &'a str, id: &'a str) -> Binding<'a> {
    Binding { org, table: "connections", row: id, field: "credentials" }
}

/// Whether `candidate` is under one of the allow-listed prefixes: same origin,
/// and the path continues the prefix's path at a `/` boundary.
#[must_use]
pub fn redirect_allowed(candidate: &url::Url, allowed: &[String]) -> bool {
    allowed.iter().filter_map(|a| url::Url::parse(a).ok()).any(|a| {
        let same_origin = a.origin() == candidate.origin();
        let prefix = a.path();
        let path = candidate.path();
        same_origin
            && (path == prefix
                || (path.starts_with(prefix) && (prefix.ends_with('/') || path[prefix.len()..].starts_with('/'))))
    })
}

impl Services {
    /// Whether `u` is one of this server's integrations pages (`/ui/…`), where its own page's
    /// flows come back to.
    fn is_own_page(&self, u: &url::Url) -> bool {
        u.origin() == self.settings.public_url.origin() && u.path().starts_with("/ui/")
    }

    /// The OAuth app for a provider through an integration. `account` holds the
    /// per-account placeholder values of one connection (a Shopify shop); every
    /// other value comes from the integration, whose settings always win.
    pub(crate) async fn oauth_app(
        &self,
        integration: &IntegrationRecord,
        provider: &Provider,
        account: &BTreeMap<String, String>,
    ) -> ServiceResult<OAuthApp> {
        let settings: Map<String, Value> = serde_json::from_str(&integration.settings).unwrap_or_default();
        let spec = oauth::effective_spec(provider, &settings)?;
        let placeholders = placeholder_values(provider, &settings, account, self.settings.allow_private_networks)?;
        let redirect_uri = integration.redirect_uri.clone().unwrap_or_else(|| {
            let mut u = self.settings.public_url.clone();
            u.set_path("/oauth/callback");
            u.to_string()
        });
        Ok(OAuthApp {
            provider: std::sync::Arc::new(provider.clone()),
            spec,
            integration: integration.id.clone(),
            client_id: integration.client_id.clone(),
            client_secret: self.integration_client_secret(integration).await?,
            redirect_uri,
            placeholders,
        })
    }

    /// The provider a flow uses: the integration's, or one sharing its OAuth app.
    fn flow_provider(
        &self,
        integration: &IntegrationRecord,
        asked: Option<&str>,
    ) -> ServiceResult<std::sync::Arc<Provider>> {
        let own = self.catalog.get(&integration.provider).cloned().ok_or_else(|| {
            ServiceError::Internal(format!("integration provider {} left the catalog", integration.provider))
        })?;
        let Some(asked) = asked.filter(|a| *a != own.id) else { return Ok(own) };
        let other =
            self.catalog.get(asked).cloned().ok_or_else(|| {
                ServiceError::invalid("provider", format!("provider {asked:?} is not in the catalog"))
            })?;
        if own.app_group.is_some() && own.app_group == other.app_group && other.oauth2.is_some() {
            Ok(other)
        } else {
            Err(ServiceError::invalid(
                "provider",
                format!(
                    "integration {:?} is an OAuth app for {}; it cannot connect {}",
                    integration.id, own.name, other.name
                ),
            ))
        }
    }

    /// The per-account values a connect flow's caller gives (`params`): only
    /// placeholders the catalog marks `per_account`, never one the integration fixes.
    fn account_params(
        provider: &Provider,
        settings: &Map<String, Value>,
        params: &Map<String, Value>,
    ) -> ServiceResult<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (k, v) in params {
            let field = format!("params.{k}");
            let Some(ph) = provider.placeholders.get(k) else {
                let known: Vec<_> =
                    provider.placeholders.iter().filter(|(_, p)| p.per_account).map(|(n, _)| n.as_str()).collect();
                let takes =
                    if known.is_empty() { "no params".to_owned() } else { format!("the params: {}", known.join(", ")) };
                return Err(ServiceError::invalid(&field, format!("{} takes {takes}", provider.name)));
            };
            if !ph.per_account {
                return Err(ServiceError::invalid(
                    &field,
                    format!(
                        "{} ({k}) is set by the operator in the integration's settings, not when connecting; leave params.{k} out",
                        ph.label
                    ),
                ));
            }
            if settings.contains_key(k) {
                return Err(ServiceError::invalid(
                    &field,
                    format!("this integration fixes {} ({k}); leave params.{k} out", ph.label),
                ));
            }
            let value = v
                .as_str()
                .ok_or_else(|| ServiceError::invalid(&field, format!("params.{k} must be a string: {}", ph.label)))?;
            out.insert(k.clone(), value.to_owned());
        }
        Ok(out)
    }

    pub async fn start_oauth(&self, actor: &Principal, req: StartRequest) -> ServiceResult<Started> {
        let requested_org =
            req.org.as_deref().map(OrgId::parse).transpose().map_err(|e| ServiceError::invalid("org", e.0))?;
        let org = actor.acting_org(requested_org.as_ref()).map_err(|e| access(e, "org"))?.ok_or_else(|| {
            ServiceError::invalid("org", "org is required: the host app's id of the org that will own the connection")
        })?;
        let user = match (actor.user(), &req.user) {
            (Some(u), _) => Some(u.clone()),
            (None, Some(u)) => Some(UserId::parse(u).map_err(|e| ServiceError::invalid("user", e.0))?),
            (None, None) => None,
        };
        let integration = self.store.integration(&req.integration).await?.ok_or_else(|| {
            ServiceError::invalid(
                "integration",
                format!(
                    "integration {:?} does not exist; POST /v1/integrations registers the OAuth app",
                    req.integration
                ),
            )
        })?;
        let provider = self.flow_provider(&integration, req.provider.as_deref())?;
        let settings: Map<String, Value> = serde_json::from_str(&integration.settings).unwrap_or_default();
        let mut account = Self::account_params(&provider, &settings, &req.params)?;

        if let Some(c) = &req.connection {
            let existing = self.visible_connection(actor, c).await?;
            if existing.org != org.as_str() || existing.provider != provider.id {
                return Err(ServiceError::invalid(
                    "connection",
                    format!("connection {c:?} is not a {} connection of org {org}", provider.name),
                ));
            }
            // Re-authorising replaces the connection's tokens: as PATCH and DELETE, owner or admin only.
            Self::require_owner_or_admin(actor, &existing, "re-authorising a connection")?;
            // The same account again, unless the caller names another one.
            let stored: BTreeMap<String, String> = serde_json::from_str(&existing.params).unwrap_or_default();
            for (k, v) in stored {
                account.entry(k).or_insert(v);
            }
        } else if req.replace_account {
            return Err(ServiceError::invalid(
                "replace_account",
                "replace_account applies to re-authorising: give the connection too",
            ));
        }
        let app = self.oauth_app(&integration, &provider, &account).await.map_err(|e| match e {
            // A missing or wrong per-account value is the caller's to fix under params.
            ServiceError::Invalid { field, message }
                if provider.placeholders.get(&field).is_some_and(|p| p.per_account) =>
            {
                ServiceError::Invalid { field: format!("params.{field}"), message }
            }
            other => other,
        })?;
        let redirect_uri = match &req.redirect_uri {
            None => None,
            Some(r) => {
                let u = url::Url::parse(r)
                    .map_err(|e| ServiceError::invalid("redirect_uri", format!("redirect_uri is not a URL: {e}")))?;
                if !redirect_allowed(&u, &self.settings.allowed_redirects) && !self.is_own_page(&u) {
                    return Err(ServiceError::invalid(
                        "redirect_uri",
                        if self.settings.allowed_redirects.is_empty() {
                            "no redirect targets are allowed on this server; the operator lists them in SWITCHBOARD_ALLOWED_REDIRECTS".to_owned()
                        } else {
                            format!(
                                "{r:?} is not under an allowed redirect target ({})",
                                self.settings.allowed_redirects.join(", ")
                            )
                        },
                    ));
                }
                Some(u.to_string())
            }
        };
        let stored_scopes: Vec<String> = serde_json::from_str(&integration.scopes).unwrap_or_default();
        let scopes = match &req.scopes {
            Some(s) => s.clone(),
            None if !stored_scopes.is_empty() && provider.id == integration.provider => stored_scopes,
            None => app.spec.default_scopes.clone(),
        };
        if let Some(bad) = scopes.iter().find(|s| s.is_empty() || s.chars().any(char::is_whitespace)) {
            return Err(ServiceError::invalid(
                "scopes",
                format!("each scope is a non-empty string without spaces (got {bad:?})"),
            ));
        }
        let label = match req.label.as_deref().map(str::trim) {
            Some(l) if !l.is_empty() && l.chars().count() <= 200 => Some(l.to_owned()),
            Some(_) => return Err(ServiceError::invalid("label", "label must be 1 to 200 characters")),
            None => None,
        };
        let shared = req.shared.unwrap_or(true);
        if !shared && user.is_none() {
            return Err(ServiceError::invalid("shared", "a private connection needs an owner: give user"));
        }

        let now = self.clock.now();
        let id = HandshakeId::generate(now).to_string();
        let state = oauth::new_state();
        let (verifier, challenge) = oauth::pkce_pair();
        let pkce = app.spec.pkce;
        let sealed_verifier = if pkce {
            Some(self.vault.seal(&verifier_binding(org.as_str(), &id), verifier.expose_secret().as_bytes()).await?)
        } else {
            None
        };
        let expires_at = now.plus(self.settings.oauth_state_ttl);
        let auth_url = app.authorize_url(&scopes, state.expose_secret(), pkce.then_some(challenge.as_str()))?;
        let browser_cookie = req.bind_browser.then(|| (binding_cookie_name(&id), oauth::new_state()));
        let rec = HandshakeRecord {
            id: id.clone(),
            state_digest: TokenDigest::of(state.expose_secret()).as_str().to_owned(),
            org: org.to_string(),
            user_id: user.map(|u| u.to_string()),
            integration: integration.id.clone(),
            provider: provider.id.clone(),
            connection_id: req.connection.clone(),
            label,
            shared: i32::from(shared),
            redirect_uri,
            scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
            params: serde_json::to_string(&account).unwrap_or_else(|_| "{}".into()),
            pkce_verifier: sealed_verifier,
            expected_issuer: app.issuer()?,
            status: "pending".into(),
            error_code: None,
            error_message: None,
            created_at: now.millis(),
            expires_at: expires_at.millis(),
            completed_at: None,
            started_by: actor.to_string(),
            replace_account: i32::from(req.replace_account),
            browser_digest: browser_cookie
                .as_ref()
                .map(|(_, v)| TokenDigest::of(v.expose_secret()).as_str().to_owned()),
        };
        self.store.insert_handshake(&rec).await?;
        self.audit(
            actor,
            AuditEvent {
                org: Some(org.as_str()),
                action: "oauth.start",
                target_kind: "handshake",
                target_id: &id,
                outcome: Outcome::Success,
                detail: serde_json::json!({
                    "provider": provider.id, "integration": integration.id, "scopes": scopes,
                    "connection": req.connection, "browser_bound": req.bind_browser,
                }),
            },
        )
        .await?;
        let (auth_url, _) = self.outbound.rewrite(&auth_url);
        Ok(Started { auth_url, handshake_id: id, expires_at, browser_cookie })
    }

    pub async fn handshake_status(&self, actor: &Principal, id: &str) -> ServiceResult<HandshakeView> {
        let scope = actor.scope(None).map_err(|e| access(e, "handshake"))?;
        let h = self.store.handshake(id, scope.filter()).await?.ok_or_else(|| {
            ServiceError::not_found(format!(
                "handshake {:?} not found",
                switchboard_core::ids::truncate_for_message(id)
            ))
        })?;
        if let Principal::Session { user, .. } = actor
            && h.user_id.as_deref().is_some_and(|u| u != user.as_str())
            && actor.is_member()
        {
            return Err(ServiceError::not_found("handshake not found"));
        }
        let now = self.clock.now().millis();
        let status = match h.status.as_str() {
            "completed" => "completed",
            "failed" => "failed",
            _ if h.expires_at <= now => "expired",
            _ => "pending",
        };
        Ok(HandshakeView {
            id: h.id,
            status,
            provider: h.provider,
            connection_id: h.connection_id.filter(|_| status == "completed"),
            error: h.error_code.map(|c| (c, h.error_message.unwrap_or_default())),
            expires_at: Timestamp::from_millis(h.expires_at),
        })
    }

    /// Completes a flow from the provider's redirect. Never panics, never stores anything on a refused request.
    /// `cookies` are the browser's, for flows bound to one browser.
    pub async fn oauth_callback(
        &self,
        query: &BTreeMap<String, String>,
        cookies: &BTreeMap<String, String>,
    ) -> CallbackOutcome {
        let page = |status: u16, title: &str, message: String| CallbackOutcome::Page {
            ok: false,
            title: title.to_owned(),
            message,
            notify: None,
            http_status: status,
        };
        let Some(state) = query.get("state").filter(|s| !s.is_empty()) else {
            return page(
                400,
                "This sign-in link is incomplete",
                "The provider sent no state. Start connecting again from the app.".into(),
            );
        };
        let digest = TokenDigest::of(state);
        let now = self.clock.now();
        let h = match self.store.consume_handshake(digest.as_str(), now.millis()).await {
            Ok(Some(h)) => h,
            Ok(None) => {
                let message = match self.store.handshake_by_state(digest.as_str()).await {
                    Ok(Some(h)) if h.status != "pending" => {
                        "This sign-in link was already used. Start connecting again from the app."
                    }
                    Ok(Some(_)) => "This sign-in link has expired. Start connecting again from the app.",
                    Ok(None) => "This sign-in link is unknown. Start connecting again from the app.",
                    Err(_) => "This sign-in could not be checked right now. Try again in a moment.",
                };
                return page(400, "This sign-in cannot be completed", message.into());
            }
            Err(e) => {
                tracing::error!(error = %e, "reading a handshake");
                return page(
                    503,
                    "Please try again",
                    "The server could not complete the sign-in right now. Start connecting again in a moment.".into(),
                );
            }
        };
        let result = match browser_matches(&h, cookies) {
            true => self.complete_handshake(&h, query, now).await,
            false => Err((
                "browser_mismatch".to_owned(),
                "the sign-in finished in another browser than the one that started it; nothing was stored".to_owned(),
            )),
        };
        match result {
            Ok(connection_id) => {
                let _ = self
                    .store
                    .finish_handshake(&h.id, "completed", Some(&connection_id), None, self.clock.now().millis())
                    .await;
                self.callback_answer(&h, Ok(&connection_id))
            }
            Err((code, message)) => {
                tracing::info!(handshake = %h.id, provider = %h.provider, code, "OAuth flow failed");
                let _ = self
                    .store
                    .finish_handshake(&h.id, "failed", None, Some((&code, &message)), self.clock.now().millis())
                    .await;
                let _ = self
                    .audit_as(
                        &h.started_by,
                        AuditEvent {
                            org: Some(&h.org),
                            action: "oauth.callback",
                            target_kind: "handshake",
                            target_id: &h.id,
                            outcome: Outcome::Failure,
                            detail: serde_json::json!({ "provider": h.provider, "code": code }),
                        },
                    )
                    .await;
                self.callback_answer(&h, Err((&code, &message)))
            }
        }
    }

    fn callback_answer(&self, h: &HandshakeRecord, result: Result<&str, (&str, &str)>) -> CallbackOutcome {
        if let Some(target) = h.redirect_uri.as_deref().and_then(|r| url::Url::parse(r).ok()) {
            let mut target = target;
            {
                let mut q = target.query_pairs_mut();
                match result {
                    Ok(id) => {
                        q.append_pair("status", "success");
                        q.append_pair("connection_id", id);
                    }
                    Err((code, _)) => {
                        q.append_pair("status", "error");
                        q.append_pair("code", code);
                    }
                }
                q.append_pair("handshake_id", &h.id);
            }
            return CallbackOutcome::Redirect(target);
        }
        let provider = self.catalog.get(&h.provider).map_or_else(|| h.provider.clone(), |p| p.name.clone());
        // The page tells its opener only when the operator named the app's origins: a message to
        // any origin ("*") would hand the result to whatever page opened this window.
        let can_notify = !self.settings.allowed_redirects.is_empty();
        let no_opener = " This server has no app origins configured (SWITCHBOARD_ALLOWED_REDIRECTS), so this window cannot tell the app: close it and go back to the app.";
        let (ok, title, message, notify) = match result {
            Ok(id) => (
                true,
                format!("{provider} is connected"),
                "You can close this window.".to_owned(),
                serde_json::json!({ "type": "switchboard:oauth", "status": "success", "connection_id": id, "handshake_id": h.id }),
            ),
            // A fixed text per code; the provider's own words go to the handshake's error.
            Err((code, _)) => (
                false,
                format!("{provider} was not connected"),
                failure_message(code).to_owned(),
                serde_json::json!({ "type": "switchboard:oauth", "status": "error", "code": code, "handshake_id": h.id }),
            ),
        };
        CallbackOutcome::Page {
            ok,
            title,
            message: if can_notify { message } else { format!("{message}{no_opener}") },
            notify: can_notify.then_some(notify),
            http_status: 200,
        }
    }

    /// Checks the callback, exchanges the code and stores the connection; `(code, message)` on failure.
    async fn complete_handshake(
        &self,
        h: &HandshakeRecord,
        query: &BTreeMap<String, String>,
        now: Timestamp,
    ) -> Result<String, (String, String)> {
        let fail = |code: &str, message: String| (code.to_owned(), message);
        let integration = match self.store.integration(&h.integration).await {
            Ok(Some(i)) => i,
            _ => {
                return Err(fail(
                    "integration_removed",
                    format!("the integration {:?} was removed during the sign-in", h.integration),
                ));
            }
        };
        let provider = self
            .catalog
            .get(&h.provider)
            .cloned()
            .ok_or_else(|| fail("server_error", "the provider left the catalog".into()))?;
        let mut account_params: BTreeMap<String, String> = serde_json::from_str(&h.params).unwrap_or_default();
        let app = self
            .oauth_app(&integration, &provider, &account_params)
            .await
            .map_err(|e| fail("server_error", e.to_string()))?;

        // RFC 9207: a server that always names itself must do so; a missing `iss` may be a mix-up.
        if app.spec.authorization_response_iss_parameter_supported
            && h.expected_issuer.is_some()
            && !query.contains_key("iss")
        {
            return Err(fail(
                "issuer_missing",
                "the response does not name its issuer (iss), which this provider always sends; nothing was stored"
                    .into(),
            ));
        }
        // RFC 9207: a response naming another issuer is a mix-up attack.
        if let (Some(expected), Some(iss)) = (&h.expected_issuer, query.get("iss"))
            && expected.trim_end_matches('/') != iss.trim_end_matches('/')
        {
            return Err(fail(
                "issuer_mismatch",
                format!("the response came from issuer {iss:?}, not {expected:?}; nothing was stored"),
            ));
        }
        if app.spec.callback_signature == Some(CallbackSignature::ShopifyHmac) {
            verify_shopify_hmac(query, app.client_secret.as_ref()).map_err(|m| fail("invalid_signature", m))?;
            let expected_shop = app.placeholders.get("shop").map(|s| format!("{s}.myshopify.com"));
            if query.get("shop").map(String::as_str) != expected_shop.as_deref() {
                return Err(fail(
                    "shop_mismatch",
                    "the callback names a different shop than the one the flow started for".into(),
                ));
            }
        }
        // Values the provider names on the callback (the account's data centre), within the
        // entry's pattern: requests then go to that account's own hosts.
        let mut named_on_callback = false;
        for (name, cp) in &app.spec.callback_placeholders {
            let Some(given) = query.get(&cp.param) else { continue };
            let value = switchboard_core::pattern::compiled(&cp.pattern)
                .ok()
                .and_then(|re| re.captures(given).and_then(|c| c.get(1)).map(|m| m.as_str().to_owned()))
                .ok_or_else(|| {
                    fail(
                        "invalid_request",
                        format!("the callback's {} {given:?} is not one {} is known to use", cp.param, provider.name),
                    )
                })?;
            account_params.insert(name.clone(), value);
            named_on_callback = true;
        }
        let app = if named_on_callback {
            self.oauth_app(&integration, &provider, &account_params)
                .await
                .map_err(|e| fail("invalid_request", e.to_string()))?
        } else {
            app
        };
        if let Some(err) = query.get("error") {
            let description = query.get("error_description").cloned().unwrap_or_else(|| match err.as_str() {
                "access_denied" => "the user did not grant access".into(),
                other => other.replace('_', " "),
            });
            return Err((sanitize_code(err), crate::services::credentials::connector::scrub(&description, &[])));
        }
        let code = query
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| fail("invalid_request", "the provider sent neither a code nor an error".into()))?;

        let verifier = match &h.pkce_verifier {
            Some(sealed) => {
                let plain = self
                    .vault
                    .open_sealed(&verifier_binding(&h.org, &h.id), sealed)
                    .await
                    .map_err(|e| fail("server_error", e.to_string()))?;
                Some(SecretString::from(String::from_utf8_lossy(&plain).into_owned()))
            }
            None => None,
        };
        let answer = app
            .exchange_code(&self.outbound, code, verifier.as_ref().map(|v| v.expose_secret()))
            .await
            .map_err(|e| {
                fail(
                    if matches!(e, oauth::TokenError::Grant { .. }) {
                        "invalid_grant"
                    } else {
                        "token_exchange_failed"
                    },
                    e.to_string(),
                )
            })?;
        let answer =
            app.long_lived(&self.outbound, answer).await.map_err(|e| fail("token_exchange_failed", e.to_string()))?;

        let mut metadata = answer.metadata.clone();
        for (name, param) in &app.spec.callback_metadata {
            if let Some(v) = query.get(param) {
                metadata.insert(name.clone(), Value::String(v.clone()));
            }
        }
        let account = match app.identity(&self.outbound, &answer.tokens, &metadata).await {
            Ok(a) => a,
            Err(ServiceError::InvalidCredentials(m)) => return Err(fail("invalid_token", m)),
            Err(e) => {
                tracing::warn!(provider = %provider.id, error = %e, "could not read the account after connecting; storing the connection without it");
                Default::default()
            }
        };
        metadata.extend(account.metadata.clone());
        if let Some(existing) = &h.connection_id {
            self.check_same_account(h, existing, &account).await?;
        }
        self.store_oauth_connection(h, &app, answer, account, metadata, now)
            .await
            .map_err(|e| fail("server_error", e.to_string()))
    }

    /// Re-authorising keeps the connection's account: another one is refused
    /// unless the flow was started with `replace_account`.
    async fn check_same_account(
        &self,
        h: &HandshakeRecord,
        connection_id: &str,
        account: &crate::services::credentials::connector::Account,
    ) -> Result<(), (String, String)> {
        if h.replace_account != 0 {
            return Ok(());
        }
        let existing = match self.store.connection(connection_id, Some(&h.org)).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return Err(("connection_removed".into(), "the connection was removed during the sign-in".into()));
            }
            Err(e) => return Err(("server_error".into(), e.to_string())),
        };
        match (&existing.account_id, &account.id) {
            (Some(was), Some(now)) if was == now => Ok(()),
            (None, _) => Ok(()),
            (Some(_), Some(_)) => Err((
                "account_mismatch".into(),
                format!(
                    "signed in as {} but the connection is {}; nothing was stored (start again with replace_account to switch accounts)",
                    account.name.as_deref().or(account.id.as_deref()).unwrap_or("another account"),
                    existing.account_name.as_deref().or(existing.account_id.as_deref()).unwrap_or("another account"),
                ),
            )),
            (Some(_), None) => Err((
                "account_mismatch".into(),
                "the account signed in could not be read, so it cannot be checked against the connection's; nothing was stored".into(),
            )),
        }
    }

    async fn store_oauth_connection(
        &self,
        h: &HandshakeRecord,
        app: &OAuthApp,
        answer: TokenAnswer,
        account: crate::services::credentials::connector::Account,
        metadata: BTreeMap<String, Value>,
        now: Timestamp,
    ) -> ServiceResult<String> {
        let requested: Vec<String> = serde_json::from_str(&h.scopes).unwrap_or_default();
        let scopes = answer.scopes.clone().unwrap_or(requested);
        let lifetime = answer.expires_in.or(app.spec.token_lifetime_s);
        let expires_at = lifetime.map(|s| now.plus(Duration::from_secs(s)).millis());
        let refresh_at = if answer.tokens.refresh_token.is_some() { expires_at } else { None };
        let id = match &h.connection_id {
            Some(existing) => existing.clone(),
            None => ConnectionId::generate(now).to_string(),
        };
        let sealed = self.seal_tokens(&h.org, &id, &answer.tokens).await?;
        let label = h.label.clone().unwrap_or_else(|| match &account.name {
            Some(n) => format!("{} ({n})", app.provider.name),
            None => app.provider.name.clone(),
        });
        // Only the per-account values are the connection's; the rest is read from the integration each time.
        let public_params: BTreeMap<&String, &String> = app
            .placeholders
            .iter()
            .filter(|(k, _)| app.provider.placeholders.get(*k).is_some_and(|p| p.per_account))
            .collect();
        let rec = ConnectionRecord {
            id: id.clone(),
            org: h.org.clone(),
            owner: h.user_id.clone(),
            provider: app.provider.id.clone(),
            integration: Some(app.integration.clone()),
            auth_mode: "oauth2".into(),
            label,
            shared: h.shared,
            status: status::CONNECTED.into(),
            credentials: sealed,
            params: serde_json::to_string(&public_params).unwrap_or_else(|_| "{}".into()),
            scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
            expires_at,
            account_id: account.id.clone(),
            account_name: account.name.clone(),
            account_email: account.email.clone(),
            metadata: Value::Object(metadata.into_iter().collect()).to_string(),
            last_error: None,
            failure_count: 0,
            last_tested_at: None,
            last_refreshed_at: Some(now.millis()),
            last_sync_at: Some(now.millis()),
            created_at: now.millis(),
            updated_at: now.millis(),
            refresh_at,
            lease_owner: None,
            lease_until: None,
            sync_at: Some(now.plus(self.settings.sync_interval).millis()),
        };
        let action = if h.connection_id.is_some() {
            self.store.reauthorize_connection(&rec).await?;
            // Another account, or other scopes: nothing listed before stands.
            self.forget_connection_caches(&rec.id);
            "connection.reauthorize"
        } else {
            self.store.insert_connection(&rec).await?;
            self.forget_tool_catalogues();
            "connection.create"
        };
        let lifecycle = if h.connection_id.is_some() { "connection.reauthorized" } else { "connection.created" };
        self.emit_lifecycle(&rec.org, lifecycle, &rec.id, serde_json::json!({ "provider": rec.provider, "auth_mode": "oauth2", "account_id": rec.account_id, "account_name": rec.account_name }))
            .await;
        self.audit_as(
            &h.started_by,
            AuditEvent {
                org: Some(&rec.org),
                action,
                target_kind: "connection",
                target_id: &rec.id,
                outcome: Outcome::Success,
                detail: serde_json::json!({ "provider": rec.provider, "auth_mode": "oauth2", "user": rec.owner, "scopes": scopes }),
            },
        )
        .await?;
        Ok(id)
    }

    pub async fn seal_tokens(&self, org: &str, id: &str, tokens: &OAuthTokens) -> ServiceResult<Vec<u8>> {
        let json = serde_json::to_vec(tokens).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let sealed = self.vault.seal(&token_binding(org, id), &json).await?;
        let mut json = json;
        zeroize::Zeroize::zeroize(&mut json);
        Ok(sealed)
    }

    pub(crate) async fn open_tokens(&self, rec: &ConnectionRecord) -> ServiceResult<OAuthTokens> {
        let plain = self.vault.open_sealed(&token_binding(&rec.org, &rec.id), &rec.credentials).await?;
        serde_json::from_slice(&plain).map_err(|e| ServiceError::Internal(format!("stored tokens: {e}")))
    }
}

/// Every placeholder's value: the integration's setting, else (for a
/// `per_account` placeholder) the connection's own value, else the default;
/// each checked against its pattern, and URLs against the https rule.
pub(crate) fn placeholder_values(
    provider: &Provider,
    settings: &Map<String, Value>,
    account: &BTreeMap<String, String>,
    allow_private: bool,
) -> ServiceResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (name, ph) in &provider.placeholders {
        let value = settings
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| account.get(name).filter(|_| ph.per_account).cloned())
            .or_else(|| ph.default.clone());
        let Some(value) = value else {
            let who = if ph.per_account { "the connect flow's params" } else { "the integration's settings" };
            return Err(ServiceError::invalid(
                name,
                format!(
                    "{} needs {} ({name}) in {who}: {}",
                    provider.name,
                    ph.label,
                    ph.help.as_deref().unwrap_or("see the catalog entry")
                ),
            ));
        };
        check_placeholder(ph, &value, allow_private).map_err(|why| {
            ServiceError::invalid(
                name,
                format!("{} {} ({name}) {value:?} is not valid: {why}", provider.name, ph.label),
            )
        })?;
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// A placeholder value against its pattern; a URL must be https (http only where private networks are allowed).
pub(crate) fn check_placeholder(
    ph: &switchboard_core::catalog::Placeholder,
    value: &str,
    allow_private: bool,
) -> Result<(), String> {
    let help = || ph.help.clone().unwrap_or_else(|| ph.pattern.clone());
    if !switchboard_core::pattern::is_match(&ph.pattern, value) {
        return Err(help());
    }
    if ph.format == Some(switchboard_core::catalog::PlaceholderFormat::Url) {
        let url = url::Url::parse(value).map_err(|e| format!("not a URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_private => {}
            _ => return Err("it must be an https URL".into()),
        }
    }
    Ok(())
}

/// Whether the browser finishing a bound flow holds its cookie.
fn browser_matches(h: &HandshakeRecord, cookies: &BTreeMap<String, String>) -> bool {
    let Some(expected) = &h.browser_digest else { return true };
    let Some(given) = cookies.get(&binding_cookie_name(&h.id)) else { return false };
    let given = TokenDigest::of(given);
    bool::from(subtle::ConstantTimeEq::ct_eq(given.as_str().as_bytes(), expected.as_bytes()))
}

/// What the callback page says for each failure: fixed texts, so no provider's
/// words are ever shown on this server's origin.
fn failure_message(code: &str) -> &'static str {
    match code {
        "access_denied" => "Access was not granted. You can close this window and try again from the app.",
        "browser_mismatch" => {
            "This sign-in was started in another browser. Start connecting again from the app, in this browser."
        }
        "account_mismatch" => {
            "You signed in with a different account than the one this connection belongs to. Nothing was changed."
        }
        "issuer_mismatch" | "issuer_missing" | "invalid_signature" | "shop_mismatch" => {
            "The answer from the provider could not be verified, so nothing was stored. Start connecting again from the app."
        }
        "integration_removed" | "connection_removed" => {
            "The app's connection settings changed during the sign-in. Start connecting again from the app."
        }
        _ => {
            "The provider did not complete the sign-in. Start connecting again from the app; if it keeps failing, tell the app's administrator."
        }
    }
}

/// Error codes go into the redirect's query: keep them to a safe alphabet.
fn sanitize_code(code: &str) -> String {
    let c: String = code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').take(64).collect();
    if c.is_empty() { "provider_error".into() } else { c }
}

/// Shopify: `hmac` is hex HMAC-SHA256 (keyed with the app's client secret) of
/// the other query parameters, sorted by name and joined as `k=v&…`.
fn verify_shopify_hmac(query: &BTreeMap<String, String>, secret: Option<&SecretString>) -> Result<(), String> {
    let given = query.get("hmac").ok_or("the callback carries no hmac")?;
    let given = hex::decode(given).map_err(|_| "the callback's hmac is not hex")?;
    let secret = secret.ok_or("the integration has no client secret to check the callback with")?;
    let message = query
        .iter()
        .filter(|(k, _)| *k != "hmac" && *k != "signature")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()).map_err(|_| "bad key")?;
    mac.update(message.as_bytes());
    mac.verify_slice(&given)
        .map_err(|_| "the callback's hmac does not match: it was not sent by Shopify for this app".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_must_stay_under_an_allowed_prefix() {
        let allowed = vec!["https://app.example.com/integrations/".to_owned(), "https://admin.example.com".to_owned()];
        let ok = |u: &str| redirect_allowed(&url::Url::parse(u).unwrap(), &allowed);
        assert!(ok("https://app.example.com/integrations/done?x=1"));
        assert!(ok("https://admin.example.com/anything"));
        assert!(!ok("https://app.example.com/other"));
        assert!(!ok("https://app.example.com.evil.com/integrations/"));
        assert!(!ok("http://app.example.com/integrations/"));
        assert!(!ok("https://app.example.com:8443/integrations/"));
        assert!(!redirect_allowed(&url::Url::parse("https://app.example.com/integrations/").unwrap(), &[]));
    }

    #[test]
    fn shopify_hmac_is_checked() {
        let secret = SecretString::from("hush".to_owned());
        let mut q: BTreeMap<String, String> =
            [("code", "abc"), ("shop", "acme.myshopify.com"), ("state", "s"), ("timestamp", "1")]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"hush").unwrap();
        mac.update(b"code=abc&shop=acme.myshopify.com&state=s&timestamp=1");
        q.insert("hmac".into(), hex::encode(mac.finalize().into_bytes()));
        assert!(verify_shopify_hmac(&q, Some(&secret)).is_ok());
        q.insert("code".into(), "tampered".into());
        assert!(verify_shopify_hmac(&q, Some(&secret)).is_err());
    }
}
