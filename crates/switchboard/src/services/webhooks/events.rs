//! Events: every received webhook and every connection lifecycle change,
//! stored durably with the deliveries it starts, listed, replayed.

use crate::services::group_commit::GroupCommit;
use crate::services::{ServiceError, ServiceResult, Services, access};
use crate::store::{
    DeliveryRecord, EventFilter, EventRecord, EventSummary, NewEvent, Page, Store, StoreResult, SubscriptionRecord,
};
use serde_json::Value;
use switchboard_core::access::Principal;
use switchboard_core::ids::{DeliveryId, EventId, OrgId};
use switchboard_core::time::Timestamp;

/// Stores events with group commit, each with the deliveries it starts; wakes
/// the deliverer when something new was stored. Each write answers `true` when
/// the event is new, `false` when the same event was stored before.
#[derive(Clone, Debug)]
pub struct EventWriter(GroupCommit<NewEvent, bool>);

impl EventWriter {
    #[must_use]
    pub fn spawn(store: Store, stored: std::sync::Arc<tokio::sync::Notify>) -> Self {
        Self(GroupCommit::spawn("event", move |batch: Vec<NewEvent>| {
            let (store, stored) = (store.clone(), stored.clone());
            async move {
                let items: Vec<&NewEvent> = batch.iter().collect();
                let inserted = store.insert_events(&items).await?;
                if inserted.iter().any(|i| *i) {
                    stored.notify_one();
                }
                Ok(inserted)
            }
        }))
    }

    pub async fn write(&self, event: NewEvent) -> StoreResult<bool> {
        self.0.write(event).await
    }
}

/// How old a cached figure of an org's stored event bytes may be.
pub const USAGE_FRESHNESS: std::time::Duration = std::time::Duration::from_secs(1);

/// Each org's stored event bytes as last read, plus what this instance stored
/// since: the quota check costs no database read per webhook.
#[derive(Debug, Default)]
pub struct EventUsage {
    entries: std::sync::Mutex<std::collections::HashMap<String, (u64, std::time::Instant)>>,
}

impl EventUsage {
    fn get(&self, org: &str) -> Option<u64> {
        let map = self.entries.lock().ok()?;
        map.get(org).filter(|(_, at)| at.elapsed() < USAGE_FRESHNESS).map(|(bytes, _)| *bytes)
    }

    fn set(&self, org: &str, bytes: u64) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() > 10_000 {
                map.retain(|_, (_, at)| at.elapsed() < USAGE_FRESHNESS);
            }
            map.insert(org.to_owned(), (bytes, std::time::Instant::now()));
        }
    }

    fn add(&self, org: &str, size: usize) {
        if let Ok(mut map) = self.entries.lock()
            && let Some((bytes, _)) = map.get_mut(org)
        {
            *bytes = bytes.saturating_add(size as u64);
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
}

/// Builds an event record.
#[allow(clippy::too_many_arguments)]
#[must_use]
pub fn event_record(
    now: Timestamp,
    org: Option<String>,
    source: &str,
    endpoint_id: Option<String>,
    provider: &str,
    event_type: &str,
    provider_event_id: Option<String>,
    dedupe_scope: String,
    dedupe_key: String,
    connection_id: Option<String>,
    headers: Value,
    body: Vec<u8>,
) -> EventRecord {
    EventRecord {
        id: EventId::generate(now).to_string(),
        org,
        source: source.to_owned(),
        endpoint_id,
        provider: provider.to_owned(),
        event_type: event_type.to_owned(),
        provider_event_id,
        dedupe_scope,
        dedupe_key,
        connection_id,
        headers: headers.to_string(),
        body,
        received_at: now.millis(),
    }
}

/// Whether a subscription's type filter takes this event: empty takes all;
/// `stripe.*` takes a prefix; otherwise the exact type.
#[must_use]
pub fn type_matches(filters: &[String], event_type: &str) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| match f.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => f == event_type,
        })
}

/// An event as callers see it.
#[derive(Debug)]
pub struct Event {
    pub record: EventRecord,
}

impl Event {
    /// The body as JSON when it is JSON, as form fields when form-encoded, else base64.
    #[must_use]
    pub fn data(&self) -> Value {
        event_data(&self.record)
    }
}

pub(crate) fn event_data(e: &EventRecord) -> Value {
    if let Ok(v) = serde_json::from_slice::<Value>(&e.body) {
        return v;
    }
    let headers: serde_json::Map<String, Value> = serde_json::from_str(&e.headers).unwrap_or_default();
    let form = headers
        .get("content-type")
        .and_then(Value::as_str)
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        return Value::Object(
            url::form_urlencoded::parse(&e.body).into_owned().map(|(k, v)| (k, Value::String(v))).collect(),
        );
    }
    use base64::Engine as _;
    serde_json::json!({ "raw_base64": base64::engine::general_purpose::STANDARD.encode(&e.body) })
}

impl Services {
    /// Stores an event with a delivery for each matching subscription; `true` when new.
    /// With `same_since`, an event stored under the same key before then is another event.
    pub(crate) async fn store_event(&self, event: EventRecord, same_since: Option<i64>) -> ServiceResult<bool> {
        let now = self.clock.now().millis();
        let subscriptions = self.store.subscriptions_for(event.org.as_deref(), event.endpoint_id.as_deref()).await?;
        let deliveries = deliveries_for(&event, &subscriptions, now);
        let (org, size) = (event.org.clone(), event.body.len());
        let inserted = self.event_writer.write(NewEvent { event, deliveries, same_since }).await?;
        if inserted && let Some(org) = org {
            self.event_usage.add(&org, size);
        }
        Ok(inserted)
    }

    /// Whether `org` may store `size` more bytes of events; the figure read is at
    /// most [`USAGE_FRESHNESS`] old on each instance.
    pub(crate) async fn event_quota_allows(&self, org: &str, size: usize) -> ServiceResult<bool> {
        let used = match self.event_usage.get(org) {
            Some(used) => used,
            None => {
                let used = u64::try_from(self.store.event_usage(org).await?).unwrap_or(0);
                self.event_usage.set(org, used);
                used
            }
        };
        Ok(used.saturating_add(size as u64) <= self.settings.event_quota_bytes)
    }

    /// Deletes events older than the retention whose deliveries have ended, in bounded batches.
    pub async fn purge_old_events(&self) -> ServiceResult<u64> {
        let before =
            self.clock.now().millis() - i64::try_from(self.settings.event_retention.as_millis()).unwrap_or(i64::MAX);
        let mut total = 0;
        for _ in 0..100 {
            let n = self.store.purge_events(before, 1000).await?;
            total += n;
            if n < 1000 {
                break;
            }
        }
        self.event_usage.clear();
        Ok(total)
    }

    /// Announces a connection's lifecycle change to subscribers (`connection.created`, …).
    /// A failure to record it is logged: the change itself has happened.
    pub(crate) async fn emit_lifecycle(&self, org: &str, event_type: &str, connection_id: &str, data: Value) {
        let now = self.clock.now();
        let body = serde_json::json!({ "connection_id": connection_id, "org": org, "type": event_type, "data": data })
            .to_string()
            .into_bytes();
        let key = EventId::generate(now).to_string();
        let event = event_record(
            now,
            Some(org.to_owned()),
            "switchboard",
            None,
            "switchboard",
            event_type,
            None,
            "lifecycle".into(),
            key,
            Some(connection_id.to_owned()),
            serde_json::json!({}),
            body,
        );
        if let Err(e) = self.store_event(event, None).await {
            tracing::error!(connection = %connection_id, event_type, error = %e, "could not record a lifecycle event");
        }
    }

    pub async fn list_events(
        &self,
        actor: &Principal,
        org: Option<&OrgId>,
        mut filter: EventFilter,
        page: Page,
    ) -> ServiceResult<Vec<EventSummary>> {
        let scope = actor.scope(org).map_err(|e| access(e, "org"))?;
        actor.require_admin("reading events").map_err(|e| access(e, "org"))?;
        filter.org = scope.filter().map(str::to_owned);
        Ok(self.store.events(&filter, &page).await?)
    }

    /// One event with its body (secret key, or an admin of its org).
    pub async fn get_event(&self, actor: &Principal, id: &str) -> ServiceResult<Event> {
        let scope = actor.scope(None).map_err(|e| access(e, "event"))?;
        actor.require_admin("reading events").map_err(|e| access(e, "event"))?;
        let record = self.store.event(id, scope.filter()).await?.ok_or_else(|| {
            ServiceError::not_found(format!("event {:?} not found", switchboard_core::ids::truncate_for_message(id)))
        })?;
        Ok(Event { record })
    }

    /// Delivers an event again to every active subscription that takes it (or to one).
    pub async fn replay_event(
        &self,
        actor: &Principal,
        id: &str,
        subscription: Option<&str>,
    ) -> ServiceResult<Vec<String>> {
        actor.require_secret_key("replaying events").map_err(|e| access(e, "event"))?;
        let event = self.store.event(id, None).await?.ok_or_else(|| {
            ServiceError::not_found(format!("event {:?} not found", switchboard_core::ids::truncate_for_message(id)))
        })?;
        let mut subs = self.store.subscriptions_for(event.org.as_deref(), event.endpoint_id.as_deref()).await?;
        if let Some(s) = subscription {
            subs.retain(|x| x.id == s);
            if subs.is_empty() {
                return Err(ServiceError::invalid(
                    "subscription",
                    format!("subscription {s:?} is not an active subscription that takes this event"),
                ));
            }
        }
        let deliveries = deliveries_for(&event, &subs, self.clock.now().millis());
        self.store.insert_deliveries(&deliveries).await?;
        self.delivery_wakeup.notify_one();
        Ok(deliveries.into_iter().map(|d| d.id).collect())
    }
}

fn deliveries_for(event: &EventRecord, subscriptions: &[SubscriptionRecord], now: i64) -> Vec<DeliveryRecord> {
    subscriptions
        .iter()
        .filter(|s| {
            type_matches(&serde_json::from_str::<Vec<String>>(&s.event_types).unwrap_or_default(), &event.event_type)
        })
        .map(|s| DeliveryRecord {
            id: DeliveryId::generate(Timestamp::from_millis(now)).to_string(),
            event_id: event.id.clone(),
            subscription_id: s.id.clone(),
            org: event.org.clone(),
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: Some(now),
            lease_owner: None,
            lease_until: None,
            last_status: None,
            last_error: None,
            last_latency_ms: None,
            created_at: now,
            updated_at: now,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters_take_exact_types_prefixes_or_everything() {
        let f = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(type_matches(&f(&[]), "stripe.charge.succeeded"));
        assert!(type_matches(&f(&["stripe.*"]), "stripe.charge.succeeded"));
        assert!(type_matches(&f(&["github.push"]), "github.push"));
        assert!(!type_matches(&f(&["github.push"]), "github.pull_request"));
        assert!(!type_matches(&f(&["connection.*"]), "github.push"));
    }
}
