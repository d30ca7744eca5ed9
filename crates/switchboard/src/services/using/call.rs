//! Calling a provider as a connection: its credentials applied the way the
//! catalog says (an OAuth token, API-key fields, a service-account token),
//! refreshed first where due, one forced refresh and one retry on a 401, and
//! the connection moved to `needs_reauth` when the provider still refuses it.
//! Resource listings and actions use this; the proxy signs with the same `Signer`.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::ExposeSecret as _;
use serde_json::{Map, Value};
use switchboard_core::catalog::{CredentialMode, Provider, RequestSpec, path};
use switchboard_core::time::Timestamp;

use crate::outbound::{OutboundRequest, OutboundResponse};
use crate::services::credentials::connections::status;
use crate::services::credentials::connector::{self, Credentials, Fields, Vars};
use crate::services::{ServiceError, ServiceResult, Services};
use crate::store::ConnectionRecord;

/// A connection's credentials, opened for one call. Never printed.
pub(crate) struct Signer {
    pub rec: ConnectionRecord,
    pub provider: Arc<Provider>,
    mode: Option<CredentialMode>,
    fields: Option<Fields>,
    token: Option<String>,
    placeholders: BTreeMap<String, String>,
    metadata: BTreeMap<String, Value>,
    /// The API base URL the integration names (custom-oauth2), as a template.
    integration_base: Option<String>,
    /// The HTTP status of the last answer received with these credentials.
    pub last_status: Option<u16>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("connection", &self.rec.id).finish_non_exhaustive()
    }
}

impl Signer {
    /// The base URL relative paths are appended to: the mode's own, else the provider's.
    #[must_use]
    pub(crate) fn base(&self) -> Option<&str> {
        if let Some(own) = &self.integration_base {
            return Some(own);
        }
        self.mode
            .and_then(|m| self.provider.credentials.get(&m))
            .and_then(|spec| spec.base_url.as_deref())
            .or(self.provider.api_base_url.as_deref())
    }

    /// Template values: the connection's own, plus `extra` (parents, `q`, `cursor`…).
    #[must_use]
    pub(crate) fn vars<'a>(&'a self, extra: &BTreeMap<String, String>) -> Vars<'a> {
        let mut placeholders = self.placeholders.clone();
        placeholders.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut v =
            Vars { fields: self.fields.as_ref(), extra: BTreeMap::new(), placeholders, metadata: Some(&self.metadata) };
        if let Some(t) = &self.token {
            v.extra.insert("access_token", t.clone());
        }
        v
    }

    pub(crate) fn credentials(&self) -> Credentials<'_> {
        let apply = match self.mode {
            Some(m) if m != CredentialMode::ServiceAccount => {
                self.provider.credentials.get(&m).and_then(|spec| spec.auth.as_ref())
            }
            Some(_) => None,
            None => self.provider.oauth2.as_ref().and_then(|o| o.auth.as_ref()),
        };
        Credentials { apply, bearer: self.token.as_deref(), client: None }
    }

    /// Values that must never appear in an error or a log.
    #[must_use]
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.token.iter().cloned().collect();
        if let (Some(fields), Some(spec)) = (&self.fields, self.mode.and_then(|m| self.provider.credentials.get(&m))) {
            out.extend(fields.secrets(spec));
        }
        out
    }

    /// The request a catalog spec describes, signed as this connection; `extra` fills its templates.
    pub(crate) fn build(&self, spec: &RequestSpec, extra: &BTreeMap<String, String>) -> ServiceResult<OutboundRequest> {
        connector::build_request(&self.provider, spec, self.base(), &self.vars(extra), &self.credentials())
    }

    /// Signs an already-built request (a next-page URL the provider handed out).
    pub(crate) fn sign_url(&self, url: url::Url) -> ServiceResult<OutboundRequest> {
        let spec =
            RequestSpec { url: Some(url.as_str().replace('{', "{{").replace('}', "}}")), ..RequestSpec::default() };
        self.build(&spec, &BTreeMap::new())
    }
}

/// What a provider's answer means, once read.
pub(crate) enum Answer {
    /// The answer's document, and its `Link` header (GitHub's pages).
    Ok {
        doc: Value,
        link: Option<String>,
    },
    Unauthorized(String),
    Forbidden {
        reason: String,
        scope: Option<String>,
    },
    NotFound(String),
    RateLimited {
        reason: String,
        retry_after_s: Option<u64>,
    },
    Failed(String),
}

/// Reads an answer: HTTP status, the provider's rate-limit signals, and errors inside 200s.
pub(crate) fn read_answer(
    provider: &Provider,
    spec: &RequestSpec,
    res: &OutboundResponse,
    secrets: &[String],
) -> Answer {
    let reason = || connector::provider_reason(provider, res, secrets);
    if let Some(after) = connector::rate_limited(provider, res) {
        return Answer::RateLimited { reason: reason(), retry_after_s: after };
    }
    let doc = if res.body.is_empty() { Value::Object(Map::new()) } else { res.json().unwrap_or(Value::Null) };
    // The provider's own error code, where it says more than the status (Meta answers an expired
    // token with a 400 and code 190; Slack with a 200 and `ok: false`).
    let by_code = |doc: &Value| -> Option<Answer> {
        let errors = provider.body_errors.as_ref()?;
        let code = path::get_text(doc, &errors.path)?;
        let is = |codes: &[String]| codes.contains(&code);
        Some(if is(&errors.unauthorized) {
            Answer::Unauthorized(reason())
        } else if is(&errors.forbidden) {
            Answer::Forbidden {
                reason: reason(),
                scope: errors.scope_path.as_deref().and_then(|p| path::get_text(doc, p)),
            }
        } else if is(&errors.not_found) {
            Answer::NotFound(reason())
        } else if is(&errors.rate_limited) {
            Answer::RateLimited { reason: reason(), retry_after_s: res.retry_after() }
        } else {
            return None;
        })
    };
    if res.status.as_u16() >= 400
        && let Some(answer) = by_code(&doc)
    {
        return answer;
    }
    match res.status.as_u16() {
        401 => return Answer::Unauthorized(reason()),
        403 => return Answer::Forbidden { reason: reason(), scope: None },
        404 | 410 => return Answer::NotFound(reason()),
        s if s >= 400 => return Answer::Failed(format!("HTTP {s}: {}", reason())),
        s if (300..400).contains(&s) => {
            return Answer::Failed(format!(
                "a redirect (HTTP {s}), which is not followed for requests that carry credentials"
            ));
        }
        _ => {}
    }
    if let Some(ok) = &spec.ok_field
        && path::get(&doc, ok) != Some(&Value::Bool(true))
    {
        return by_code(&doc).unwrap_or_else(|| Answer::Failed(reason()));
    }
    let link = res.headers.get(reqwest::header::LINK).and_then(|v| v.to_str().ok()).map(str::to_owned);
    Answer::Ok { doc, link }
}

impl Services {
    /// The connection's credentials ready to sign requests; OAuth tokens are
    /// refreshed first when due, or anyway with `force`.
    pub(crate) async fn signer(&self, rec: ConnectionRecord, force: bool) -> ServiceResult<Signer> {
        let provider = self.provider(&rec.provider)?;
        let metadata: BTreeMap<String, Value> = serde_json::from_str(&rec.metadata).unwrap_or_default();
        if rec.status == status::NEEDS_REAUTH {
            return Err(needs_reauth(&rec));
        }
        if rec.auth_mode == "oauth2" {
            let (rec, tokens) = if force {
                self.fresh_tokens(rec, true).await.map(|(r, t, _)| (r, t))
            } else {
                self.oauth_credentials(rec).await
            }
            .map_err(|e| match e {
                ServiceError::InvalidCredentials(m) => ServiceError::NeedsReauth(m),
                other => other,
            })?;
            let (placeholders, integration_base) = self.integration_context(&rec, &provider).await?;
            return Ok(Signer {
                token: Some(tokens.access_token.clone()),
                rec,
                provider,
                mode: None,
                fields: None,
                placeholders,
                metadata,
                integration_base,
                last_status: None,
            });
        }
        let mode = CredentialMode::parse(&rec.auth_mode)
            .ok_or_else(|| ServiceError::Internal(format!("stored auth mode {:?}", rec.auth_mode)))?;
        let fields = self.open_fields(&rec).await?;
        let token = if mode == CredentialMode::ServiceAccount {
            let (t, _, _) = self.service_account_token(&provider, &rec, &fields).await?;
            Some(t.expose_secret().to_owned())
        } else {
            None
        };
        Ok(Signer {
            rec,
            provider,
            mode: Some(mode),
            fields: Some(fields),
            token,
            placeholders: BTreeMap::new(),
            metadata,
            integration_base: None,
            last_status: None,
        })
    }

    /// The placeholder values an OAuth connection's API URLs use (a Shopify shop, a tenant), and
    /// the API base URL a custom-oauth2 integration names.
    async fn integration_context(
        &self,
        rec: &ConnectionRecord,
        provider: &Provider,
    ) -> ServiceResult<(BTreeMap<String, String>, Option<String>)> {
        let custom = provider.id == crate::services::integrations::CUSTOM_OAUTH2;
        if provider.placeholders.is_empty() && !custom {
            return Ok((BTreeMap::new(), None));
        }
        let Some(integration) = &rec.integration else { return Ok((BTreeMap::new(), None)) };
        let Some(integration) = self.store.integration(integration).await? else {
            return Ok((BTreeMap::new(), None));
        };
        let settings: Map<String, Value> = serde_json::from_str(&integration.settings).unwrap_or_default();
        let account: BTreeMap<String, String> = serde_json::from_str(&rec.params).unwrap_or_default();
        let placeholders = crate::services::oauth::connect::placeholder_values(
            provider,
            &settings,
            &account,
            self.settings.allow_private_networks,
        )?;
        // A literal URL used where a template is expected: its braces are text.
        let base = custom
            .then(|| settings.get("api_base_url").and_then(Value::as_str))
            .flatten()
            .map(|u| u.replace('{', "{{").replace('}', "}}"));
        Ok((placeholders, base))
    }

    /// Sends what `make` builds as the connection. A 401 forces one refresh (OAuth)
    /// and one retry; refused again, the connection needs re-authorisation (409).
    pub(crate) async fn send_signed(
        &self,
        rec: ConnectionRecord,
        spec: &RequestSpec,
        make: &(dyn Fn(&Signer) -> ServiceResult<OutboundRequest> + Send + Sync),
    ) -> ServiceResult<(Signer, Answer)> {
        let signer = self.signer(rec, false).await?;
        let (signer, answer) = self.send_once(signer, spec, make).await?;
        let Answer::Unauthorized(_) = answer else { return Ok((signer, answer)) };
        // One retry: with refreshed tokens for OAuth, with the same key otherwise (a provider's
        // passing refusal should not cost the user a reconnect).
        let again = self.signer(signer.rec.clone(), true).await?;
        let (again, answer) = self.send_once(again, spec, make).await?;
        match answer {
            Answer::Unauthorized(reason) => Err(self.mark_needs_reauth(&again.rec, &reason).await),
            other => Ok((again, other)),
        }
    }

    async fn send_once(
        &self,
        mut signer: Signer,
        spec: &RequestSpec,
        make: &(dyn Fn(&Signer) -> ServiceResult<OutboundRequest> + Send + Sync),
    ) -> ServiceResult<(Signer, Answer)> {
        let req = make(&signer)?;
        let started = std::time::Instant::now();
        let res = self.outbound.send(req).await;
        self.metrics.observe_provider_call(&signer.provider.id, started.elapsed().as_secs_f64());
        let res = res.map_err(|e| match e {
            // The request may have arrived: whether it was acted on is not known.
            crate::outbound::OutboundError::Timeout { .. } => {
                ServiceError::ProviderUncertain(format!("{} did not answer in time: {e}", signer.provider.name))
            }
            e => ServiceError::Provider(format!("{} could not be reached: {e}", signer.provider.name)),
        })?;
        signer.last_status = Some(res.status.as_u16());
        let answer = read_answer(&signer.provider, spec, &res, &signer.secrets());
        Ok((signer, answer))
    }

    /// Records that the provider refuses the connection's credentials, tells subscribers, and
    /// answers with the 409 the caller gets.
    pub(super) async fn mark_needs_reauth(&self, rec: &ConnectionRecord, reason: &str) -> ServiceError {
        let now = self.clock.now();
        let message = format!("{} refused the connection's credentials: {reason}", rec.provider);
        if let Err(e) =
            self.store.record_connection_test(&rec.id, status::NEEDS_REAUTH, Some(&message), None, now.millis()).await
        {
            tracing::warn!(connection = %rec.id, error = %e, "could not record needs_reauth");
        }
        if rec.status != status::NEEDS_REAUTH {
            self.emit_lifecycle(
                &rec.org,
                "connection.needs_reauth",
                &rec.id,
                serde_json::json!({ "provider": rec.provider, "reason": message, "at": Timestamp::to_rfc3339(now) }),
            )
            .await;
        }
        self.forget_connection_caches(&rec.id);
        ServiceError::NeedsReauth(format!(
            "{message}; connect it again (POST /v1/oauth/start with \"connection\": \"{}\", or new credentials)",
            rec.id
        ))
    }
}

fn needs_reauth(rec: &ConnectionRecord) -> ServiceError {
    ServiceError::NeedsReauth(format!(
        "connection {} needs to be connected again ({}); start the connect flow with this connection",
        rec.id,
        rec.last_error.as_deref().unwrap_or("the provider no longer accepts its credentials")
    ))
}
