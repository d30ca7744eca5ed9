//! The browser SDK (clients/js, built by `npm run build`) in real Chromium, on a host app's page of
//! its own origin: `connect()` in a popup, by redirect when popups are blocked, in an iframe, and
//! with a session token through `POST /v1/connect-links`; the promise resolving with the stored
//! connection, or rejecting with `closed` from the page's Done button.

use std::path::PathBuf;
use std::time::Duration;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use crate::support::chrome::{Chrome, ChromeOptions};
use crate::support::consoles::{eventually, openai_models as openai, session};
use crate::support::fakes::Fake;
use crate::support::server::TestApp;
use crate::support::{TestDb, spawn_app_with};

const WAIT: Duration = Duration::from_secs(10);

/// clients/js/dist, where `npm run build` puts the SDK's ES modules.
fn sdk_dist() -> PathBuf {
    let dist = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../clients/js/dist"));
    assert!(
        dist.join("index.js").is_file() && dist.join("connect.js").is_file(),
        "the browser SDK is not built ({}/index.js is missing): run `npm ci && npm run build` in clients/js \
         (bash scripts/test.sh does)",
        dist.display()
    );
    dist
}

/// The host page: a button whose click calls `connect(cfg)` (cfg from `?cfg=` JSON) and writes the
/// connection, or the error's code, into `#result`; every event goes into `#events`.
const HOST_PAGE: &str = r#"<!doctype html><html lang=en><head><meta charset=utf-8><title>host app</title></head>
<body><h1>Host app</h1><button id=go type=button>Connect an account</button>
<div id=box></div><output id=result></output><ol id=events></ol>
<script type=module>
import { connect } from "/sdk/index.js";
const cfg = JSON.parse(new URL(location.href).searchParams.get("cfg"));
const result = document.getElementById("result");
document.getElementById("go").addEventListener("click", () => {
  const options = { ...cfg, onEvent: (e) => {
    const li = document.createElement("li"); li.textContent = e.type; document.getElementById("events").append(li);
  } };
  if (cfg.mode === "iframe") options.container = document.getElementById("box");
  result.textContent = "pending";
  connect(options).then(
    (c) => { result.textContent = "ok " + c.connectionId + " " + c.provider; },
    (e) => { result.textContent = "err " + (e.code || e.message) + (e.status !== undefined ? " " + e.status : ""); },
  );
});
document.body.dataset.ready = "1";
</script></body></html>"#;

/// Where a redirect-mode connect comes back to: `readRedirectResult()` as JSON in `#result`.
const RETURN_PAGE: &str = r#"<!doctype html><html lang=en><head><meta charset=utf-8><title>back in the host app</title></head>
<body><output id=result></output>
<script type=module>
import { readRedirectResult } from "/sdk/index.js";
document.getElementById("result").textContent = JSON.stringify(readRedirectResult());
document.body.dataset.ready = "1";
</script></body></html>"#;

async fn sdk_file(Path(name): Path<String>) -> Response {
    let ok =
        name.ends_with(".js") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !ok || name.contains("..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(sdk_dist().join(&name)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A Switchboard whose page may frame into and message the host origin, plus that host app on a
/// port reserved before the server starts (its origin goes into `ui_frame_ancestors`).
struct Setup {
    app: TestApp,
    host: String,
    _fake: Fake,
    _task: tokio::task::JoinHandle<()>,
}

async fn setup() -> Setup {
    sdk_dist();
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let host = format!("http://127.0.0.1:{port}");
    let fake = Fake::start("https://api.openai.com", openai).await;
    let app = spawn_app_with(
        TestDb::sqlite().await,
        &[
            ("ui_frame_ancestors", &host),
            ("allowed_redirects", &format!("{host}/")),
            ("outbound_overrides", &fake.override_entry()),
        ],
    )
    .await;
    let router = axum::Router::new()
        .route("/", axum::routing::get(|| async { Html(HOST_PAGE) }))
        .route("/return", axum::routing::get(|| async { Html(RETURN_PAGE) }))
        .route("/sdk/{name}", axum::routing::get(sdk_file));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Setup { app, host, _fake: fake, _task: task }
}

/// Opens the host page with `cfg` as connect's options and waits for its module to load.
async fn open_host(chrome: &Chrome, host: &str, cfg: Value) {
    let url = url::Url::parse_with_params(&format!("{host}/"), &[("cfg", cfg.to_string())]).unwrap();
    chrome.goto(url.as_str()).await;
    chrome.wait_for("body[data-ready='1']", WAIT).await;
}

async fn result_text(chrome: &Chrome) -> String {
    chrome.eval("return document.getElementById('result').textContent").await.as_str().unwrap_or_default().to_owned()
}

/// Waits until `#result` on the current page is no longer empty or pending, and returns it.
async fn settled(chrome: &Chrome) -> String {
    eventually(WAIT, "connect() to settle", || async {
        let t = result_text(chrome).await;
        !t.is_empty() && t != "pending"
    })
    .await;
    result_text(chrome).await
}

/// On the page's OpenAI form (in the current window or frame): the good key, Test, then Save.
async fn save_openai_key(chrome: &Chrome) {
    let form = "form[data-mode=api_key]";
    chrome.wait_for(form, WAIT).await;
    chrome.fill("#f-api_key-api_key", "sk-good-key-123").await;
    chrome.click("[data-action=test-credentials]").await;
    eventually(WAIT, "the key's test to pass", || async {
        chrome.text(&format!("{form} .result")).await.contains("GET /v1/models")
    })
    .await;
    chrome.click("[data-action=save-credentials]").await;
}

/// In the popup (the current window): the page must still have its opener, or it cannot tell the
/// host anything and connect() never settles.
async fn assert_popup_has_opener(chrome: &Chrome) {
    let severed = chrome.eval("return window.opener === null").await;
    assert_eq!(
        severed,
        json!(false),
        "the integrations page in the popup ({}) has no window.opener: its Cross-Origin-Opener-Policy \
         severs a cross-origin opener, so its postMessage cannot reach the host app",
        chrome.current_url().await
    );
}

/// The one stored connection's id.
async fn only_connection(app: &TestApp) -> String {
    let items = app.get("/v1/connections").await.body["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(items[0]["provider"], "openai", "{items}");
    items[0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_connect_resolves_with_the_stored_connection_and_done_rejects_with_closed() {
    let Setup { app, host, .. } = setup().await;
    let chrome = Chrome::start(ChromeOptions::default()).await;

    // Connect in the popup, opened on the provider's page.
    let s = session(&app, "acme", "u1", "member", json!({})).await;
    open_host(&chrome, &host, json!({"connectUrl": s["connect_url"], "mode": "popup", "provider": "openai"})).await;
    let page = chrome.window().await;
    chrome.click("#go").await;
    chrome.switch_to_new_window(WAIT).await;
    assert!(chrome.current_url().await.contains("/ui/p/openai"), "{}", chrome.current_url().await);
    assert_popup_has_opener(&chrome).await;
    save_openai_key(&chrome).await;
    // The SDK closes its popup once it has the connection.
    chrome.switch_to(page.clone()).await;
    let got = settled(&chrome).await;
    let id = only_connection(&app).await;
    assert_eq!(got, format!("ok {id} openai"));
    chrome.wait_for_windows(1, WAIT).await;
    let events = chrome.text("#events").await;
    assert!(events.contains("switchboard:ready") && events.contains("switchboard:connected"), "{events}");

    // The page's Done button: the promise rejects with `closed` and the popup closes itself.
    let s = session(&app, "acme", "u1", "member", json!({})).await;
    open_host(&chrome, &host, json!({"connectUrl": s["connect_url"], "mode": "popup"})).await;
    chrome.click("#go").await;
    chrome.switch_to_new_window(WAIT).await;
    chrome.wait_for("#main h1", WAIT).await;
    assert_popup_has_opener(&chrome).await;
    chrome.wait_for("[data-action=close]:not([hidden])", WAIT).await;
    chrome.click("[data-action=close]").await;
    chrome.switch_to(page).await;
    assert_eq!(settled(&chrome).await, "err closed");
    chrome.wait_for_windows(1, WAIT).await;
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_popups_blocked_connect_redirects_and_the_return_page_reads_the_result() {
    let Setup { app, host, .. } = setup().await;
    let chrome = Chrome::start(ChromeOptions { popups_blocked: true, ..ChromeOptions::default() }).await;
    let back = format!("{host}/return");
    let s = session(&app, "acme", "u1", "member", json!({"return_url": back})).await;
    open_host(
        &chrome,
        &host,
        json!({"connectUrl": s["connect_url"], "mode": "popup", "provider": "openai", "returnUrl": back}),
    )
    .await;
    chrome.click("#go").await;
    // No popup: the whole page went to Switchboard's.
    eventually(WAIT, "the redirect to the integrations page", || async {
        chrome.current_url().await.starts_with(&format!("{}/ui/p/openai", app.base))
    })
    .await;
    assert_eq!(chrome.windows().await.len(), 1, "no popup was opened");
    save_openai_key(&chrome).await;
    eventually(WAIT, "the way back to the host app", || async {
        chrome.current_url().await.starts_with(&format!("{back}?"))
    })
    .await;
    chrome.wait_for("body[data-ready='1']", WAIT).await;
    let id = only_connection(&app).await;
    let read: Value = serde_json::from_str(&result_text(&chrome).await).unwrap();
    assert_eq!(read, json!({"status": "success", "provider": "openai", "connectionId": id}));

    // Its Done button goes back too, with status=closed.
    let s = session(&app, "acme", "u1", "member", json!({"return_url": back})).await;
    open_host(&chrome, &host, json!({"connectUrl": s["connect_url"], "mode": "redirect"})).await;
    chrome.click("#go").await;
    eventually(WAIT, "the redirect to the integrations page", || async {
        chrome.current_url().await.starts_with(&format!("{}/ui", app.base))
    })
    .await;
    chrome.wait_for("[data-action=close]:not([hidden])", WAIT).await;
    chrome.click("[data-action=close]").await;
    eventually(WAIT, "the way back to the host app", || async {
        chrome.current_url().await.starts_with(&format!("{back}?"))
    })
    .await;
    chrome.wait_for("body[data-ready='1']", WAIT).await;
    let read: Value = serde_json::from_str(&result_text(&chrome).await).unwrap();
    assert_eq!(read, json!({"status": "closed"}));
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iframe_connect_resolves_after_the_save_inside_the_frame_and_removes_it() {
    let Setup { app, host, .. } = setup().await;
    let chrome = Chrome::start(ChromeOptions::default()).await;
    let s = session(&app, "acme", "u1", "member", json!({})).await;
    open_host(
        &chrome,
        &host,
        json!({"connectUrl": s["connect_url"], "mode": "iframe", "provider": "openai", "title": "Connect OpenAI"}),
    )
    .await;
    chrome.click("#go").await;
    chrome.wait_for("#box iframe[title='Connect OpenAI']", WAIT).await;
    chrome.client.enter_frame(0).await.unwrap();
    save_openai_key(&chrome).await;
    // The SDK removes the frame it was in: back to the top-level document.
    let page = chrome.window().await;
    chrome.switch_to(page).await;
    let got = settled(&chrome).await;
    let id = only_connection(&app).await;
    assert_eq!(got, format!("ok {id} openai"));
    assert_eq!(chrome.eval("return document.querySelectorAll('iframe').length").await, json!(0));
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_token_connect_gets_a_fresh_link_and_resolves_in_the_popup() {
    let Setup { app, host, .. } = setup().await;
    let chrome = Chrome::start(ChromeOptions::default()).await;
    let s = session(&app, "acme", "u1", "member", json!({})).await;
    open_host(
        &chrome,
        &host,
        json!({"sessionToken": s["token"], "baseUrl": app.base, "mode": "popup", "provider": "openai"}),
    )
    .await;
    let page = chrome.window().await;
    chrome.click("#go").await;
    // The popup opens on about:blank at once; it stays open unless the link request failed.
    eventually(WAIT, "the connect link to be fetched", || async {
        chrome.windows().await.len() == 2 && !result_text(&chrome).await.starts_with("err")
            || result_text(&chrome).await.starts_with("err")
    })
    .await;
    let early = result_text(&chrome).await;
    assert!(
        !early.starts_with("err"),
        "connect() failed before the page opened: {early} (a status of 0 is a network or CORS refusal: \
         POST /v1/connect-links from the host's origin needs CORS headers for it)"
    );
    chrome.switch_to_new_window(WAIT).await;
    eventually(WAIT, "the popup to reach the provider's page", || async {
        chrome.current_url().await.starts_with(&format!("{}/ui/p/openai", app.base))
    })
    .await;
    assert_popup_has_opener(&chrome).await;
    save_openai_key(&chrome).await;
    chrome.switch_to(page).await;
    let got = settled(&chrome).await;
    let id = only_connection(&app).await;
    assert_eq!(got, format!("ok {id} openai"));
    chrome.close().await;
}
