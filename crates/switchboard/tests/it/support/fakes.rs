//! Local stand-ins for provider APIs that cannot be reached from here. Each
//! fake checks that credentials arrive where the provider documents them and
//! answers in the provider's documented shapes. Which answer it gives is
//! chosen by the credential itself: one containing `bad` is refused, `limit`
//! is rate-limited, `down` meets an outage; anything else succeeds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// How the fake answers, chosen from the presented credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Good,
    Bad,
    Limit,
    Down,
    /// No credential where the provider expects one.
    Missing,
}

impl Variant {
    pub fn of(credential: Option<&str>) -> Self {
        match credential {
            None => Self::Missing,
            Some(c) if c.contains("bad") => Self::Bad,
            Some(c) if c.contains("limit") => Self::Limit,
            Some(c) if c.contains("down") => Self::Down,
            Some(_) => Self::Good,
        }
    }
}

/// An answer: status, headers, JSON (or text) body.
pub struct Shape {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

pub fn shape(status: u16, body: Value) -> Shape {
    Shape { status, headers: Vec::new(), body }
}

impl Shape {
    pub fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }
}

impl IntoResponse for Shape {
    fn into_response(self) -> Response {
        let body = match &self.body {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut res =
            Response::builder().status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        if !matches!(self.body, Value::String(_)) {
            res = res.header("content-type", "application/json");
        }
        for (k, v) in self.headers {
            res = res.header(k, v);
        }
        res.body(Body::from(body)).unwrap()
    }
}

/// What a fake sees of a request.
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn bearer(&self) -> Option<String> {
        self.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).map(str::to_owned)
    }
    pub fn basic(&self) -> Option<(String, String)> {
        use base64::Engine as _;
        let v = self.header("authorization")?.strip_prefix("Basic ")?;
        let raw = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(v).ok()?).ok()?;
        let (u, p) = raw.split_once(':')?;
        Some((u.to_owned(), p.to_owned()))
    }
    pub fn query(&self, name: &str) -> Option<String> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

type Handler = dyn Fn(&Seen) -> Shape + Send + Sync;

/// A running fake: the origin it stands in for, where it listens, how often it was called.
pub struct Fake {
    pub origin: String,
    pub base: String,
    pub hits: Arc<AtomicUsize>,
}

impl Fake {
    /// `origin` is the real provider origin (`https://api.telegram.org`); `handler` answers every request.
    pub async fn start(origin: &str, handler: impl Fn(&Seen) -> Shape + Send + Sync + 'static) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let handler = handler.clone();
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default().to_vec();
                let query = parts
                    .uri
                    .query()
                    .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                    .unwrap_or_default();
                let seen = Seen {
                    method: parts.method,
                    path: parts.uri.path().to_owned(),
                    query,
                    headers: parts.headers,
                    body,
                };
                handler(&seen).into_response()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { origin: origin.to_owned(), base, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The `SWITCHBOARD_OUTBOUND_OVERRIDES` entry for this fake.
    pub fn override_entry(&self) -> String {
        format!("{}={}", self.origin, self.base)
    }
}

/// Overrides for several fakes, comma-separated.
pub fn overrides(fakes: &[&Fake]) -> String {
    fakes.iter().map(|f| f.override_entry()).collect::<Vec<_>>().join(",")
}

/// 404 in a neutral shape for requests a fake does not expect (the test then fails on it).
pub fn unexpected(seen: &Seen) -> Shape {
    shape(404, json!({"error": format!("fake provider: unexpected {} {}", seen.method, seen.path)}))
}
