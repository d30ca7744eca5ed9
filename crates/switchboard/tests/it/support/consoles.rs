//! Helpers for the consoles' tests: sessions opened through their connect_url, and the real
//! authorization server's sign-in pages driven in Chromium.

use std::time::Duration;

use serde_json::{Value, json};

use super::chrome::Chrome;
use super::fakes::{Seen, Shape, shape, unexpected};
use super::idp::Idp;
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
    // The consent page: one submit button. The login page has one too, so first wait for the
    // login page to be gone, or the click could land on its button as it unloads.
    eventually(Duration::from_secs(10), "the IdP's login page to give way to its consent page", || async {
        chrome.absent("input[name=login]").await
    })
    .await;
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

/// Presses Tab (at most 120 times) until the focused element matches `css`: how a keyboard user
/// reaches it.
pub async fn tab_to(chrome: &Chrome, css: &str) {
    use super::chrome::Key;
    let check = format!("return !!document.activeElement && document.activeElement.matches({})", json!(css));
    for _ in 0..120 {
        if chrome.eval(&check).await == json!(true) {
            return;
        }
        chrome.press_chord(&[Key::Tab]).await;
    }
    panic!("Tab never reached `{css}` on {}", chrome.current_url().await);
}

/// The key [`openai_models`] accepts.
pub const OPENAI_GOOD_KEY: &str = "sk-good-key-123";

/// OpenAI's `GET /v1/models` as documented: the list for [`OPENAI_GOOD_KEY`], `invalid_api_key`
/// (401, the documented error shape) for any other.
pub fn openai_models(seen: &Seen) -> Shape {
    if seen.method != "GET" || seen.path != "/v1/models" {
        return unexpected(seen);
    }
    match seen.bearer().as_deref() {
        Some(OPENAI_GOOD_KEY) => shape(
            200,
            json!({"object": "list", "data": [{"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "openai"}]}),
        ),
        _ => shape(
            401,
            json!({"error": {"message": "Incorrect API key provided: sk-wrong. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
        ),
    }
}

/// Revokes the connection's grant at the authorization server and forces a refresh, which it
/// refuses: the connection then needs its user again.
pub async fn make_needs_reauth(idp: &Idp, id: &str) {
    let app = &idp.app;
    let token =
        app.get(&format!("/v1/connections/{id}/credentials")).await.body["access_token"].as_str().unwrap().to_owned();
    let res = reqwest::Client::new()
        .post(format!("{}/token/revocation", idp.base))
        .basic_auth("switchboard-test", Some("switchboard-test-secret"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.post(&format!("/v1/connections/{id}/refresh"), json!({"force": true})).await;
    assert_eq!(app.get(&format!("/v1/connections/{id}")).await.body["status"], "needs_reauth");
}

/// Every resource the page loaded came from `base`.
pub async fn assert_no_external_requests(chrome: &Chrome, base: &str) {
    let urls: Value = chrome.eval("return performance.getEntriesByType('resource').map(e => e.name)").await;
    for url in urls.as_array().unwrap() {
        assert!(url.as_str().unwrap().starts_with(base), "an external request: {url}");
    }
}
