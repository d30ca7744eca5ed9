//! The one HTTP client for calls to providers and other outside URLs.
//!
//! - Origin overrides (`SWITCHBOARD_OUTBOUND_OVERRIDES`) send a request for
//!   `https://api.example.com/x` to `http://127.0.0.1:9001/x`, path and query kept.
//! - Redirects are never followed: a credential-bearing request must not be
//!   replayed to wherever a 3xx points.
//! - Destinations that resolve to loopback or private addresses are refused
//!   unless the operator allows them (override targets are the operator's own
//!   choice and are not checked).
//! - Idempotent requests are retried on connection failures, timeouts, 429 and
//!   5xx with jittered backoff, honouring a short `Retry-After`.
//! - Errors name the host, never the URL: some providers put tokens in paths.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::config::{OriginOverride, Settings};

/// Largest answer read from a provider.
const MAX_BODY: usize = 4 << 20;
/// Longest `Retry-After` waited for inside one call; longer waits go back to the caller.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("could not connect to {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host} did not answer within {seconds} s")]
    Timeout { host: String, seconds: u64 },
    #[error("{0}")]
    Refused(String),
    #[error("{host}'s answer is larger than {limit} bytes")]
    TooLarge { host: String, limit: usize },
    #[error("request to {host} failed: {reason}")]
    Other { host: String, reason: String },
}

#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// Safe to send twice (GET-like). Only connection failures are retried otherwise.
    pub idempotent: bool,
    /// `false`: exactly one attempt (the caller schedules and records its own retries).
    pub retry: bool,
    /// Overrides the client's timeout for this request.
    pub timeout: Option<Duration>,
    /// `false`: a 429 comes back at once instead of being waited out (someone is waiting on the
    /// answer and has a cached page to fall back on, or a plan of their own).
    pub wait_out_rate_limits: bool,
}

impl OutboundRequest {
    #[must_use]
    pub fn new(method: Method, url: Url) -> Self {
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE);
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            idempotent,
            retry: true,
            timeout: None,
            wait_out_rate_limits: true,
        }
    }
}

/// A request whose body is a stream (the proxy's): one attempt, nothing kept.
#[derive(Debug)]
pub struct StreamingRequest {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<reqwest::Body>,
    /// How long to wait for the status line.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl OutboundResponse {
    /// `Retry-After` in seconds (delta-seconds form; HTTP dates count as 60 s).
    #[must_use]
    pub fn retry_after(&self) -> Option<u64> {
        retry_after(&self.headers)
    }

    #[must_use]
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    // Seconds, whole or (Shopify's "2.0") not; an HTTP date or anything else: a minute.
    let seconds = v.parse::<u64>().ok().or_else(|| {
        let f = v.parse::<f64>().ok().filter(|f| f.is_finite() && (0.0..86_400.0).contains(f))?;
        format!("{:.0}", f.ceil()).parse().ok()
    });
    seconds.or_else(|| (!v.is_empty()).then_some(60))
}

pub use switchboard_core::net::is_public;

/// How host names become addresses. The system's resolver in production; tests
/// may answer for names of their own. Every user-supplied name is resolved
/// through one of these exactly once per connection, and the connection goes to
/// the address that was checked (no second lookup a rebinding name could change).
pub trait HostLookup: Send + Sync + 'static {
    fn lookup(&self, host: &str, port: u16) -> futures::future::BoxFuture<'static, std::io::Result<Vec<SocketAddr>>>;
}

/// The operating system's resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl HostLookup for SystemLookup {
    fn lookup(&self, host: &str, port: u16) -> futures::future::BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
        let host = host.to_owned();
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), port)).await?.collect()) })
    }
}

/// Resolves `host` and keeps the public addresses (all of them when private
/// networks are allowed); an error names the host when none is left.
pub async fn resolve_checked(
    lookup: &dyn HostLookup,
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, OutboundError> {
    // A literal address is checked as it is, never looked up.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => lookup.lookup(host, port).await.map_err(|e| OutboundError::Connect {
            host: host.to_owned(),
            reason: format!("the name could not be resolved: {e}"),
        })?,
    };
    let kept: Vec<SocketAddr> = addrs.into_iter().filter(|a| allow_private || is_public(a.ip())).collect();
    if kept.is_empty() {
        return Err(OutboundError::Refused(format!(
            "{host} resolves only to private or loopback addresses, which are not allowed (SWITCHBOARD_ALLOW_PRIVATE_NETWORKS)"
        )));
    }
    Ok(kept)
}

/// DNS that drops non-public addresses (unless allowed), so a URL cannot reach the internal network.
struct GuardedResolver {
    allow_private: bool,
    lookup: Arc<dyn HostLookup>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (allow, lookup) = (self.allow_private, self.lookup.clone());
        Box::pin(async move {
            let kept = resolve_checked(lookup.as_ref(), name.as_str(), 0, allow).await.map_err(|e| e.to_string())?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

#[derive(Clone)]
pub struct Outbound {
    guarded: reqwest::Client,
    trusted: reqwest::Client,
    overrides: Arc<Vec<OriginOverride>>,
    allow_private: bool,
    lookup: Arc<dyn HostLookup>,
    timeout: Duration,
    max_attempts: u32,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").field("overrides", &self.overrides.len()).finish_non_exhaustive()
    }
}

impl Outbound {
    pub fn new(settings: &Settings) -> Result<Self, reqwest::Error> {
        Self::with_lookup(settings, Arc::new(SystemLookup))
    }

    /// A client resolving names with `lookup`.
    pub fn with_lookup(settings: &Settings, lookup: Arc<dyn HostLookup>) -> Result<Self, reqwest::Error> {
        let extra = match &settings.extra_ca_pem {
            Some(pem) => reqwest::Certificate::from_pem_bundle(pem)?,
            None => Vec::new(),
        };
        let base = || {
            reqwest::Client::builder()
                .tls_certs_merge(extra.clone())
                .redirect(reqwest::redirect::Policy::none())
                // Never an ambient HTTP(S)_PROXY: a proxy resolves names itself, past the address guard.
                .no_proxy()
                .connect_timeout(Duration::from_secs(10))
                .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
                .pool_idle_timeout(Duration::from_secs(60))
        };
        Ok(Self {
            guarded: base()
                .dns_resolver(Arc::new(GuardedResolver {
                    allow_private: settings.allow_private_networks,
                    lookup: lookup.clone(),
                }))
                .build()?,
            trusted: base().build()?,
            overrides: Arc::new(settings.outbound_overrides.clone()),
            allow_private: settings.allow_private_networks,
            lookup,
            timeout: Duration::from_secs(20),
            max_attempts: 3,
        })
    }

    /// The URL after origin overrides, and whether one applied. Also used for
    /// URLs handed to browsers (authorization pages).
    #[must_use]
    pub fn rewrite(&self, url: &Url) -> (Url, bool) {
        let origin = url.origin().ascii_serialization();
        for o in self.overrides.iter() {
            if o.from == origin {
                let rest = &url.as_str()[origin.len()..];
                if let Ok(u) = Url::parse(&format!("{}{rest}", o.to)) {
                    return (u, true);
                }
            }
        }
        (url.clone(), false)
    }

    /// Resolves a user-supplied host for a connection made outside this client
    /// (SMTP, subscriber checks): the public addresses, or all when private networks are allowed.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, OutboundError> {
        resolve_checked(self.lookup.as_ref(), host, port, self.allow_private).await
    }

    /// Where a request for `url` really goes, and the client that may take it there: the URL
    /// after overrides, the trusted client for an override, the guarded one otherwise.
    fn route(&self, url: &Url) -> Result<(Url, &reqwest::Client, String), OutboundError> {
        let (target, overridden) = self.rewrite(url);
        let host = url.host_str().unwrap_or("the provider").to_owned();
        if !overridden && !matches!(target.scheme(), "http" | "https") {
            return Err(OutboundError::Refused(format!("{host}: only http and https URLs can be called")));
        }
        if !overridden
            && !self.allow_private
            && let Some(ip) = literal_ip(&target)
            && !is_public(ip)
        {
            return Err(OutboundError::Refused(format!(
                "{host} is a private or loopback address, which is not allowed (SWITCHBOARD_ALLOW_PRIVATE_NETWORKS)"
            )));
        }
        Ok((target, if overridden { &self.trusted } else { &self.guarded }, host))
    }

    /// Sends once with a streamed body and hands back the answer unread, for the proxy. The
    /// timeout bounds the wait for the status line only: the bodies may take as long as they
    /// keep moving, which the caller watches.
    pub async fn send_streaming(&self, req: StreamingRequest) -> Result<reqwest::Response, OutboundError> {
        let (url, client, host) = self.route(&req.url)?;
        let mut builder = client.request(req.method, url).headers(req.headers);
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        match tokio::time::timeout(req.timeout, builder.send()).await {
            Ok(res) => res.map_err(|e| classify(e, &host, req.timeout)),
            Err(_) => Err(OutboundError::Timeout { host, seconds: req.timeout.as_secs() }),
        }
    }

    /// Sends with retries as described in the module docs.
    pub async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let (url, client, host) = self.route(&req.url)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.max_attempts || !req.retry;
            let result = self.once(client, &req, &url, &host).await;
            let wait = match &result {
                Ok(res) if res.status == StatusCode::TOO_MANY_REQUESTS && !req.wait_out_rate_limits => return result,
                Ok(res) if req.idempotent && !last && retryable_status(res.status) => {
                    match res.retry_after().map(Duration::from_secs) {
                        Some(w) if w > MAX_INLINE_WAIT => return result,
                        Some(w) => w,
                        None => backoff(attempt),
                    }
                }
                Err(OutboundError::Connect { .. }) if !last => backoff(attempt),
                Err(OutboundError::Timeout { .. }) if req.idempotent && !last => backoff(attempt),
                _ => return result,
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn once(
        &self,
        client: &reqwest::Client,
        req: &OutboundRequest,
        url: &Url,
        host: &str,
    ) -> Result<OutboundResponse, OutboundError> {
        let timeout = req.timeout.unwrap_or(self.timeout);
        let mut builder = client.request(req.method.clone(), url.clone()).headers(req.headers.clone()).timeout(timeout);
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let res = builder.send().await.map_err(|e| classify(e, host, timeout))?;
        let status = res.status();
        let headers = res.headers().clone();
        let mut body = Vec::new();
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify(e, host, timeout))?;
            if body.len() + chunk.len() > MAX_BODY {
                return Err(OutboundError::TooLarge { host: host.to_owned(), limit: MAX_BODY });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse { status, headers, body: Bytes::from(body) })
    }
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(d) => d.parse().ok(),
    }
}

fn retryable_status(s: StatusCode) -> bool {
    s == StatusCode::TOO_MANY_REQUESTS || matches!(s.as_u16(), 500 | 502 | 503 | 504)
}

/// 200 ms, 400 ms, … with full jitter.
fn backoff(attempt: u32) -> Duration {
    let cap = 200u64 << attempt.saturating_sub(1).min(6);
    Duration::from_millis((switchboard_core::random::unit_f64() * cap as f64) as u64 + 50)
}

/// A reqwest error as a message that names the host but never the URL.
fn classify(e: reqwest::Error, host: &str, timeout: Duration) -> OutboundError {
    let host = host.to_owned();
    if e.is_timeout() {
        return OutboundError::Timeout { host, seconds: timeout.as_secs() };
    }
    let mut reason = String::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    let is_connect = e.is_connect();
    if reason.is_empty() {
        reason = e.without_url().to_string();
    }
    if is_connect {
        if reason.contains("not allowed") {
            return OutboundError::Refused(reason);
        }
        OutboundError::Connect { host, reason }
    } else {
        OutboundError::Other { host, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_keep_path_and_query() {
        let s =
            Settings::from_pairs(&[("outbound_overrides", "https://api.telegram.org=http://127.0.0.1:9001")]).unwrap();
        let o = Outbound::new(&s).unwrap();
        let (u, hit) = o.rewrite(&Url::parse("https://api.telegram.org/bot1:x/getMe?a=b").unwrap());
        assert!(hit);
        assert_eq!(u.as_str(), "http://127.0.0.1:9001/bot1:x/getMe?a=b");
        let (u, hit) = o.rewrite(&Url::parse("https://api.telegram.org.evil.com/x").unwrap());
        assert!(!hit);
        assert_eq!(u.host_str(), Some("api.telegram.org.evil.com"));
    }
}
