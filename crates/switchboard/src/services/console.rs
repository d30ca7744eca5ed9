//! What the operator console shows: the health of connections, refreshes, webhooks and deliveries,
//! read for a secret key. Refreshes are counted per hour in the store (so every instance's count
//! and 14 days survive restarts); refused webhook requests are counted in memory per instance,
//! since writing on every forged request would let a flood write the database.

use std::collections::BTreeMap;
use std::sync::Mutex;

use switchboard_core::access::Principal;
use switchboard_core::time::Timestamp;

use super::{ServiceResult, Services, access};
use crate::store::{
    ConnectionFilter, ConnectionRecord, DeliveryFilter, DeliveryRecord, EndpointRecord, Page, StatusCount,
};

const HOUR_MS: i64 = 3_600_000;

/// The first millisecond of the hour `now` is in: the console counts refreshes per hour.
pub(crate) fn hour_of(now: Timestamp) -> i64 {
    now.millis() - now.millis().rem_euclid(HOUR_MS)
}

/// Refused webhook requests per endpoint on this instance since it started.
#[derive(Debug, Default)]
pub struct RefusedWebhooks {
    by_endpoint: Mutex<BTreeMap<String, RefusedTally>>,
}

#[derive(Debug, Clone, Default)]
pub struct RefusedTally {
    pub count: u64,
    pub last_at: i64,
    pub last_reason: String,
}

impl RefusedWebhooks {
    pub fn record(&self, endpoint: &str, at: i64, reason: &str) {
        if let Ok(mut m) = self.by_endpoint.lock() {
            let t = m.entry(endpoint.to_owned()).or_default();
            t.count += 1;
            t.last_at = at;
            t.last_reason = reason.chars().take(200).collect();
        }
    }

    #[must_use]
    pub fn get(&self, endpoint: &str) -> Option<RefusedTally> {
        self.by_endpoint.lock().ok().and_then(|m| m.get(endpoint).cloned())
    }
}

/// One bar of a refresh chart.
#[derive(Debug, Clone)]
pub struct RefreshBar {
    pub start: Timestamp,
    pub success: i64,
    pub failure: i64,
}

/// An endpoint with its last 24 hours of events and this instance's refusals.
#[derive(Debug, Clone)]
pub struct EndpointHealth {
    pub endpoint: EndpointRecord,
    pub events_24h: i64,
    pub last_event_at: Option<Timestamp>,
    pub refused: RefusedTally,
}

#[derive(Debug)]
pub struct Dashboard {
    pub statuses: Vec<StatusCount>,
    pub hourly: Vec<RefreshBar>,
    pub daily: Vec<RefreshBar>,
    pub needs_reauth: Vec<ConnectionRecord>,
    pub endpoints: Vec<EndpointHealth>,
    pub delivery_counts: Vec<(String, i64)>,
    pub dead: Vec<DeliveryRecord>,
}

/// Sums hourly buckets into `n` bars of `width_ms` ending with the one holding `now`.
fn bars(buckets: &[crate::store::RefreshBucket], now: i64, width_ms: i64, n: i64) -> Vec<RefreshBar> {
    let last_start = now - now.rem_euclid(width_ms);
    let first = last_start - (n - 1) * width_ms;
    let mut out: Vec<RefreshBar> = (0..n)
        .map(|i| RefreshBar { start: Timestamp::from_millis(first + i * width_ms), success: 0, failure: 0 })
        .collect();
    for b in buckets.iter().filter(|b| b.hour >= first) {
        let Ok(i) = usize::try_from((b.hour - first) / width_ms) else { continue };
        if let Some(bar) = out.get_mut(i) {
            if b.outcome == "success" {
                bar.success += b.count;
            } else {
                bar.failure += b.count;
            }
        }
    }
    out
}

impl Services {
    /// Counts a refresh for the console's charts; a failure to count is logged, never the refresh's.
    pub(crate) async fn count_refresh(&self, provider: &str, outcome: &str, now: Timestamp) {
        let hour = hour_of(now);
        if let Err(e) = self.store.count_refresh(hour, provider, outcome).await {
            tracing::warn!(error = %e, "could not count a refresh for the console");
        }
    }

    /// Everything the console's front page shows. Secret keys only.
    pub async fn dashboard(&self, actor: &Principal) -> ServiceResult<Dashboard> {
        actor.require_secret_key("reading the operator console").map_err(|e| access(e, "console"))?;
        let now = self.clock.now().millis();
        let day = 24 * HOUR_MS;
        let buckets = self.store.refresh_buckets(now - now.rem_euclid(day) - 13 * day).await?;
        let needs_reauth = self
            .store
            .connections(
                &ConnectionFilter { status: Some("needs_reauth".into()), ..ConnectionFilter::default() },
                &Page { after: None, limit: 50 },
            )
            .await?;
        let traffic = self.store.endpoint_traffic(now - day).await?;
        let endpoints = self
            .store
            .endpoints(None, &Page { after: None, limit: 100 })
            .await?
            .into_iter()
            .map(|e| {
                let t = traffic.iter().find(|t| t.endpoint_id == e.id);
                EndpointHealth {
                    events_24h: t.map_or(0, |t| t.count),
                    last_event_at: t.map(|t| Timestamp::from_millis(t.last_at)),
                    refused: self.refused_webhooks.get(&e.id).unwrap_or_default(),
                    endpoint: e,
                }
            })
            .collect();
        let dead = self
            .store
            .deliveries(
                &DeliveryFilter { status: Some("dead".into()), ..DeliveryFilter::default() },
                &Page { after: None, limit: 20 },
            )
            .await?;
        Ok(Dashboard {
            statuses: self.store.connection_status(None, None).await?,
            hourly: bars(&buckets, now, HOUR_MS, 24),
            daily: bars(&buckets, now, day, 14),
            needs_reauth,
            endpoints,
            delivery_counts: self.store.delivery_counts().await?,
            dead,
        })
    }

    /// A fingerprint of what the console shows live; it changes when a connection or delivery does.
    pub async fn console_fingerprint(&self, actor: &Principal) -> ServiceResult<(String, String)> {
        actor.require_secret_key("reading the operator console").map_err(|e| access(e, "console"))?;
        Ok(self.store.console_fingerprint().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RefreshBucket;

    #[test]
    fn hourly_buckets_sum_into_bars_ending_now() {
        let now = 10 * 86_400_000 + 5 * HOUR_MS + 17;
        let b = |hour: i64, outcome: &str, count| RefreshBucket { hour, outcome: outcome.into(), count };
        let buckets = vec![
            b(now - now % HOUR_MS, "success", 3),
            b(now - now % HOUR_MS, "failure", 1),
            b(now - now % HOUR_MS - 2 * HOUR_MS, "success", 2),
            b(now - 30 * HOUR_MS, "success", 9),
        ];
        let hourly = bars(&buckets, now, HOUR_MS, 24);
        assert_eq!(hourly.len(), 24);
        assert_eq!((hourly[23].success, hourly[23].failure), (3, 1));
        assert_eq!(hourly[21].success, 2);
        assert_eq!(hourly.iter().map(|h| h.success).sum::<i64>(), 5, "the 30 h old bucket is outside");
        let daily = bars(&buckets, now, 86_400_000, 14);
        assert_eq!(daily[13].success, 5);
        assert_eq!(daily[11].success, 9, "30 h before day 10 05:00 is day 8");
    }
}
