//! Where events go: subscriptions (a URL and a `whsec_` secret), and the
//! delivery of events to them, signed the Standard Webhooks way, retried on a
//! schedule, dead-lettered, every attempt recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use switchboard_core::access::Principal;
use switchboard_core::ids::{EndpointId, OrgId, SubscriptionId};
use switchboard_core::time::Timestamp;
use switchboard_core::vault::Binding;
use switchboard_core::webhook::{self, Scheme};

use super::events::event_data;
use crate::outbound::{OutboundError, OutboundRequest};
use crate::services::audit::{AuditEvent, Outcome};
use crate::services::group_commit::GroupCommit;
use crate::services::{ServiceError, ServiceResult, Services, access};
use crate::store::{
    AttemptOutcome, AttemptRecord, AttemptToRecord, DeliveryFilter, DeliveryRecord, EventRecord, Page, Store,
    StoreError, SubscriptionRecord,
};

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub org: Option<String>,
    pub endpoint_id: Option<String>,
    pub event_types: Vec<String>,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
}

impl From<&SubscriptionRecord> for Subscription {
    fn from(s: &SubscriptionRecord) -> Self {
        Self {
            id: s.id.clone(),
            url: s.url.clone(),
            org: s.org.clone(),
            endpoint_id: s.endpoint_id.clone(),
            event_types: serde_json::from_str(&s.event_types).unwrap_or_default(),
            status: s.status.clone(),
            disabled_reason: s.disabled_reason.clone(),
            created_at: Timestamp::from_millis(s.created_at),
        }
    }
}

#[derive(Debug, Default)]
pub struct NewSubscription {
    pub url: String,
    pub org: Option<String>,
    pub endpoint: Option<String>,
    pub event_types: Option<Vec<String>>,
}

/// A delivery with its attempts.
#[derive(Debug)]
pub struct Delivery {
    pub record: DeliveryRecord,
    pub attempts: Vec<AttemptRecord>,
}

/// Subscription secrets opened recently, so a busy worker does not open the vault per delivery.
#[derive(Default)]
pub struct SecretCache {
    entries: Mutex<HashMap<String, (SecretString, Instant)>>,
}

impl std::fmt::Debug for SecretCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretCache")
    }
}

fn binding(id: &str) -> Binding<'_> {
    Binding { org: "", table: "subscriptions", row: id, field: "secret" }
}

/// ±20 % jitter.
fn jittered(d: Duration) -> Duration {
    d.mul_f64(0.8 + 0.4 * switchboard_core::random::unit_f64())
}

/// A claimed delivery with what its attempt sends: `None` where the subscription or the
/// event is gone.
#[derive(Debug)]
pub struct PreparedDelivery {
    pub delivery: DeliveryRecord,
    pub subscription: Option<Arc<SubscriptionRecord>>,
    pub event: Option<EventRecord>,
}

/// Records delivery attempts with group commit: attempts that end while a batch is being
/// committed share the next transaction (and its fsync). Each attempt's task still waits until
/// its record is durable before it frees its slot.
#[derive(Clone, Debug)]
pub struct AttemptWriter(GroupCommit<AttemptToRecord, bool>);

impl AttemptWriter {
    /// Starts the writer task; it ends when the last handle is dropped.
    #[must_use]
    pub fn spawn(store: Store) -> Self {
        Self(GroupCommit::spawn("delivery attempt", move |batch: Vec<AttemptToRecord>| {
            let store = store.clone();
            async move { store.record_attempts(&batch).await }
        }))
    }

    /// Whether the attempt was recorded: false when the delivery's lease lapsed first.
    pub async fn write(&self, attempt: AttemptToRecord) -> crate::store::StoreResult<bool> {
        self.0.write(attempt).await
    }
}

impl Services {
    pub async fn create_subscription(
        &self,
        actor: &Principal,
        input: NewSubscription,
    ) -> ServiceResult<(Subscription, SecretString)> {
        actor.require_secret_key("managing subscriptions").map_err(|e| access(e, "subscription"))?;
        let url =
            url::Url::parse(&input.url).map_err(|e| ServiceError::invalid("url", format!("url is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ServiceError::invalid("url", "url must be an http(s) URL of the receiver"));
        }
        self.check_subscriber_host(&url).await?;
        let org = input.org.as_deref().map(OrgId::parse).transpose().map_err(|e| ServiceError::invalid("org", e.0))?;
        if let Some(e) = &input.endpoint
            && (EndpointId::parse(e).is_none() || self.store.endpoint(e, None).await?.is_none())
        {
            return Err(ServiceError::invalid("endpoint", format!("webhook endpoint {e:?} not found")));
        }
        let types = input.event_types.unwrap_or_default();
        if let Some(bad) = types.iter().find(|t| t.is_empty() || t.len() > 200 || t.contains(char::is_whitespace)) {
            return Err(ServiceError::invalid(
                "event_types",
                format!("event types are names such as \"github.push\" or \"stripe.*\" (got {bad:?})"),
            ));
        }
        let now = self.clock.now();
        let id = SubscriptionId::generate(now).to_string();
        let secret = SecretString::from(webhook::generate_secret(Scheme::StandardWebhooks));
        let rec = SubscriptionRecord {
            id: id.clone(),
            url: url.to_string(),
            org: org.map(|o| o.to_string()),
            endpoint_id: input.endpoint,
            event_types: serde_json::to_string(&types).unwrap_or_else(|_| "[]".into()),
            secret: self.vault.seal(&binding(&id), secret.expose_secret().as_bytes()).await?,
            status: "active".into(),
            disabled_reason: None,
            created_at: now.millis(),
            updated_at: now.millis(),
        };
        self.store.insert_subscription(&rec).await?;
        self.audit(
            actor,
            AuditEvent {
                org: rec.org.as_deref(),
                action: "subscription.create",
                target_kind: "subscription",
                target_id: &id,
                outcome: Outcome::Success,
                detail: serde_json::json!({ "url": rec.url, "event_types": types }),
            },
        )
        .await?;
        Ok((Subscription::from(&rec), secret))
    }

    /// Subscriber URLs must not point into the private network unless the operator allows it
    /// (checked again, by DNS, every time a delivery connects).
    async fn check_subscriber_host(&self, url: &url::Url) -> ServiceResult<()> {
        if self.settings.allow_private_networks {
            return Ok(());
        }
        let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<std::net::SocketAddr> = match tokio::net::lookup_host((host, port)).await {
            Ok(a) => a.collect(),
            Err(_) => return Ok(()), // not resolvable now; the connect-time check decides
        };
        if addrs.iter().any(|a| !crate::outbound::is_public(a.ip())) {
            return Err(ServiceError::invalid(
                "url",
                format!(
                    "{host} is a private or loopback address, which this server does not allow (SWITCHBOARD_ALLOW_PRIVATE_NETWORKS)"
                ),
            ));
        }
        Ok(())
    }

    pub async fn list_subscriptions(&self, actor: &Principal, page: Page) -> ServiceResult<Vec<Subscription>> {
        actor.require_secret_key("reading subscriptions").map_err(|e| access(e, "subscription"))?;
        Ok(self.store.subscriptions(&page).await?.iter().map(Subscription::from).collect())
    }

    pub async fn delete_subscription(&self, actor: &Principal, id: &str) -> ServiceResult<()> {
        actor.require_secret_key("managing subscriptions").map_err(|e| access(e, "subscription"))?;
        self.store.delete_subscription(id, self.clock.now().millis()).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::not_found(format!(
                "subscription {:?} not found",
                switchboard_core::ids::truncate_for_message(id)
            )),
            other => other.into(),
        })?;
        if let Ok(mut c) = self.secret_cache.entries.lock() {
            c.remove(id);
        }
        self.audit(
            actor,
            AuditEvent {
                org: None,
                action: "subscription.delete",
                target_kind: "subscription",
                target_id: id,
                outcome: Outcome::Success,
                detail: serde_json::json!({}),
            },
        )
        .await
    }

    pub async fn list_deliveries(
        &self,
        actor: &Principal,
        filter: DeliveryFilter,
        page: Page,
    ) -> ServiceResult<Vec<Delivery>> {
        actor.require_secret_key("reading deliveries").map_err(|e| access(e, "delivery"))?;
        let records = self.store.deliveries(&filter, &page).await?;
        let ids: Vec<String> = records.iter().map(|d| d.id.clone()).collect();
        let mut attempts: HashMap<String, Vec<AttemptRecord>> = HashMap::new();
        for a in self.store.attempts(&ids).await? {
            attempts.entry(a.delivery_id.clone()).or_default().push(a);
        }
        Ok(records
            .into_iter()
            .map(|r| Delivery { attempts: attempts.remove(&r.id).unwrap_or_default(), record: r })
            .collect())
    }

    async fn subscription_secret(&self, s: &SubscriptionRecord) -> ServiceResult<SecretString> {
        if let Some((secret, at)) = self.secret_cache.entries.lock().ok().and_then(|m| m.get(&s.id).cloned())
            && at.elapsed() < Duration::from_secs(30)
        {
            return Ok(secret);
        }
        let plain = self.vault.open_sealed(&binding(&s.id), &s.secret).await?;
        let secret = SecretString::from(String::from_utf8_lossy(&plain).into_owned());
        if let Ok(mut m) = self.secret_cache.entries.lock() {
            m.insert(s.id.clone(), (secret.clone(), Instant::now()));
        }
        Ok(secret)
    }

    /// Gives up a delivery without sending it.
    async fn end_delivery(&self, d: &DeliveryRecord, status: &'static str, error: &str) -> ServiceResult<()> {
        let outcome = AttemptOutcome {
            status,
            next_attempt_at: None,
            status_code: None,
            latency_ms: 0,
            error: Some(error.to_owned()),
            now: self.clock.now().millis(),
        };
        self.store.record_attempt(d, &self.instance_id, outcome).await?;
        Ok(())
    }

    /// Claimed deliveries with their subscriptions and events, read in two queries for the
    /// lot rather than two per delivery.
    pub async fn prepare_deliveries(&self, claimed: Vec<DeliveryRecord>) -> ServiceResult<Vec<PreparedDelivery>> {
        let mut sub_ids: Vec<&str> = claimed.iter().map(|d| d.subscription_id.as_str()).collect();
        sub_ids.sort_unstable();
        sub_ids.dedup();
        let event_ids: Vec<&str> = claimed.iter().map(|d| d.event_id.as_str()).collect();
        let subs: HashMap<String, Arc<SubscriptionRecord>> =
            self.store.subscriptions_by_id(&sub_ids).await?.into_iter().map(|s| (s.id.clone(), Arc::new(s))).collect();
        let mut events: HashMap<String, EventRecord> =
            self.store.events_by_id(&event_ids).await?.into_iter().map(|e| (e.id.clone(), e)).collect();
        Ok(claimed
            .into_iter()
            .map(|d| PreparedDelivery {
                subscription: subs.get(&d.subscription_id).cloned(),
                event: events.remove(&d.event_id),
                delivery: d,
            })
            .collect())
    }

    /// Makes one attempt of a delivery this instance holds, and records it.
    pub async fn attempt_delivery(&self, prepared: PreparedDelivery) -> ServiceResult<()> {
        let owner = self.instance_id.clone();
        let now = self.clock.now();
        let PreparedDelivery { delivery: d, subscription, event } = prepared;
        let Some(sub) = subscription else {
            return self.end_delivery(&d, "cancelled", "the subscription was deleted").await;
        };
        if sub.status != "active" {
            return self.end_delivery(&d, "cancelled", &format!("the subscription is {}", sub.status)).await;
        }
        let Some(event) = event else {
            return self.end_delivery(&d, "dead", "the event no longer exists").await;
        };
        let secret = self.subscription_secret(&sub).await?;
        let payload = serde_json::json!({
            "id": event.id,
            "type": event.event_type,
            "provider": event.provider,
            "provider_event_id": event.provider_event_id,
            "endpoint_id": event.endpoint_id,
            "org": event.org,
            "connection_id": event.connection_id,
            "received_at": Timestamp::from_millis(event.received_at).to_rfc3339(),
            "headers": serde_json::from_str::<Value>(&event.headers).unwrap_or_default(),
            "data": event_data(&event),
        });
        let body = payload.to_string();
        let ts = now.millis() / 1000;
        // The event id is the message id: the same on every attempt and replay, so receivers can deduplicate.
        let signature =
            webhook::standard_webhooks_sign(secret.expose_secret().as_bytes(), &event.id, ts, body.as_bytes())
                .ok_or_else(|| ServiceError::Internal("subscription secret is not a whsec_ secret".into()))?;
        let url =
            url::Url::parse(&sub.url).map_err(|e| ServiceError::Internal(format!("stored subscriber URL: {e}")))?;
        let mut req = OutboundRequest::new(Method::POST, url);
        req.retry = false;
        req.timeout = Some(self.settings.delivery_timeout);
        req.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in [
            ("webhook-id", event.id.as_str()),
            ("webhook-timestamp", &ts.to_string()),
            ("webhook-signature", signature.as_str()),
        ] {
            if let Ok(v) = HeaderValue::from_str(value) {
                req.headers.insert(name, v);
            }
        }
        req.body = Some(body.into());
        let started = Instant::now();
        let result = self.outbound.send(req).await;
        let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let attempt = usize::try_from(d.attempts + 1).unwrap_or(usize::MAX);
        let schedule = &self.settings.delivery_schedule;
        let retry_at = |retry_after: Option<u64>| -> Option<i64> {
            let wait = schedule.get(attempt)?;
            let wait = jittered(*wait).max(Duration::from_secs(retry_after.unwrap_or(0)));
            Some(now.plus(wait).millis())
        };
        let (status, next, code, error) = match &result {
            Ok(res) if res.status.is_success() => ("succeeded", None, Some(res.status.as_u16()), None),
            Ok(res) if res.status.as_u16() == 410 => (
                "dead",
                None,
                Some(410),
                Some("the receiver answered 410 Gone: the subscription is disabled".to_owned()),
            ),
            Ok(res) => {
                let next = retry_at(res.retry_after());
                (
                    if next.is_some() { "pending" } else { "dead" },
                    next,
                    Some(res.status.as_u16()),
                    Some(format!("the receiver answered HTTP {}", res.status.as_u16())),
                )
            }
            Err(e) => {
                let next = retry_at(None);
                let message = match e {
                    OutboundError::Refused(m) => m.clone(),
                    other => other.to_string(),
                };
                (if next.is_some() { "pending" } else { "dead" }, next, None, Some(message))
            }
        };
        self.metrics.observe_delivery(status, latency_ms);
        let outcome = AttemptOutcome {
            status,
            next_attempt_at: next,
            status_code: code.map(i32::from),
            latency_ms,
            error,
            now: now.millis(),
        };
        let attempt = AttemptToRecord { delivery_id: d.id.clone(), attempts_before: d.attempts, owner, outcome };
        if !self.attempt_writer.write(attempt).await? {
            tracing::warn!(delivery = %d.id, "the delivery lease lapsed before the attempt was recorded");
        }
        if code == Some(410) {
            self.store.disable_subscription(&sub.id, "the receiver answered 410 Gone", now.millis()).await?;
        }
        Ok(())
    }
}
