//! Request rates per caller: a token bucket per secret API key, per session and per inbound
//! webhook endpoint (governor's keyed limiters, GCRA). Over its rate a caller gets 429 with
//! `Retry-After` and the `RateLimit-Policy` / `RateLimit` fields of the IETF rate-limit headers
//! draft, so one busy key, session or flooded endpoint cannot take the server from the others.
//! Buckets live in this instance's memory: with several instances each allows the rate.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, StatusCode};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;
use crate::config::{LimitSettings, RateQuota};

/// Checks between sweeps of buckets that are full again (and so hold nothing worth keeping).
const SWEEP_EVERY: u64 = 16_384;

static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Who a bucket belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    SecretKey,
    Session,
    WebhookEndpoint,
}

impl Caller {
    fn policy(self) -> &'static str {
        match self {
            Self::SecretKey => "key",
            Self::Session => "session",
            Self::WebhookEndpoint => "webhook",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Self::SecretKey => "this secret API key",
            Self::Session => "this session",
            Self::WebhookEndpoint => "this webhook endpoint",
        }
    }

    fn setting(self) -> &'static str {
        match self {
            Self::SecretKey => "SWITCHBOARD_RATE_LIMIT_KEY_PER_S",
            Self::Session => "SWITCHBOARD_RATE_LIMIT_SESSION_PER_S",
            Self::WebhookEndpoint => "SWITCHBOARD_RATE_LIMIT_WEBHOOK_PER_S",
        }
    }
}

struct Bucket {
    caller: Caller,
    quota: RateQuota,
    limiter: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl Bucket {
    fn new(caller: Caller, quota: RateQuota) -> Option<Self> {
        let per_s = NonZeroU32::new(quota.per_s)?;
        let burst = NonZeroU32::new(quota.burst).unwrap_or(per_s);
        let limiter = RateLimiter::keyed(Quota::per_second(per_s).allow_burst(burst));
        Some(Self { caller, quota, limiter, checks: AtomicU64::new(0) })
    }

    fn check(&self, key: &str) -> Result<(), ApiError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        // Keys are ids and token digests, never a secret itself.
        match self.limiter.check_key(&key.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => Err(self.refusal(not_until.wait_time_from(DefaultClock::default().now()))),
        }
    }

    fn refusal(&self, wait: Duration) -> ApiError {
        let retry_after_s = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let retry_after_s = retry_after_s.max(1);
        let RateQuota { per_s, burst } = self.quota;
        let caller = self.caller;
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many requests for {}: it may make {per_s} a second, {burst} at once ({}); retry after {retry_after_s} s",
                caller.words(),
                caller.setting()
            ),
        );
        e.retry_after_s = Some(retry_after_s);
        // The bucket's window is the time a full burst takes to refill.
        let window_s = u64::from(burst).div_ceil(u64::from(per_s)).max(1);
        let policy = format!("\"{}\";q={burst};w={window_s}", caller.policy());
        let state = format!("\"{}\";r=0;t={retry_after_s}", caller.policy());
        let fields = [(&RATELIMIT_POLICY, policy), (&RATELIMIT, state)]
            .into_iter()
            .filter_map(|(name, value)| HeaderValue::from_str(&value).ok().map(|v| (name.clone(), v)))
            .collect();
        e.headers = Some(Box::new(fields));
        e
    }
}

/// The buckets of one instance.
pub struct RateLimits {
    keys: Option<Bucket>,
    sessions: Option<Bucket>,
    webhooks: Option<Bucket>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let quota = |b: &Option<Bucket>| b.as_ref().map(|b| b.quota);
        f.debug_struct("RateLimits")
            .field("keys", &quota(&self.keys))
            .field("sessions", &quota(&self.sessions))
            .field("webhooks", &quota(&self.webhooks))
            .finish()
    }
}

impl RateLimits {
    #[must_use]
    pub fn new(settings: &LimitSettings) -> Self {
        let bucket = |caller, quota: Option<RateQuota>| quota.and_then(|q| Bucket::new(caller, q));
        Self {
            keys: bucket(Caller::SecretKey, settings.key),
            sessions: bucket(Caller::Session, settings.session),
            webhooks: bucket(Caller::WebhookEndpoint, settings.webhook),
        }
    }

    /// Takes one request from `caller`'s bucket `key`, or says when to come back.
    pub fn check(&self, caller: Caller, key: &str) -> Result<(), ApiError> {
        let bucket = match caller {
            Caller::SecretKey => &self.keys,
            Caller::Session => &self.sessions,
            Caller::WebhookEndpoint => &self.webhooks,
        };
        bucket.as_ref().map_or(Ok(()), |b| b.check(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_s: u32, burst: u32) -> RateLimits {
        RateLimits::new(&LimitSettings {
            key: Some(RateQuota { per_s, burst }),
            session: None,
            webhook: Some(RateQuota { per_s, burst }),
            max_connections: 1,
            header_read_timeout: Duration::from_secs(1),
            max_header_bytes: 1024,
        })
    }

    #[test]
    fn a_burst_is_allowed_then_refused_with_the_headers() {
        let l = limits(1, 3);
        for _ in 0..3 {
            assert!(l.check(Caller::SecretKey, "k1").is_ok());
        }
        let e = l.check(Caller::SecretKey, "k1").unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after_s, Some(1));
        assert!(e.message.contains("SWITCHBOARD_RATE_LIMIT_KEY_PER_S"), "{}", e.message);
        let headers: Vec<String> = e
            .headers
            .iter()
            .flat_map(|h| h.iter())
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or_default()))
            .collect();
        assert_eq!(headers, ["ratelimit-policy: \"key\";q=3;w=3", "ratelimit: \"key\";r=0;t=1"]);
    }

    #[test]
    fn buckets_are_separate_per_key_and_per_caller() {
        let l = limits(1, 1);
        assert!(l.check(Caller::SecretKey, "k1").is_ok());
        assert!(l.check(Caller::SecretKey, "k1").is_err());
        assert!(l.check(Caller::SecretKey, "k2").is_ok());
        assert!(l.check(Caller::WebhookEndpoint, "k1").is_ok());
        // No session limit configured.
        for _ in 0..100 {
            assert!(l.check(Caller::Session, "s").is_ok());
        }
    }
}
