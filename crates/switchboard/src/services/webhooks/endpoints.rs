//! Inbound webhooks: endpoints with sealed secrets, and intake — challenges,
//! verification on the raw bytes, the provider's event id, type and account,
//! attribution to a connection, and the event committed (with the deliveries
//! it starts) before the sender hears 2xx.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use switchboard_core::access::Principal;
use switchboard_core::catalog::{Provider, path};
use switchboard_core::ids::{EndpointId, OrgId};
use switchboard_core::time::Timestamp;
use switchboard_core::vault::Binding;
use switchboard_core::webhook::{self, Scheme, SchemeChoiceError};
use zeroize::Zeroize;

use super::events::event_record;
use crate::services::audit::{AuditEvent, Outcome};
use crate::services::{ServiceError, ServiceResult, Services, access};
use crate::store::{ConnectionFilter, EndpointRecord, Page, StoreError};

/// The sealed part of an endpoint.
#[derive(Serialize, Deserialize, Default)]
struct Secrets {
    /// The current secret first; a previous one is kept while a rotation is under way.
    secrets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verify_token: Option<String>,
}

impl Drop for Secrets {
    fn drop(&mut self) {
        for s in &mut self.secrets {
            s.zeroize();
        }
        if let Some(t) = &mut self.verify_token {
            t.zeroize();
        }
    }
}

/// An endpoint as callers see it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub org: String,
    pub provider: String,
    pub scheme: String,
    pub connection_id: Option<String>,
    /// 2 while a rotation keeps the previous secret.
    pub secrets: usize,
    pub created_at: Timestamp,
}

#[derive(Debug)]
pub struct CreatedEndpoint {
    pub endpoint: Endpoint,
    /// Shown once when Switchboard generated it.
    pub secret: Option<SecretString>,
    pub verify_token: Option<String>,
}

#[derive(Debug, Default)]
pub struct NewEndpoint {
    pub provider: String,
    pub org: Option<String>,
    pub secret: Option<SecretString>,
    pub connection: Option<String>,
    pub scheme: Option<String>,
    pub verify_token: Option<String>,
}

/// A request as it arrived at `/hooks/{id}`.
#[derive(Debug)]
pub struct Incoming {
    pub method: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
}

impl webhook::Headers for Incoming {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the intake answers.
#[derive(Debug)]
pub enum Intake {
    Accepted { event_id: String, duplicate: bool, reply: Option<Value> },
    Challenge { content_type: &'static str, body: String },
    Refused { status: u16, code: &'static str, message: String },
    NotFound,
}

/// An endpoint ready to verify against: record and opened secrets.
struct OpenEndpoint {
    rec: EndpointRecord,
    scheme: Scheme,
    provider: Arc<Provider>,
    secrets: Secrets,
    loaded: Instant,
}

/// Recently used endpoints, so a burst of webhooks costs no database read and
/// no vault open per request. Entries live a few seconds; changes here drop them.
#[derive(Default)]
pub struct EndpointCache {
    entries: Mutex<HashMap<String, Arc<OpenEndpoint>>>,
}

impl std::fmt::Debug for EndpointCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndpointCache")
    }
}

const CACHE_TTL: Duration = Duration::from_secs(5);

impl EndpointCache {
    fn get(&self, id: &str) -> Option<Arc<OpenEndpoint>> {
        let map = self.entries.lock().ok()?;
        map.get(id).filter(|e| e.loaded.elapsed() < CACHE_TTL).cloned()
    }

    fn put(&self, e: Arc<OpenEndpoint>) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(e.rec.id.clone(), e);
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(id);
        }
    }
}

fn binding<'a>(org: &'a str, id: &'a str) -> Binding<'a> {
    Binding { org, table: "webhook_endpoints", row: id, field: "secrets" }
}

/// The verification scheme a catalog scheme (and, for generic senders, the endpoint's choice) means.
fn scheme_for(provider: &Provider, asked: Option<&str>) -> ServiceResult<Scheme> {
    let declared = provider.webhooks.as_ref().map(|w| w.scheme).ok_or_else(|| {
        ServiceError::invalid(
            "provider",
            format!(
                "{} sends no webhooks Switchboard can verify; the generic provider \"webhook\" takes any sender",
                provider.name
            ),
        )
    })?;
    Scheme::choose(declared, asked).map_err(|e| match e {
        SchemeChoiceError::NotGeneric(other) => ServiceError::invalid(
            "scheme",
            format!("scheme is shared-secret, hmac-sha256 or standard-webhooks (got {other:?})"),
        ),
        SchemeChoiceError::Fixed(scheme) => ServiceError::invalid(
            "scheme",
            format!("{} webhooks are verified with the {} scheme; leave scheme out", provider.name, scheme.as_str()),
        ),
    })
}

/// Checks a secret's form where the scheme has one.
fn check_secret(scheme: Scheme, provider: &Provider, secret: &str) -> ServiceResult<()> {
    let bad = |m: String| Err(ServiceError::invalid("secret", m));
    match scheme {
        Scheme::Discord if !(secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit())) => {
            bad("Discord's secret is the application's public key: 64 hex characters from the Developer Portal (General Information → Public Key)".into())
        }
        Scheme::StandardWebhooks if webhook::standard_webhooks_key(secret.as_bytes()).is_none() => {
            bad("a Standard Webhooks secret is whsec_ followed by base64".into())
        }
        Scheme::Stripe if !secret.starts_with("whsec_") => bad(format!("{}'s endpoint signing secret starts with whsec_ (Developers → Webhooks → the endpoint → Signing secret)", provider.name)),
        _ if secret.is_empty() || secret.len() > 1024 => bad("the secret must be 1 to 1024 characters".into()),
        _ => Ok(()),
    }
}

impl Services {
    fn endpoint_url(&self, id: &str) -> String {
        let mut u = self.settings.public_url.clone();
        u.set_path(&format!("/hooks/{id}"));
        u.to_string()
    }

    fn endpoint_view(&self, rec: &EndpointRecord, secrets: usize) -> Endpoint {
        Endpoint {
            id: rec.id.clone(),
            url: self.endpoint_url(&rec.id),
            org: rec.org.clone(),
            provider: rec.provider.clone(),
            scheme: rec.scheme.clone(),
            connection_id: rec.connection_id.clone(),
            secrets,
            created_at: Timestamp::from_millis(rec.created_at),
        }
    }

    async fn seal_secrets(&self, org: &str, id: &str, s: &Secrets) -> ServiceResult<Vec<u8>> {
        let mut json = serde_json::to_vec(s).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let sealed = self.vault.seal(&binding(org, id), &json).await?;
        json.zeroize();
        Ok(sealed)
    }

    async fn open_secrets(&self, rec: &EndpointRecord) -> ServiceResult<Secrets> {
        let plain = self.vault.open_sealed(&binding(&rec.org, &rec.id), &rec.secrets).await?;
        serde_json::from_slice(&plain).map_err(|e| ServiceError::Internal(format!("endpoint secrets: {e}")))
    }

    pub async fn create_endpoint(&self, actor: &Principal, input: NewEndpoint) -> ServiceResult<CreatedEndpoint> {
        let requested =
            input.org.as_deref().map(OrgId::parse).transpose().map_err(|e| ServiceError::invalid("org", e.0))?;
        actor.require_admin("creating webhook endpoints").map_err(|e| access(e, "org"))?;
        let org = actor
            .acting_org(requested.as_ref())
            .map_err(|e| access(e, "org"))?
            .ok_or_else(|| ServiceError::invalid("org", "org is required"))?;
        let provider = self.catalog.get(&input.provider).cloned().ok_or_else(|| {
            ServiceError::invalid("provider", format!("provider {:?} is not in the catalog", input.provider))
        })?;
        let scheme = scheme_for(&provider, input.scheme.as_deref())?;
        if let Some(c) = &input.connection {
            let conn = self
                .visible_connection(actor, c)
                .await
                .map_err(|_| ServiceError::invalid("connection", format!("connection {c:?} not found")))?;
            if conn.org != org.as_str() {
                return Err(ServiceError::invalid("connection", format!("connection {c:?} not found")));
            }
        }
        let (secret, generated) = match input.secret {
            Some(s) => {
                check_secret(scheme, &provider, s.expose_secret())?;
                (s.expose_secret().to_owned(), false)
            }
            None if scheme.secret_is_ours() => (webhook::generate_secret(scheme), true),
            None => {
                return Err(ServiceError::invalid(
                    "secret",
                    format!(
                        "{} assigns the signing secret: copy it from {}'s webhook settings into `secret`",
                        provider.name, provider.name
                    ),
                ));
            }
        };
        let verify_token = match scheme {
            Scheme::Meta => {
                Some(input.verify_token.unwrap_or_else(|| hex::encode(switchboard_core::random::bytes::<16>())))
            }
            _ => None,
        };
        let now = self.clock.now();
        let id = EndpointId::generate().to_string();
        let secrets = Secrets { secrets: vec![secret.clone()], verify_token: verify_token.clone() };
        let rec = EndpointRecord {
            id: id.clone(),
            org: org.to_string(),
            provider: provider.id.clone(),
            scheme: scheme.as_str().to_owned(),
            connection_id: input.connection,
            secrets: self.seal_secrets(org.as_str(), &id, &secrets).await?,
            created_at: now.millis(),
            updated_at: now.millis(),
        };
        self.store.insert_endpoint(&rec).await?;
        self.audit(
            actor,
            AuditEvent {
                org: Some(org.as_str()),
                action: "webhook_endpoint.create",
                target_kind: "webhook_endpoint",
                target_id: &id,
                outcome: Outcome::Success,
                detail: serde_json::json!({ "provider": provider.id, "scheme": scheme.as_str() }),
            },
        )
        .await?;
        Ok(CreatedEndpoint {
            endpoint: self.endpoint_view(&rec, 1),
            secret: generated.then(|| SecretString::from(secret)),
            verify_token,
        })
    }

    pub async fn list_endpoints(
        &self,
        actor: &Principal,
        org: Option<&OrgId>,
        page: Page,
    ) -> ServiceResult<Vec<Endpoint>> {
        let scope = actor.scope(org).map_err(|e| access(e, "org"))?;
        let recs = self.store.endpoints(scope.filter(), &page).await?;
        let mut out = Vec::with_capacity(recs.len());
        for r in &recs {
            let n = self.open_secrets(r).await.map(|s| s.secrets.len()).unwrap_or(0);
            out.push(self.endpoint_view(r, n));
        }
        Ok(out)
    }

    async fn visible_endpoint(&self, actor: &Principal, id: &str) -> ServiceResult<EndpointRecord> {
        let scope = actor.scope(None).map_err(|e| access(e, "webhook endpoint"))?;
        self.store.endpoint(id, scope.filter()).await?.ok_or_else(|| {
            ServiceError::not_found(format!(
                "webhook endpoint {:?} not found",
                switchboard_core::ids::truncate_for_message(id)
            ))
        })
    }

    pub async fn delete_endpoint(&self, actor: &Principal, id: &str) -> ServiceResult<()> {
        let rec = self.visible_endpoint(actor, id).await?;
        actor.require_admin("deleting webhook endpoints").map_err(|e| access(e, "webhook endpoint"))?;
        self.store.delete_endpoint(&rec.id).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::not_found("webhook endpoint not found"),
            other => other.into(),
        })?;
        self.endpoint_cache.forget(&rec.id);
        self.audit(
            actor,
            AuditEvent {
                org: Some(&rec.org),
                action: "webhook_endpoint.delete",
                target_kind: "webhook_endpoint",
                target_id: &rec.id,
                outcome: Outcome::Success,
                detail: serde_json::json!({ "provider": rec.provider }),
            },
        )
        .await
    }

    /// Rotates an endpoint's secret: the new one (given, or generated where the
    /// scheme allows) becomes current and the old one is still accepted until
    /// `drop_previous`.
    pub async fn rotate_endpoint_secret(
        &self,
        actor: &Principal,
        id: &str,
        new_secret: Option<SecretString>,
        drop_previous: bool,
    ) -> ServiceResult<(Endpoint, Option<SecretString>)> {
        let rec = self.visible_endpoint(actor, id).await?;
        actor.require_admin("rotating webhook secrets").map_err(|e| access(e, "webhook endpoint"))?;
        let (scheme, provider) = self.endpoint_scheme(&rec)?;
        let mut secrets = self.open_secrets(&rec).await?;
        let mut generated = None;
        if drop_previous {
            secrets.secrets.truncate(1);
        } else {
            let secret = match new_secret {
                Some(s) => {
                    check_secret(scheme, &provider, s.expose_secret())?;
                    s.expose_secret().to_owned()
                }
                None if scheme.secret_is_ours() => {
                    let s = webhook::generate_secret(scheme);
                    generated = Some(SecretString::from(s.clone()));
                    s
                }
                None => {
                    return Err(ServiceError::invalid(
                        "secret",
                        format!("{} assigns the signing secret: give the new one in `secret`", provider.name),
                    ));
                }
            };
            secrets.secrets.insert(0, secret);
            secrets.secrets.truncate(2);
        }
        let sealed = self.seal_secrets(&rec.org, &rec.id, &secrets).await?;
        self.store.update_endpoint_secrets(&rec.id, &sealed, self.clock.now().millis()).await?;
        self.endpoint_cache.forget(&rec.id);
        self.audit(
            actor,
            AuditEvent {
                org: Some(&rec.org),
                action: "webhook_endpoint.rotate_secret",
                target_kind: "webhook_endpoint",
                target_id: &rec.id,
                outcome: Outcome::Success,
                detail: serde_json::json!({ "secrets": secrets.secrets.len(), "dropped_previous": drop_previous }),
            },
        )
        .await?;
        Ok((self.endpoint_view(&rec, secrets.secrets.len()), generated))
    }

    /// A stored endpoint's scheme and catalog entry.
    fn endpoint_scheme(&self, rec: &EndpointRecord) -> ServiceResult<(Scheme, Arc<Provider>)> {
        let scheme = Scheme::parse(&rec.scheme)
            .ok_or_else(|| ServiceError::Internal(format!("stored scheme {}", rec.scheme)))?;
        let provider = self.catalog.get(&rec.provider).cloned().ok_or_else(|| {
            ServiceError::Internal(format!("provider {} of endpoint {} left the catalog", rec.provider, rec.id))
        })?;
        Ok((scheme, provider))
    }

    async fn open_endpoint(&self, id: &str) -> ServiceResult<Option<Arc<OpenEndpoint>>> {
        if let Some(e) = self.endpoint_cache.get(id) {
            return Ok(Some(e));
        }
        let Some(rec) = self.store.endpoint(id, None).await? else { return Ok(None) };
        let (scheme, provider) = self.endpoint_scheme(&rec)?;
        let secrets = self.open_secrets(&rec).await?;
        let open = Arc::new(OpenEndpoint { rec, scheme, provider, secrets, loaded: Instant::now() });
        self.endpoint_cache.put(open.clone());
        Ok(Some(open))
    }

    /// Handles one request to `/hooks/{id}`.
    pub async fn ingest(&self, id: &str, req: Incoming) -> ServiceResult<Intake> {
        if EndpointId::parse(id).is_none() {
            return Ok(Intake::NotFound);
        }
        let Some(ep) = self.open_endpoint(id).await? else { return Ok(Intake::NotFound) };
        let query: HashMap<String, String> = req
            .query
            .as_deref()
            .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();

        // Handshakes that come before any signed event.
        if ep.scheme == Scheme::MicrosoftGraph
            && let Some(token) = query.get("validationToken")
        {
            return Ok(Intake::Challenge { content_type: "text/plain; charset=utf-8", body: token.clone() });
        }
        if req.method == "GET" || req.method == "HEAD" {
            return Ok(match (ep.scheme, query.get("hub.mode").map(String::as_str)) {
                (Scheme::Meta, Some("subscribe")) => {
                    let given = query.get("hub.verify_token").map(String::as_bytes).unwrap_or_default();
                    let expected = ep.secrets.verify_token.as_deref().unwrap_or_default().as_bytes();
                    if !expected.is_empty() && bool::from(subtle::ConstantTimeEq::ct_eq(given, expected)) {
                        Intake::Challenge {
                            content_type: "text/plain; charset=utf-8",
                            body: query.get("hub.challenge").cloned().unwrap_or_default(),
                        }
                    } else {
                        Intake::Refused {
                            status: 403,
                            code: "forbidden",
                            message: "hub.verify_token does not match this endpoint's verify token".into(),
                        }
                    }
                }
                // Trello checks that the callback URL answers before it creates a webhook.
                _ => Intake::Challenge { content_type: "text/plain; charset=utf-8", body: String::new() },
            });
        }

        let url = match &req.query {
            Some(q) => format!("{}?{q}", self.endpoint_url(id)),
            None => self.endpoint_url(id),
        };
        let content_type = webhook::Headers::get(&req, "content-type").map(str::to_owned);
        let verdict = {
            let secrets: Vec<&[u8]> = ep.secrets.secrets.iter().map(String::as_bytes).collect();
            let request = webhook::Request {
                url: &url,
                content_type: content_type.as_deref(),
                headers: &req,
                body: &req.body,
                now_s: self.clock.now().millis() / 1000,
            };
            webhook::verify(ep.scheme, &secrets, &request)
        };
        if let Err(refusal) = verdict {
            self.metrics.observe_webhook(&ep.rec.provider, "refused");
            self.refused_webhooks.record(&ep.rec.id, self.clock.now().millis(), &refusal.to_string());
            return Ok(Intake::Refused {
                status: 401,
                code: "unauthenticated",
                message: format!("the request is not from {}: {refusal}", ep.provider.name),
            });
        }
        let doc: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        // Handshakes that are themselves signed.
        if ep.scheme == Scheme::Slack && doc.get("type").and_then(Value::as_str) == Some("url_verification") {
            return Ok(Intake::Challenge {
                content_type: "application/json",
                body: serde_json::json!({ "challenge": doc.get("challenge").cloned().unwrap_or_default() }).to_string(),
            });
        }
        if ep.scheme == Scheme::Discord && doc.get("type").and_then(Value::as_i64) == Some(1) {
            return Ok(Intake::Challenge { content_type: "application/json", body: r#"{"type":1}"#.into() });
        }

        let webhooks = ep.provider.webhooks.as_ref();
        let read = |source: Option<&String>| source.and_then(|s| read_source(s, &req, &doc));
        let provider_event_id = read(webhooks.and_then(|w| w.event_id.as_ref()))
            .or_else(|| webhook::Headers::get(&req, "webhook-id").map(str::to_owned))
            .or_else(|| webhook::Headers::get(&req, "I-Twilio-Idempotency-Token").map(str::to_owned));
        // The provider's id names the event only where the signature covers it (or a timestamp
        // bounds replays); elsewhere a header id is anyone's to change, so a repeat of the exact
        // bytes within the replay window is the same event, whatever id it carries.
        let id_is_signed = ep.scheme.signs_id_or_timestamp();
        let dedupe_key = match (&provider_event_id, id_is_signed) {
            (Some(id), true) => id.clone(),
            _ => format!("sha256:{}", hex::encode(Sha256::digest(&req.body))),
        };
        let same_since = (!id_is_signed).then(|| {
            self.clock.now().millis()
                - i64::try_from(self.settings.webhook_replay_window.as_millis()).unwrap_or(i64::MAX)
        });
        // Refused before anything is stored: the provider retries later, nothing acknowledged is dropped.
        if !self.event_quota_allows(&ep.rec.org, req.body.len()).await? {
            self.metrics.observe_webhook(&ep.rec.provider, "over_quota");
            return Ok(Intake::Refused {
                status: 507,
                code: "storage_quota_exceeded",
                message: format!(
                    "org {} has used its storage for events (SWITCHBOARD_EVENT_QUOTA_MB); older events are removed after SWITCHBOARD_EVENT_RETENTION_DAYS, or the operator can raise the quota",
                    ep.rec.org
                ),
            });
        }
        let kind = read(webhooks.and_then(|w| w.event_type.as_ref())).unwrap_or_else(|| "event".into());
        let account = read(webhooks.and_then(|w| w.account.as_ref()));
        let connection_id = match (&ep.rec.connection_id, &account) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(a)) => self.connection_for_account(&ep.rec.org, &ep.rec.provider, a).await?,
            (None, None) => None,
        };
        let headers = kept_headers(
            &req,
            webhooks.map(|w| [w.event_id.as_ref(), w.event_type.as_ref(), w.account.as_ref()]).unwrap_or_default(),
        );
        let event = event_record(
            self.clock.now(),
            Some(ep.rec.org.clone()),
            "webhook",
            Some(ep.rec.id.clone()),
            &ep.rec.provider,
            &format!("{}.{kind}", ep.rec.provider),
            provider_event_id,
            ep.rec.id.clone(),
            dedupe_key,
            connection_id,
            headers,
            req.body.to_vec(),
        );
        let (mut event_id, dedupe) = (event.id.clone(), (event.dedupe_scope.clone(), event.dedupe_key.clone()));
        let inserted = self.store_event(event, same_since).await?;
        if !inserted && let Some(existing) = self.store.event_id_by_dedupe(&dedupe.0, &dedupe.1).await? {
            // A repeat is answered with the id of the event first stored.
            event_id = existing;
        }
        self.metrics.observe_webhook(&ep.rec.provider, if inserted { "accepted" } else { "duplicate" });
        let reply = match ep.scheme {
            // A Discord interaction needs an interaction response within 3 s: acknowledge, answer later.
            Scheme::Discord => Some(serde_json::json!({ "type": 5 })),
            _ => None,
        };
        Ok(Intake::Accepted { event_id, duplicate: !inserted, reply })
    }

    /// The org's connection of this provider whose account id, or any metadata or
    /// field value, equals the value the provider named (team id, shop domain…).
    async fn connection_for_account(&self, org: &str, provider: &str, account: &str) -> ServiceResult<Option<String>> {
        let filter = ConnectionFilter {
            org: Some(org.to_owned()),
            provider: Some(provider.to_owned()),
            status: None,
            visible_to: None,
        };
        let candidates = self.store.connections(&filter, &Page { after: None, limit: 500 }).await?;
        Ok(candidates
            .into_iter()
            .find(|c| {
                c.account_id.as_deref() == Some(account)
                    || [&c.metadata, &c.params].iter().any(|json| {
                        serde_json::from_str::<Map<String, Value>>(json)
                            .map(|m| {
                                m.values().any(|v| {
                                    v.as_str() == Some(account)
                                        || v.as_i64().map(|n| n.to_string()).as_deref() == Some(account)
                                })
                            })
                            .unwrap_or(false)
                    })
            })
            .map(|c| c.id))
    }
}

/// Reads `header:NAME`, `query:NAME` or `body:PATH`.
fn read_source(source: &str, req: &Incoming, doc: &Value) -> Option<String> {
    match source.split_once(':')? {
        ("header", name) => webhook::Headers::get(req, name).map(str::to_owned),
        ("body", p) => path::get_text(doc, p),
        ("query", name) => req.query.as_deref().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
        }),
        _ => None,
    }
}

/// The headers worth keeping with an event: content type, sender, and the ones
/// the catalog reads. Signatures are not kept: they have done their job.
fn kept_headers(req: &Incoming, sources: [Option<&String>; 3]) -> Value {
    let named: Vec<String> =
        sources.iter().flatten().filter_map(|s| s.strip_prefix("header:")).map(str::to_ascii_lowercase).collect();
    let keep = |k: &str| {
        let k = k.to_ascii_lowercase();
        matches!(k.as_str(), "content-type" | "user-agent" | "webhook-id" | "webhook-timestamp") || named.contains(&k)
    };
    Value::Object(
        req.headers
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone())))
            .collect(),
    )
}
