//! Webhook endpoints, received events, subscriptions and deliveries.

use sqlx::FromRow;

use super::{Backend, Page, Store, StoreError, StoreResult};

#[derive(Debug, Clone, FromRow)]
pub struct EndpointRecord {
    pub id: String,
    pub org: String,
    pub provider: String,
    pub scheme: String,
    pub connection_id: Option<String>,
    pub secrets: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct EventRecord {
    pub id: String,
    pub org: Option<String>,
    pub source: String,
    pub endpoint_id: Option<String>,
    pub provider: String,
    pub event_type: String,
    pub provider_event_id: Option<String>,
    pub dedupe_scope: String,
    pub dedupe_key: String,
    pub connection_id: Option<String>,
    /// JSON object of the headers kept.
    pub headers: String,
    pub body: Vec<u8>,
    pub received_at: i64,
}

impl From<&EventRecord> for EventSummary {
    fn from(e: &EventRecord) -> Self {
        Self {
            id: e.id.clone(),
            org: e.org.clone(),
            source: e.source.clone(),
            endpoint_id: e.endpoint_id.clone(),
            provider: e.provider.clone(),
            event_type: e.event_type.clone(),
            provider_event_id: e.provider_event_id.clone(),
            connection_id: e.connection_id.clone(),
            body_size: i64::try_from(e.body.len()).unwrap_or(i64::MAX),
            received_at: e.received_at,
        }
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct SubscriptionRecord {
    pub id: String,
    pub url: String,
    pub org: Option<String>,
    pub endpoint_id: Option<String>,
    /// JSON array; empty means every type.
    pub event_types: String,
    pub secret: Vec<u8>,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRecord {
    pub id: String,
    pub event_id: String,
    pub subscription_id: String,
    pub org: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i32>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct AttemptRecord {
    pub delivery_id: String,
    pub attempt: i32,
    pub at: i64,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
}

/// An event to store, with the deliveries it starts.
#[derive(Debug)]
pub struct NewEvent {
    pub event: EventRecord,
    pub deliveries: Vec<DeliveryRecord>,
    /// An event stored under the same key before this instant no longer counts
    /// as the same event (the replay window of schemes deduplicated by body).
    pub same_since: Option<i64>,
}

/// An event as lists show it: everything but the body, and the body's size.
#[derive(Debug, Clone, FromRow)]
pub struct EventSummary {
    pub id: String,
    pub org: Option<String>,
    pub source: String,
    pub endpoint_id: Option<String>,
    pub provider: String,
    pub event_type: String,
    pub provider_event_id: Option<String>,
    pub connection_id: Option<String>,
    pub body_size: i64,
    pub received_at: i64,
}

/// The outcome of one delivery attempt.
#[derive(Debug)]
pub struct AttemptOutcome {
    pub status: &'static str,
    pub next_attempt_at: Option<i64>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    pub now: i64,
}

/// One attempt to record with others in one transaction ([`Store::record_attempts`]).
#[derive(Debug)]
pub struct AttemptToRecord {
    pub delivery_id: String,
    /// The attempts made before this one.
    pub attempts_before: i32,
    /// The instance that holds the delivery's lease.
    pub owner: String,
    pub outcome: AttemptOutcome,
}

#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub org: Option<String>,
    pub endpoint: Option<String>,
    pub provider: Option<String>,
    pub event_type: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct DeliveryFilter {
    pub subscription: Option<String>,
    pub status: Option<String>,
    pub event: Option<String>,
}

const ENDPOINT: &str = "id, org, provider, scheme, connection_id, secrets, created_at, updated_at";
const EVENT: &str = "id, org, source, endpoint_id, provider, event_type, provider_event_id, dedupe_scope, dedupe_key, connection_id, headers, body, received_at";
const EVENT_SUMMARY: &str = "id, org, source, endpoint_id, provider, event_type, provider_event_id, connection_id, \
     CAST(length(body) AS BIGINT) AS body_size, received_at";
const SUBSCRIPTION: &str =
    "id, url, org, endpoint_id, event_types, secret, status, disabled_reason, created_at, updated_at";
const DELIVERY: &str = "id, event_id, subscription_id, org, status, attempts, next_attempt_at, lease_owner, lease_until, last_status, last_error, last_latency_ms, created_at, updated_at";

impl Store {
    pub async fn insert_endpoint(&self, e: &EndpointRecord) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO webhook_endpoints ({ENDPOINT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(&e.id)
        .bind(&e.org)
        .bind(&e.provider)
        .bind(&e.scheme)
        .bind(e.connection_id.clone())
        .bind(&e.secrets)
        .bind(e.created_at)
        .bind(e.updated_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn endpoint(&self, id: &str, org: Option<&str>) -> StoreResult<Option<EndpointRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ENDPOINT} FROM webhook_endpoints WHERE id = $1 AND ($2 IS NULL OR org = $2)"
        )))
        .bind(id)
        .bind(org)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn endpoints(&self, org: Option<&str>, page: &Page) -> StoreResult<Vec<EndpointRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ENDPOINT} FROM webhook_endpoints WHERE ($1 IS NULL OR org = $1) AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
        )))
        .bind(org)
        .bind(page.after.clone())
        .bind(i64::from(page.limit))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn update_endpoint_secrets(&self, id: &str, secrets: &[u8], now: i64) -> StoreResult<()> {
        let done = sqlx::query("UPDATE webhook_endpoints SET secrets = $1, updated_at = $2 WHERE id = $3")
            .bind(secrets)
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    pub async fn delete_endpoint(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1").bind(id).execute(&self.writer).await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Stores events and their deliveries in one transaction (one commit for
    /// the whole batch); per event, whether it was new (`false`: a repeat).
    pub async fn insert_events(&self, batch: &[&NewEvent]) -> StoreResult<Vec<bool>> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(batch.len());
        let mut usage: std::collections::BTreeMap<&str, (i64, i64)> = std::collections::BTreeMap::new();
        for item in batch {
            let e = &item.event;
            if let Some(since) = item.same_since {
                // Outside the window the older event keeps its row under a key of its own.
                sqlx::query(
                    "UPDATE events SET dedupe_key = dedupe_key || '@' || id \
                     WHERE dedupe_scope = $1 AND dedupe_key = $2 AND received_at < $3",
                )
                .bind(&e.dedupe_scope)
                .bind(&e.dedupe_key)
                .bind(since)
                .execute(&mut *tx)
                .await?;
            }
            let inserted: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "INSERT INTO events ({EVENT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (dedupe_scope, dedupe_key) DO NOTHING RETURNING id"
            )))
            .bind(&e.id)
            .bind(e.org.clone())
            .bind(&e.source)
            .bind(e.endpoint_id.clone())
            .bind(&e.provider)
            .bind(&e.event_type)
            .bind(e.provider_event_id.clone())
            .bind(&e.dedupe_scope)
            .bind(&e.dedupe_key)
            .bind(e.connection_id.clone())
            .bind(&e.headers)
            .bind(&e.body)
            .bind(e.received_at)
            .fetch_optional(&mut *tx)
            .await?;
            if inserted.is_some() {
                for d in &item.deliveries {
                    insert_delivery(&mut tx, d).await?;
                }
                if let Some(org) = &e.org {
                    let u = usage.entry(org.as_str()).or_default();
                    u.0 += i64::try_from(e.body.len()).unwrap_or(i64::MAX);
                    u.1 += 1;
                }
            }
            out.push(inserted.is_some());
        }
        for (org, (bytes, events)) in usage {
            add_usage(&mut tx, org, bytes, events).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Bytes of event bodies stored for an org.
    pub async fn event_usage(&self, org: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT bytes FROM event_usage WHERE org = $1")
            .bind(org)
            .fetch_optional(&self.pool)
            .await?
            .unwrap_or(0))
    }

    /// Deletes up to `limit` events received before `before` whose deliveries
    /// have all ended (delivered, dead-lettered or disabled), with their
    /// deliveries and attempts; returns how many. Events still being delivered stay.
    pub async fn purge_events(&self, before: i64, limit: u32) -> StoreResult<u64> {
        let victims: Vec<(String, Option<String>, i64)> = sqlx::query_as(
            "SELECT id, org, CAST(length(body) AS BIGINT) FROM events e WHERE received_at < $1 \
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.next_attempt_at IS NOT NULL) \
             ORDER BY received_at LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        if victims.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let mut usage: std::collections::BTreeMap<&str, (i64, i64)> = std::collections::BTreeMap::new();
        let mut deleted = 0;
        for (id, org, size) in &victims {
            sqlx::query(
                "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM deliveries WHERE event_id = $1").bind(id).execute(&mut *tx).await?;
            // Re-checked inside the transaction: a replay may have started a delivery since.
            let done = sqlx::query(
                "DELETE FROM events WHERE id = $1 \
                   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                deleted += 1;
                if let Some(org) = org {
                    let u = usage.entry(org.as_str()).or_default();
                    u.0 -= size;
                    u.1 -= 1;
                }
            }
        }
        for (org, (bytes, events)) in usage {
            add_usage(&mut tx, org, bytes, events).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    pub async fn event(&self, id: &str, org: Option<&str>) -> StoreResult<Option<EventRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT} FROM events WHERE id = $1 AND ($2 IS NULL OR org = $2)"
        )))
        .bind(id)
        .bind(org)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The events with these ids, in no particular order (ids that name none are left out):
    /// one query for a batch of claimed deliveries rather than one each.
    pub async fn events_by_id(&self, ids: &[&str]) -> StoreResult<Vec<EventRecord>> {
        self.rows_by_id(&format!("SELECT {EVENT} FROM events"), ids).await
    }

    /// The id of the event stored under this deduplication key.
    pub async fn event_id_by_dedupe(&self, scope: &str, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM events WHERE dedupe_scope = $1 AND dedupe_key = $2")
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Newest first, without bodies.
    pub async fn events(&self, f: &EventFilter, page: &Page) -> StoreResult<Vec<EventSummary>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_SUMMARY} FROM events WHERE ($1 IS NULL OR org = $1) AND ($2 IS NULL OR endpoint_id = $2) \
               AND ($3 IS NULL OR provider = $3) AND ($4 IS NULL OR event_type = $4) AND ($5 IS NULL OR id < $5) \
             ORDER BY id DESC LIMIT $6"
        )))
        .bind(f.org.clone())
        .bind(f.endpoint.clone())
        .bind(f.provider.clone())
        .bind(f.event_type.clone())
        .bind(page.after.clone())
        .bind(i64::from(page.limit))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn insert_subscription(&self, s: &SubscriptionRecord) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO subscriptions ({SUBSCRIPTION}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(&s.id)
        .bind(&s.url)
        .bind(s.org.clone())
        .bind(s.endpoint_id.clone())
        .bind(&s.event_types)
        .bind(&s.secret)
        .bind(&s.status)
        .bind(s.disabled_reason.clone())
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn subscription(&self, id: &str) -> StoreResult<Option<SubscriptionRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {SUBSCRIPTION} FROM subscriptions WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The subscriptions with these ids, in no particular order (ids that name none are left out).
    pub async fn subscriptions_by_id(&self, ids: &[&str]) -> StoreResult<Vec<SubscriptionRecord>> {
        self.rows_by_id(&format!("SELECT {SUBSCRIPTION} FROM subscriptions"), ids).await
    }

    /// `select` (a `SELECT … FROM table` of the store's own text) for the rows whose `id` is one of `ids`.
    async fn rows_by_id<T>(&self, select: &str, ids: &[&str]) -> StoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(format!("{select} WHERE id IN ({})", placeholders(ids.len()))));
        for id in ids {
            q = q.bind(*id);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    pub async fn subscriptions(&self, page: &Page) -> StoreResult<Vec<SubscriptionRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION} FROM subscriptions WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
        )))
        .bind(page.after.clone())
        .bind(i64::from(page.limit))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Active subscriptions that may receive events of this org and endpoint.
    pub async fn subscriptions_for(
        &self,
        org: Option<&str>,
        endpoint: Option<&str>,
    ) -> StoreResult<Vec<SubscriptionRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION} FROM subscriptions WHERE status = 'active' \
               AND (org IS NULL OR org = $1) AND (endpoint_id IS NULL OR endpoint_id = $2)"
        )))
        .bind(org)
        .bind(endpoint)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Removes a subscription and gives up its pending deliveries.
    pub async fn delete_subscription(&self, id: &str, now: i64) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM subscriptions WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, updated_at = $1 WHERE subscription_id = $2 AND next_attempt_at IS NOT NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables a subscription (its receiver answered 410) and gives up its pending deliveries.
    pub async fn disable_subscription(&self, id: &str, reason: &str, now: i64) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE subscriptions SET status = 'disabled', disabled_reason = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, updated_at = $1 WHERE subscription_id = $2 AND next_attempt_at IS NOT NULL AND lease_owner IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn insert_deliveries(&self, deliveries: &[DeliveryRecord]) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for d in deliveries {
            insert_delivery(&mut tx, d).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` due deliveries (SKIP LOCKED on PostgreSQL).
    pub async fn claim_due_deliveries(
        &self,
        owner: &str,
        until: i64,
        now: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        let skip_locked = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE deliveries SET lease_owner = $1, lease_until = $2 \
             WHERE id IN (SELECT id FROM deliveries \
                          WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
                          ORDER BY next_attempt_at LIMIT $4 {skip_locked}) \
               AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING {DELIVERY}"
        )))
        .bind(owner)
        .bind(until)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.writer)
        .await?)
    }

    /// Records an attempt and its outcome, releasing the lease — only while `owner` holds it.
    pub async fn record_attempt(&self, d: &DeliveryRecord, owner: &str, o: AttemptOutcome) -> StoreResult<bool> {
        let attempt = AttemptToRecord {
            delivery_id: d.id.clone(),
            attempts_before: d.attempts,
            owner: owner.to_owned(),
            outcome: o,
        };
        Ok(self.record_attempts(std::slice::from_ref(&attempt)).await?.first().copied().unwrap_or(false))
    }

    /// Records several attempts in one transaction (one commit and one fsync for the lot); for
    /// each, in order, whether it was recorded: an attempt whose lease lapsed first is not.
    pub async fn record_attempts(&self, attempts: &[AttemptToRecord]) -> StoreResult<Vec<bool>> {
        let mut tx = self.begin_write().await?;
        let mut recorded = Vec::with_capacity(attempts.len());
        for a in attempts {
            let o = &a.outcome;
            let attempt = a.attempts_before + 1;
            let done = sqlx::query(
                "UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_status = $4, last_error = $5, \
                   last_latency_ms = $6, updated_at = $7, lease_owner = NULL, lease_until = NULL \
                 WHERE id = $8 AND lease_owner = $9",
            )
            .bind(o.status)
            .bind(attempt)
            .bind(o.next_attempt_at)
            .bind(o.status_code)
            .bind(o.error.as_deref())
            .bind(o.latency_ms)
            .bind(o.now)
            .bind(a.delivery_id.as_str())
            .bind(a.owner.as_str())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                recorded.push(false);
                continue;
            }
            sqlx::query("INSERT INTO delivery_attempts (delivery_id, attempt, at, status_code, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(a.delivery_id.as_str())
                .bind(attempt)
                .bind(o.now)
                .bind(o.status_code)
                .bind(o.latency_ms)
                .bind(o.error.as_deref())
                .execute(&mut *tx)
                .await?;
            recorded.push(true);
        }
        tx.commit().await?;
        Ok(recorded)
    }

    pub async fn deliveries(&self, f: &DeliveryFilter, page: &Page) -> StoreResult<Vec<DeliveryRecord>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY} FROM deliveries WHERE ($1 IS NULL OR subscription_id = $1) AND ($2 IS NULL OR status = $2) \
               AND ($3 IS NULL OR event_id = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        )))
        .bind(f.subscription.clone())
        .bind(f.status.clone())
        .bind(f.event.clone())
        .bind(page.after.clone())
        .bind(i64::from(page.limit))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn attempts(&self, delivery_ids: &[String]) -> StoreResult<Vec<AttemptRecord>> {
        if delivery_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Few ids per page: one query with a bound list is portable as (id = $1 OR id = $2 …).
        let clause = (1..=delivery_ids.len()).map(|i| format!("delivery_id = ${i}")).collect::<Vec<_>>().join(" OR ");
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT delivery_id, attempt, at, status_code, latency_ms, error FROM delivery_attempts WHERE {clause} ORDER BY delivery_id, attempt"
        )));
        for id in delivery_ids {
            q = q.bind(id);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }
}

async fn add_usage(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org: &str,
    bytes: i64,
    events: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO event_usage (org, bytes, events) VALUES ($1, $2, $3) \
         ON CONFLICT (org) DO UPDATE SET bytes = event_usage.bytes + excluded.bytes, \
           events = event_usage.events + excluded.events",
    )
    .bind(org)
    .bind(bytes)
    .bind(events)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_delivery(tx: &mut sqlx::Transaction<'static, sqlx::Any>, d: &DeliveryRecord) -> StoreResult<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO deliveries ({DELIVERY}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL, NULL, NULL, $8, $9)"
    )))
    .bind(&d.id)
    .bind(&d.event_id)
    .bind(&d.subscription_id)
    .bind(d.org.clone())
    .bind(&d.status)
    .bind(d.attempts)
    .bind(d.next_attempt_at)
    .bind(d.created_at)
    .bind(d.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `$1, $2, …, $n`: the bound list of an `IN (…)`.
fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
