//! Helpers for the consoles' tests: sessions opened through their connect_url, and the real
//! authorization server's sign-in pages driven in Chromium.

use std::time::Duration;

use serde_json::{Value, json};

use super::chrome::Chrome;
use super::server::TestApp;

/// Makes a session (with `extra` fields such as `providers` or `locale`) and returns its answer.
pub async fn session(app: &TestApp, org: &str, user: &str, role: &str, extra: Value) -> Value {
    let mut body = json!({ "org": org, "user": user, "role": role });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    let a = app.post("/v1/sessions", body).await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body
}

/// Opens the integrations page in `chrome` as a new session of `user`.
pub async fn open_page(chrome: &Chrome, app: &TestApp, org: &str, user: &str, role: &str, extra: Value) -> Value {
    let s = session(app, org, user, role, extra).await;
    chrome.goto(s["connect_url"].as_str().unwrap()).await;
    chrome.wait_for("#main h1", Duration::from_secs(10)).await;
    s
}

/// Signs in as `login` at oidc-provider's pages in the current window and approves the consent.
pub async fn sign_in_at_idp(chrome: &Chrome, login: &str) {
    chrome.wait_for("input[name=login]", Duration::from_secs(10)).await;
    chrome.fill("input[name=login]", login).await;
    chrome.fill("input[name=password]", "secret").await;
    chrome.click("button[type=submit]").await;
    // The consent page: one submit button.
    chrome.wait_for("form button[type=submit]", Duration::from_secs(10)).await;
    chrome.click("form button[type=submit]").await;
}

/// Polls `f` (every 100 ms, at most `timeout`) until it answers true.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within {timeout:?}");
}
