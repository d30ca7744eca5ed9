//! The operator console in real Chromium: signing in with a secret key (never kept by the browser),
//! the charts showing the refreshes the test made, re-auth and webhook health, replaying a
//! dead-lettered delivery to its receiver, live updates by server-sent events, audit filters, adding
//! an integration, and WCAG 2.2 AA in both themes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::chrome::{Chrome, ChromeOptions};
use crate::support::consoles::eventually;
use crate::support::idp::Idp;
use crate::support::receiver::Receiver;
use crate::support::signing::sha256_header;

const WAIT: Duration = Duration::from_secs(10);

async fn sum(chrome: &Chrome, chart: &str, attr: &str) -> i64 {
    chrome
        .eval(&format!(
            "return [...document.querySelectorAll('#{chart} g.bar')].reduce((n, g) => n + Number(g.dataset.{attr}), 0)"
        ))
        .await
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_refreshes_reauth_and_webhooks_and_replays_a_dead_delivery() {
    let idp = Idp::start(&[
        ("jobs", "true"),
        ("delivery_schedule_s", "0"),
        ("refresh_interval_s", "3600"),
        ("sync_interval_s", "3600"),
    ])
    .await;
    let app = &idp.app;

    // Two refreshes that succeed, then one refused: the connection needs its user again.
    let id = idp.connection_id("alice").await;
    for _ in 0..2 {
        let r = app.post(&format!("/v1/connections/{id}/refresh"), json!({"force": true})).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    crate::support::consoles::make_needs_reauth(&idp, &id).await;

    // A webhook endpoint: one event in, whose only delivery attempt fails (dead-lettered), and one
    // request with a wrong signature.
    let rx = Receiver::start().await;
    rx.answer(&[(500, None)]);
    let sub = app.post("/v1/subscriptions", json!({"url": rx.url})).await;
    assert_eq!(sub.status, 201, "{}", sub.body);
    let ep =
        app.post("/v1/webhook-endpoints", json!({"org": "acme", "provider": "webhook", "scheme": "hmac-sha256"})).await;
    assert_eq!(ep.status, 201, "{}", ep.body);
    let (ep_id, url, secret) =
        (ep.body["id"].as_str().unwrap(), ep.body["url"].as_str().unwrap(), ep.body["secret"].as_str().unwrap());
    let body = json!({"n": 1}).to_string();
    let send = |sig: String| {
        app.client
            .post(url)
            .header("content-type", "application/json")
            .header("X-Webhook-Signature", sig)
            .header("webhook-id", "msg_1")
            .body(body.clone())
            .send()
    };
    assert_eq!(send(sha256_header(secret, &body)).await.unwrap().status(), 200);
    assert_eq!(send(sha256_header("wrong", &body)).await.unwrap().status(), 401);
    eventually(WAIT, "the delivery to be dead-lettered", || async {
        app.get("/v1/deliveries?status=dead").await.body["items"].as_array().is_some_and(|i| i.len() == 1)
    })
    .await;

    // Not from this server's page, or a wrong key: refused, with the reason shown.
    let foreign = app
        .client
        .post(app.url("/ui/admin/sign-in"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("key", app.key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(foreign.headers().get("set-cookie").is_none());
    assert_eq!(app.client.get(app.url("/ui/admin/live")).send().await.unwrap().status(), 401);

    let chrome = Chrome::start(ChromeOptions::default()).await;
    chrome.goto(&app.url("/ui/admin")).await;
    chrome.wait_for("#sign-in", WAIT).await;
    chrome.assert_accessible("the console's sign-in").await;
    chrome.set_dark(true).await;
    chrome.assert_accessible("the console's sign-in (dark)").await;
    chrome.set_dark(false).await;
    chrome.fill("#key", "sk_wrong").await;
    chrome.click("#sign-in button[type=submit]").await;
    chrome.wait_for("#sign-in-error", WAIT).await;
    assert!(
        chrome.text("#sign-in-error").await.contains("unknown or revoked"),
        "{}",
        chrome.text("#sign-in-error").await
    );
    chrome.fill("#key", &app.key).await;
    chrome.click("#sign-in button[type=submit]").await;
    chrome.wait_for("#chart-24h", WAIT).await;

    // The key is nowhere in the browser: not in a readable cookie, storage, or the page.
    let kept: Value = chrome
        .eval("return [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage), document.documentElement.outerHTML]")
        .await;
    for place in kept.as_array().unwrap() {
        assert!(!place.as_str().unwrap().contains(&app.key), "the secret key is kept by the browser");
    }
    assert!(!kept[0].as_str().unwrap().contains("bs_"), "the console cookie is HttpOnly");

    // The charts count exactly the refreshes made above.
    assert_eq!(sum(&chrome, "chart-24h", "success").await, 2);
    assert_eq!(sum(&chrome, "chart-24h", "failure").await, 1);
    assert_eq!(sum(&chrome, "chart-14d", "success").await, 2);
    assert!(chrome.text("#rate-24h").await.contains("66 %"), "{}", chrome.text("#rate-24h").await);
    assert!(chrome.exists(&format!("#reauth tr[data-connection='{id}']")).await);
    assert!(chrome.exists("#connections tr[data-provider='custom-oauth2']").await);
    assert_eq!(chrome.text(&format!("#webhooks tr[data-endpoint='{ep_id}'] .events")).await, "1");
    assert!(chrome.text(&format!("#webhooks tr[data-endpoint='{ep_id}'] .refused")).await.starts_with('1'));
    chrome.assert_accessible("the operator console").await;
    chrome.screenshot("console").await;
    chrome.set_dark(true).await;
    chrome.assert_accessible("the operator console (dark)").await;
    chrome.screenshot("console-dark").await;
    chrome.set_dark(false).await;

    // Replay the dead delivery: it reaches the receiver, and the new delivery appears live.
    chrome.eval("window.__stayed = true").await;
    chrome.wait_for("#live", WAIT).await;
    eventually(WAIT, "the live stream", || async { !chrome.text("#live").await.is_empty() }).await;
    chrome.click("#deliveries [data-action=replay]").await;
    let got = rx.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["data"], json!({"n": 1}));
    eventually(Duration::from_secs(15), "the succeeded delivery to appear without a reload", || async {
        chrome.exists("#deliveries li[data-status=succeeded]").await
    })
    .await;
    assert_eq!(chrome.eval("return window.__stayed === true").await, json!(true), "no reload");
    // A connection's change appears live too: disconnected through the API, gone from the page.
    assert_eq!(app.delete(&format!("/v1/connections/{id}")).await.status, 204);
    eventually(Duration::from_secs(15), "the connection to leave the page without a reload", || async {
        !chrome.exists(&format!("#reauth tr[data-connection='{id}']")).await
            && !chrome.exists("#connections tr[data-provider='custom-oauth2']").await
    })
    .await;
    assert_eq!(chrome.eval("return window.__stayed === true").await, json!(true), "no reload");

    // The audit log filtered by action.
    chrome.fill("#f-action", "connection.refresh").await;
    chrome.click("#audit form button[type=submit]").await;
    // The unfiltered table is on the page until the filtered one replaces it: wait for that.
    let listed_actions = || async {
        let shown = chrome
            .eval("return [...document.querySelectorAll('#audit-table td.action')].map(td => td.textContent)")
            .await;
        serde_json::from_value::<Vec<String>>(shown).unwrap_or_default()
    };
    eventually(WAIT, "the audit table to show only connection.refresh", || async {
        let actions = listed_actions().await;
        !actions.is_empty() && actions.iter().all(|a| a == "connection.refresh")
    })
    .await;
    let actions = listed_actions().await;
    assert!(!actions.is_empty() && actions.iter().all(|a| a == "connection.refresh"), "{actions:?}");

    // Add an integration with the callback URL shown to copy.
    assert_eq!(chrome.text("#callback-url").await, format!("{}/oauth/callback", app.base));
    chrome.eval("document.getElementById('i-provider').value = 'github'").await;
    chrome.fill("#i-id", "gh-console").await;
    chrome.fill("#i-client-id", "Iv1.console").await;
    chrome.fill("#i-client-secret", "console-client-secret").await;
    chrome.click("#add-integration button[type=submit]").await;
    chrome.wait_for("tr[data-integration='gh-console']", WAIT).await;
    let html = chrome.eval("return document.documentElement.outerHTML").await;
    assert!(!html.as_str().unwrap().contains("console-client-secret"), "the client secret is not shown");
    assert_eq!(app.get("/v1/integrations/gh-console").await.body["provider"], "github");

    chrome.click(".bar form button[type=submit]").await;
    chrome.wait_for("#sign-in", WAIT).await;
    chrome.close().await;
}
