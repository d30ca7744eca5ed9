//! The proxy: any request to a provider's API as a connection, for everything the catalog does
//! not model. The caller's path and query go under the connection's API base URL (never off
//! it: `switchboard_core::proxy`), the credentials are applied exactly as the catalog applies
//! them, and the bodies stream both ways within the size limits.
//!
//! A request body up to `proxy_replay_kb` is kept, so the request can be sent again: after a
//! provider 401 (one forced refresh, single-flight, and one retry; a second 401 moves the
//! connection to `needs_reauth`) and, when the caller asks with `Switchboard-Rate-Limit-Retries`,
//! after a rate limit it may wait out within `proxy_max_wait_s`. Larger bodies are sent once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream};
use futures::{StreamExt as _, TryStreamExt as _};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use switchboard_core::access::Principal;
use switchboard_core::catalog::RequestSpec;

use super::call::Signer;
use crate::outbound::{OutboundError, OutboundResponse, StreamingRequest};
use crate::services::credentials::connector;
use crate::services::{ServiceError, ServiceResult, Services};

/// A body as it streams through: chunks, or the reason it stopped.
pub type BodyStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// The request header that asks the proxy to wait out rate limits, up to this many times.
pub const RATE_LIMIT_RETRIES: &str = "switchboard-rate-limit-retries";
/// The most a caller may ask for in `Switchboard-Rate-Limit-Retries`.
pub const MAX_RATE_LIMIT_RETRIES: u32 = 5;
/// How much of an error answer is read to find a provider's rate-limit signal in its body, and
/// the largest declared answer read whole rather than streamed.
const SMALL_ANSWER_BYTES: usize = 64 << 10;
/// The wait when a provider signals a rate limit without saying for how long.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

/// One request to proxy, as the caller sent it.
pub struct ProxyCall {
    pub method: Method,
    /// The path after `/v1/proxy/{connection}/`, still percent-encoded.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: BodyStream,
}

/// The provider's answer, to pass back as it is (less hop-by-hop headers and cookies).
pub struct ProxyAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: ProxyBody,
}

/// A small answer is read whole (it then goes back in one write, with no hand-over per chunk);
/// a large or open-ended one streams.
pub enum ProxyBody {
    Whole(Bytes),
    Stream(BodyStream),
}

/// Headers that describe one hop and never travel further (RFC 9110 7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Request headers that belong to the caller's exchange with us, not to the provider.
const CALLERS_OWN: [&str; 5] = ["host", "authorization", "cookie", "expect", "x-request-id"];

/// Answer headers kept from the caller: a provider's cookies would be set on our origin.
const PROVIDERS_OWN: [&str; 2] = ["set-cookie", "set-cookie2"];

/// Drops hop-by-hop headers (and those the `Connection` header names) from `headers`, plus
/// `also` and our own `Switchboard-*` ones.
fn without_hop_headers(headers: &HeaderMap, also: &[&str]) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|n| n.trim().to_ascii_lowercase()))
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || also.contains(&n) || named.iter().any(|c| c == n) || n.starts_with("switchboard-")
        {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// The request body: kept whole (it can be sent again), or streamed once.
enum Outgoing {
    Empty,
    Kept(Bytes),
    Once(Option<BodyStream>),
}

impl Outgoing {
    fn replayable(&self) -> bool {
        !matches!(self, Self::Once(_))
    }

    /// The body for one attempt.
    fn for_attempt(&mut self) -> Option<reqwest::Body> {
        match self {
            Self::Empty => None,
            Self::Kept(b) => Some(reqwest::Body::from(b.clone())),
            Self::Once(s) => s.take().map(reqwest::Body::wrap_stream),
        }
    }
}

/// Counts a body's bytes as they pass and stops it past `limit`, noting that it did.
fn limited(body: BodyStream, limit: u64, exceeded: Arc<AtomicBool>) -> BodyStream {
    let mut seen = 0u64;
    body.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > limit {
            exceeded.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(format!("the body is larger than {limit} bytes")));
        }
        Ok(chunk)
    })
    .boxed()
}

/// Reads up to `keep` bytes of `body`: the whole body if it ends within them, else what was
/// read put back in front of the rest.
async fn read_prefix(mut body: BodyStream, keep: usize) -> Result<Result<Bytes, BodyStream>, std::io::Error> {
    let mut kept = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        kept.extend_from_slice(&chunk);
        if kept.len() > keep {
            let head = stream::once(async move { Ok(kept.freeze()) });
            return Ok(Err(head.chain(body).boxed()));
        }
    }
    Ok(Ok(kept.freeze()))
}

/// An answer body that fails when the provider goes quiet for longer than `idle`.
fn watched(res: reqwest::Response, idle: Duration, limit: u64) -> BodyStream {
    let body = res.bytes_stream().map_err(std::io::Error::other).boxed();
    limited(idle_bounded(body, idle), limit, Arc::new(AtomicBool::new(false)))
}

/// Chunks of `body`, each within `idle` of the one before.
fn idle_bounded(body: BodyStream, idle: Duration) -> BodyStream {
    stream::unfold(Some(body), move |state| async move {
        let mut body = state?;
        match tokio::time::timeout(idle, body.next()).await {
            Ok(Some(item)) => Some((item, Some(body))),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the provider sent nothing for {} s", idle.as_secs()),
                )),
                None,
            )),
        }
    })
    .boxed()
}

/// The number in `Switchboard-Rate-Limit-Retries`, if the caller sent one.
fn rate_limit_retries(headers: &HeaderMap) -> ServiceResult<u32> {
    let Some(v) = headers.get(RATE_LIMIT_RETRIES) else { return Ok(0) };
    v.to_str().ok().and_then(|v| v.trim().parse::<u32>().ok()).filter(|n| *n <= MAX_RATE_LIMIT_RETRIES).ok_or_else(
        || {
            ServiceError::invalid(
                "Switchboard-Rate-Limit-Retries",
                format!(
                    "Switchboard-Rate-Limit-Retries is how many times to wait out a rate limit: a whole number from 0 to {MAX_RATE_LIMIT_RETRIES}"
                ),
            )
        },
    )
}

/// A method as a metric label: the standard ones, anything else as `OTHER`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

impl Services {
    /// Sends `call` to the connection's provider and hands back its answer unread.
    pub async fn proxy(&self, actor: &Principal, connection: &str, call: ProxyCall) -> ServiceResult<ProxyAnswer> {
        let started = Instant::now();
        let method = method_label(&call.method);
        let path = call.path.clone();
        let result = self.proxy_inner(actor, connection, call).await;
        let (provider, class) = match &result {
            Ok((provider, answer)) => (Some(provider.clone()), status_class(answer.status)),
            Err((provider, _)) => (provider.clone(), "error"),
        };
        if let Some(provider) = &provider {
            self.metrics.observe_proxy(provider, method, class, started.elapsed().as_secs_f64());
        }
        // The path only: queries and bodies can carry personal data and, at some providers, keys.
        tracing::info!(
            target: "switchboard::proxy",
            connection,
            provider = provider.as_deref().unwrap_or("-"),
            method,
            path,
            status = match &result { Ok((_, a)) => a.status.as_u16(), Err(_) => 0 },
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "proxied"
        );
        result.map(|(_, answer)| answer).map_err(|(_, e)| e)
    }

    async fn proxy_inner(
        &self,
        actor: &Principal,
        connection: &str,
        call: ProxyCall,
    ) -> Result<(String, ProxyAnswer), (Option<String>, ServiceError)> {
        let gate = self.connection_gate(actor, connection).await.map_err(|e| (None, e))?;
        let rec = self.record_of(&gate).await.map_err(|e| (None, e))?;
        let provider = rec.provider.clone();
        let fail = |e: ServiceError| (Some(provider.clone()), e);
        let limits = self.settings.proxy.clone();
        let declared = content_length(&call.headers);
        if declared.is_some_and(|n| n > limits.max_request_bytes) {
            return Err(fail(too_large(limits.max_request_bytes)));
        }
        let retries = rate_limit_retries(&call.headers).map_err(fail)?;
        let forwarded = without_hop_headers(&call.headers, &CALLERS_OWN);
        let exceeded = Arc::new(AtomicBool::new(false));
        let has_body = declared.is_some_and(|n| n > 0) || call.headers.contains_key(header::TRANSFER_ENCODING);
        let mut body = if has_body {
            let body = limited(call.body, limits.max_request_bytes, exceeded.clone());
            match read_prefix(body, limits.replay_bytes).await {
                Ok(Ok(kept)) if kept.is_empty() => Outgoing::Empty,
                Ok(Ok(kept)) => Outgoing::Kept(kept),
                Ok(Err(rest)) => Outgoing::Once(Some(rest)),
                Err(_) if exceeded.load(Ordering::Relaxed) => return Err(fail(too_large(limits.max_request_bytes))),
                Err(e) => return Err(fail(ServiceError::invalid("body", format!("the request body broke off: {e}")))),
            }
        } else {
            Outgoing::Empty
        };

        let mut signer = self.signer(rec, false).await.map_err(fail)?;
        let (mut refreshed, mut waits, mut waited) = (false, 0u32, Duration::ZERO);
        loop {
            let mut req =
                proxy_request(&signer, &call.method, &call.path, call.query.as_deref(), &forwarded, &mut body)
                    .map_err(fail)?;
            req.timeout = limits.timeout;
            let sent = Instant::now();
            let res = match self.outbound.send_streaming(req).await {
                Ok(res) => res,
                Err(_) if exceeded.load(Ordering::Relaxed) => return Err(fail(too_large(limits.max_request_bytes))),
                Err(e) => return Err(fail(unreachable(&signer, e))),
            };
            self.metrics.observe_provider_call(&provider, sent.elapsed().as_secs_f64());
            let status = res.status();
            if status == StatusCode::UNAUTHORIZED && body.replayable() {
                if !refreshed {
                    // One forced refresh (single-flight with every other caller) and one retry.
                    refreshed = true;
                    signer = self.signer(signer.rec.clone(), true).await.map_err(fail)?;
                    continue;
                }
                let reason = format!("HTTP 401 to a proxied {} request, after a refresh", call.method);
                let _ = self.mark_needs_reauth(&signer.rec, &reason).await;
            }
            let headers = without_hop_headers(res.headers(), &PROVIDERS_OWN);
            let declared = content_length(&headers);
            if declared.is_some_and(|n| n > limits.max_response_bytes) {
                return Err(fail(ServiceError::Provider(format!(
                    "{}'s answer is larger than the proxy's {}-byte limit (SWITCHBOARD_PROXY_MAX_RESPONSE_MB)",
                    signer.provider.name, limits.max_response_bytes
                ))));
            }
            let answer_body = watched(res, limits.timeout, limits.max_response_bytes);
            let small = declared.is_some_and(|n| n <= SMALL_ANSWER_BYTES as u64);
            if status.as_u16() < 400 && !small {
                return Ok((provider, ProxyAnswer { status, headers, body: ProxyBody::Stream(answer_body) }));
            }
            // Small, or an error (small in practice): read whole, up to a bound, so a rate-limit
            // signal in the body can be seen.
            let read = read_prefix(answer_body, SMALL_ANSWER_BYTES).await.map_err(|e| {
                fail(ServiceError::Provider(format!("{}'s answer broke off: {e}", signer.provider.name)))
            })?;
            let whole = match read {
                Ok(whole) => whole,
                Err(rest) => return Ok((provider, ProxyAnswer { status, headers, body: ProxyBody::Stream(rest) })),
            };
            let mut answer = ProxyAnswer { status, headers, body: ProxyBody::Whole(whole.clone()) };
            if status.as_u16() < 400 {
                return Ok((provider, answer));
            }
            let seen = OutboundResponse { status, headers: answer.headers.clone(), body: whole.clone() };
            if let Some(after) = connector::rate_limited(&signer.provider, &seen) {
                let wait = after.map_or(DEFAULT_RATE_LIMIT_WAIT, Duration::from_secs);
                if waits < retries && body.replayable() && waited + wait <= limits.max_wait {
                    waits += 1;
                    waited += wait;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                if let Some(after) = after
                    && !answer.headers.contains_key(header::RETRY_AFTER)
                {
                    answer.headers.insert(header::RETRY_AFTER, HeaderValue::from(after));
                }
            }
            return Ok((provider, answer));
        }
    }
}

/// The outbound request for one attempt: base URL, path, query, the caller's headers, then the
/// catalog's API headers where the caller set none and the credentials over everything.
fn proxy_request(
    signer: &Signer,
    method: &Method,
    path: &str,
    query: Option<&str>,
    forwarded: &HeaderMap,
    body: &mut Outgoing,
) -> ServiceResult<StreamingRequest> {
    let base = signer.base().ok_or_else(|| {
        ServiceError::invalid(
            "connection",
            format!(
                "{} has no HTTP API base URL to proxy to{}",
                signer.provider.name,
                if signer.provider.id == crate::services::integrations::CUSTOM_OAUTH2 {
                    "; set api_base_url on the integration"
                } else {
                    ""
                }
            ),
        )
    })?;
    let creds = signer.credentials();
    let vars = signer.vars(&Default::default());
    let spec = RequestSpec { method: method.as_str().to_owned(), ..RequestSpec::default() };
    let base = format!("{}{}", vars.render_url(base)?, connector::path_prefix(&spec, &creds, &vars)?);
    let base = url::Url::parse(&base).map_err(|e| {
        ServiceError::invalid("connection", format!("the connection's API base URL {base:?} is not a URL: {e}"))
    })?;
    // The caller's query, less any parameter the credentials set (they are injected, not chosen).
    let auth_params: Vec<&str> = creds.apply.map(|a| a.query.keys().map(String::as_str).collect()).unwrap_or_default();
    let query = query.map(|q| {
        if auth_params.is_empty() {
            return q.to_owned();
        }
        q.split('&')
            .filter(|pair| {
                let name = pair.split('=').next().unwrap_or_default();
                let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
                !auth_params.contains(&name.as_ref())
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    let url = switchboard_core::proxy::join(&base, path, query.as_deref())
        .map_err(|why| ServiceError::invalid("path", why.to_string()))?;
    // The catalog's signing, on a request for exactly this URL.
    let signed = signer.build(
        &RequestSpec {
            method: method.as_str().to_owned(),
            url: Some(url.as_str().replace('{', "{{").replace('}', "}}")),
            ..RequestSpec::default()
        },
        &Default::default(),
    )?;
    let auth_headers: Vec<HeaderName> = std::iter::once(header::AUTHORIZATION)
        .chain(signed.headers.keys().filter(|k| is_credential_header(signer, k)).cloned())
        .collect();
    let mut headers = forwarded.clone();
    for name in &auth_headers {
        headers.remove(name);
    }
    for (name, value) in &signed.headers {
        if auth_headers.contains(name) || !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
    Ok(StreamingRequest {
        method: method.clone(),
        url: signed.url,
        headers,
        body: body.for_attempt(),
        timeout: Duration::ZERO,
    })
}

/// Whether `name` is a header the connection's credentials set (an API key's `X-API-Key`).
fn is_credential_header(signer: &Signer, name: &HeaderName) -> bool {
    let creds = signer.credentials();
    let vars = signer.vars(&Default::default());
    creds
        .apply
        .is_some_and(|a| a.header.keys().any(|k| vars.render(k).is_ok_and(|k| k.eq_ignore_ascii_case(name.as_str()))))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
}

fn status_class(s: StatusCode) -> &'static str {
    match s.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn too_large(limit: u64) -> ServiceError {
    ServiceError::TooLarge(format!(
        "the request body is larger than the proxy's {limit}-byte limit (setting SWITCHBOARD_PROXY_MAX_REQUEST_MB)"
    ))
}

fn unreachable(signer: &Signer, e: OutboundError) -> ServiceError {
    match e {
        OutboundError::Timeout { .. } => {
            ServiceError::ProviderUncertain(format!("{} did not answer in time: {e}", signer.provider.name))
        }
        OutboundError::Refused(why) => ServiceError::invalid("connection", why),
        e => ServiceError::Provider(format!("{} could not be reached: {e}", signer.provider.name)),
    }
}
