//! Fakes of the list endpoints that resource kinds call, one module per provider. Each answers in
//! its provider's documented shapes — items, paging, errors — and refuses a request that is not the
//! documented one (method, path, query, auth) with a 400 the test then fails on. The pages are
//! smaller than the providers' (a few items each) so that three pages stay readable; their shape
//! and the way to the next one are the providers'.
//!
//! Every fake shares a [`Control`]: what trouble to answer with next, and a log of the calls.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::fakes::{Fake, Seen, Shape, overrides, shape};
use super::server::TestApp;

pub mod airtable;
pub mod discord;
pub mod github;
pub mod meta;
pub mod microsoft;
pub mod notion;
pub mod openai;
pub mod sendgrid;
pub mod shopify;
pub mod slack;
pub mod telegram;
pub mod trello;
pub mod twilio;

/// What the fake answers instead of the listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Trouble {
    #[default]
    None,
    /// The credentials are refused this many more times.
    Unauthorized(u32),
    /// A scope or permission is missing.
    Forbidden,
    /// Rate limited, with the provider's wait where it gives one.
    RateLimited,
    /// An outage.
    Down,
}

/// Shared by a test and its fake.
#[derive(Clone, Default)]
pub struct Control {
    trouble: Arc<Mutex<Trouble>>,
    calls: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Control {
    pub fn set(&self, t: Trouble) {
        *self.trouble.lock().unwrap() = t;
    }

    /// How many API calls the fake answered (identity checks included).
    pub fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// Calls whose `METHOD path?query` line contains `part`.
    pub fn calls_with(&self, part: &str) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| c.contains(part)).count()
    }

    /// The body of the last call whose `METHOD path` line contains `part`, as JSON.
    pub fn last_json(&self, part: &str) -> Value {
        let calls = self.calls.lock().unwrap();
        let bodies = self.bodies.lock().unwrap();
        let i = calls.iter().rposition(|c| c.contains(part)).unwrap_or_else(|| panic!("no call with {part:?}"));
        serde_json::from_slice(&bodies[i]).unwrap_or_else(|e| panic!("the body of {} is not JSON: {e}", calls[i]))
    }

    pub fn log(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// Records the call; the trouble to answer it with (one refusal of a count is used up).
    pub fn enter(&self, s: &Seen) -> Trouble {
        let q: Vec<String> = s.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.calls.lock().unwrap().push(format!("{} {}?{}", s.method, s.path, q.join("&")));
        self.bodies.lock().unwrap().push(s.body.clone());
        let mut t = self.trouble.lock().unwrap();
        match *t {
            Trouble::Unauthorized(0) => Trouble::None,
            Trouble::Unauthorized(n) => {
                *t = Trouble::Unauthorized(n - 1);
                Trouble::Unauthorized(n)
            }
            other => other,
        }
    }
}

/// A provider's running fakes (its API, and where it has one its sign-in) and their control.
pub struct Api {
    pub fakes: Vec<Fake>,
    pub control: Control,
}

impl Api {
    /// A server (SQLite, no background jobs) whose calls to the provider come here.
    pub async fn app(&self) -> TestApp {
        super::spawn_app_with(
            super::TestDb::sqlite().await,
            &[("outbound_overrides", &self.overrides()), ("allowed_redirects", "http://app.test/"), ("jobs", "false")],
        )
        .await
    }

    /// The `SWITCHBOARD_OUTBOUND_OVERRIDES` that send the provider's origins here.
    pub fn overrides(&self) -> String {
        overrides(&self.fakes.iter().collect::<Vec<_>>())
    }

    pub fn set(&self, t: Trouble) {
        self.control.set(t);
    }

    pub fn calls(&self) -> usize {
        self.control.calls()
    }
}

/// A sign-in page's answer: 302 back to the client's redirect_uri with the state and `params`.
pub fn back(s: &Seen, params: &[(&str, &str)]) -> Shape {
    let Some(mut target) = s.query("redirect_uri").and_then(|u| url::Url::parse(&u).ok()) else {
        return wrong(s, "no redirect_uri");
    };
    let state = s.query("state").unwrap_or_default();
    target.query_pairs_mut().append_pair("state", &state).extend_pairs(params.iter().copied());
    shape(302, json!({})).header("location", target.to_string())
}

/// Runs the OAuth flow (`body` names the integration, and the provider where the integration's
/// app serves several): Ok(the connection's id), or Err(the handshake's error).
pub async fn oauth_flow(app: &TestApp, body: Value) -> Result<String, Value> {
    let mut b = json!({"org": "acme", "user": "u1", "redirect_uri": "http://app.test/done"});
    for (k, v) in body.as_object().unwrap() {
        b[k] = v.clone();
    }
    let started = app.post("/v1/oauth/start", b).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let at_provider = app.send(app.client.get(started.body["auth_url"].as_str().unwrap())).await;
    let callback = at_provider.headers.get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let callback =
        callback.unwrap_or_else(|| panic!("the provider refused the authorization request: {}", at_provider.body));
    let done = app.send(app.client.get(&callback)).await;
    let target = url::Url::parse(done.headers["location"].to_str().unwrap()).unwrap();
    if let Some((_, id)) = target.query_pairs().find(|(k, _)| k == "connection_id") {
        return Ok(id.into_owned());
    }
    let hs = app.get(&format!("/v1/oauth/handshakes/{}", started.body["handshake_id"].as_str().unwrap())).await;
    Err(hs.body["error"].clone())
}

/// [`oauth_flow`] that must succeed.
pub async fn connect_oauth(app: &TestApp, body: Value) -> String {
    oauth_flow(app, body).await.unwrap_or_else(|e| panic!("the flow failed: {e}"))
}

/// The items from `start`, at most `limit` of them, and where the next page starts.
pub fn window(items: &[Value], start: usize, limit: usize) -> (Vec<Value>, Option<usize>) {
    let start = start.min(items.len());
    let end = (start + limit).min(items.len());
    (items[start..end].to_vec(), (end < items.len()).then_some(end))
}

/// A number query parameter, or the provider's default when absent.
pub fn number(s: &Seen, name: &str, default: usize) -> Result<usize, Shape> {
    match s.query(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| wrong(s, &format!("{name}={v:?} is not a number"))),
    }
}

/// The answer to a request that is not the documented one.
pub fn wrong(s: &Seen, why: &str) -> Shape {
    shape(400, json!({"fake": format!("{} {}: {why}", s.method, s.path)}))
}

/// Checks that the query has exactly these parameters (values where given), besides `optional` ones.
pub fn expect_query(s: &Seen, wanted: &[(&str, Option<&str>)], optional: &[&str]) -> Result<(), Shape> {
    for (k, v) in wanted {
        match (s.query(k), v) {
            (None, _) => return Err(wrong(s, &format!("missing query parameter {k}"))),
            (Some(got), Some(v)) if got != *v => return Err(wrong(s, &format!("{k}={got:?}, documented {v:?}"))),
            _ => {}
        }
    }
    if let Some((k, _)) =
        s.query.iter().find(|(k, _)| !wanted.iter().any(|(w, _)| w == k) && !optional.contains(&k.as_str()))
    {
        return Err(wrong(s, &format!("unexpected query parameter {k}")));
    }
    Ok(())
}

/// An opaque page token for an offset (what a provider's cursor stands for).
pub fn token_for(offset: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

pub fn offset_of(token: &str) -> Option<usize> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(raw).ok()?.strip_prefix("offset:")?.parse().ok()
}
