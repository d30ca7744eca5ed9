//! The real-Chromium harness (support::chrome) against a tiny in-process page
//! served with a strict nonce CSP, the kind Switchboard's own pages carry.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::support::chrome::{Chrome, ChromeOptions, Key};

const WAIT: Duration = Duration::from_secs(5);

fn page(title: &str, body: &str) -> Response {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style nonce="{nonce}">
  body {{ background: rgb(255, 255, 255); color: rgb(17, 17, 17); font: 16px sans-serif; }}
  @media (prefers-color-scheme: dark) {{
    body {{ background: rgb(17, 17, 17); color: rgb(238, 238, 238); }}
  }}
</style>
</head>
<body>
<main>
{body}
</main>
<script>document.body.dataset.unnonced = "ran";</script>
<script nonce="{nonce}">
  document.body.dataset.nonced = "ran";
  let clicks = 0;
  document.getElementById("count")?.addEventListener("click", () => {{
    clicks += 1;
    document.getElementById("clicks").textContent = String(clicks);
  }});
  document.getElementById("open")?.addEventListener("click", () => {{
    const w = window.open("/other", "_blank");
    document.getElementById("popup").textContent = w === null ? "blocked" : "opened";
  }});
</script>
</body>
</html>"#
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                format!("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self'"),
            ),
        ],
        html,
    )
        .into_response()
}

const HOME: &str = r#"<h1>Harness</h1>
<p>Clicked <span id="clicks">0</span> times; popup <span id="popup">none</span>.</p>
<button id="count" type="button">Count</button>
<button id="open" type="button">Open the other page</button>"#;

async fn serve() -> String {
    let app = Router::new()
        .route("/", get(|| async { page("Harness", HOME) }))
        .route("/other", get(|| async { page("Other", "<h1>Other page</h1>") }))
        .route(
            "/broken",
            get(|| async { page("Broken", r#"<h1>Broken</h1><img src="/img/logo.png" width="10" height="10">"#) }),
        )
        .route(
            "/lang",
            get(|headers: HeaderMap| async move {
                let lang = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                page("Language", &format!(r#"<h1>Language</h1><p id="accept">{lang}</p>"#))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_keyboard_and_text_under_a_strict_csp() {
    let base = serve().await;
    let chrome = Chrome::start(ChromeOptions::default()).await;
    chrome.goto(&format!("{base}/")).await;
    assert_eq!(chrome.text("h1").await, "Harness");
    // The CSP is in force: the script without the nonce did not run, the other did.
    assert_eq!(chrome.eval("return document.body.dataset.unnonced ?? null").await, json!(null));
    assert_eq!(chrome.eval("return document.body.dataset.nonced").await, json!("ran"));

    chrome.click("#count").await;
    assert_eq!(chrome.text("#clicks").await, "1");

    // Keyboard, on a fresh load (blur() would keep the focus-navigation starting point at the
    // button): Tab reaches the first button, Enter presses it; Tab, Shift+Tab move focus.
    chrome.goto(&format!("{base}/")).await;
    chrome.press_keys(&Key::Tab.to_string()).await;
    assert_eq!(chrome.focused_id().await, "count");
    chrome.press_keys(&(Key::Enter + &Key::Enter.to_string())).await;
    assert_eq!(chrome.text("#clicks").await, "2");
    chrome.press_keys(&Key::Tab.to_string()).await;
    assert_eq!(chrome.focused_id().await, "open");
    chrome.press_chord(&[Key::Shift, Key::Tab]).await;
    assert_eq!(chrome.focused_id().await, "count");
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_runs_under_the_csp_and_finds_a_missing_alt() {
    let base = serve().await;
    let chrome = Chrome::start(ChromeOptions::default()).await;

    chrome.goto(&format!("{base}/")).await;
    chrome.assert_accessible("the harness page").await;

    chrome.goto(&format!("{base}/broken")).await;
    let violations = chrome.axe().await;
    let ids: Vec<&str> = violations.iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(ids, ["image-alt"], "{violations:#?}");
    assert_eq!(violations[0]["nodes"][0]["target"], json!(["img"]));

    let report = std::panic::AssertUnwindSafe(chrome.assert_accessible("the broken page"));
    let panic = futures::FutureExt::catch_unwind(report).await.expect_err("a missing alt is a violation");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("image-alt") && message.contains("Images must have alternative text"), "{message}");
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dark_colour_scheme_is_emulated() {
    let base = serve().await;
    let background = "return getComputedStyle(document.body).backgroundColor";

    let chrome = Chrome::start(ChromeOptions::default()).await;
    chrome.goto(&format!("{base}/")).await;
    assert_eq!(chrome.eval(background).await, json!("rgb(255, 255, 255)"));
    chrome.set_dark(true).await;
    assert_eq!(chrome.eval(background).await, json!("rgb(17, 17, 17)"));
    assert_eq!(chrome.eval("return matchMedia('(prefers-color-scheme: dark)').matches").await, json!(true));
    chrome.assert_accessible("the harness page, dark").await;
    chrome.set_dark(false).await;
    assert_eq!(chrome.eval(background).await, json!("rgb(255, 255, 255)"));
    chrome.close().await;

    let chrome = Chrome::start(ChromeOptions { dark: true, ..ChromeOptions::default() }).await;
    chrome.goto(&format!("{base}/")).await;
    assert_eq!(chrome.eval(background).await, json!("rgb(17, 17, 17)"));
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn popups_open_or_are_blocked() {
    let base = serve().await;

    let blocked = Chrome::start(ChromeOptions { popups_blocked: true, ..ChromeOptions::default() }).await;
    blocked.goto(&format!("{base}/")).await;
    assert_eq!(blocked.eval("return window.open('/other') === null").await, json!(true));
    blocked.click("#open").await;
    assert_eq!(blocked.text("#popup").await, "blocked");
    assert_eq!(blocked.windows().await.len(), 1);
    blocked.close().await;

    let chrome = Chrome::start(ChromeOptions { dark: true, ..ChromeOptions::default() }).await;
    chrome.goto(&format!("{base}/")).await;
    let opener = chrome.window().await;
    chrome.click("#open").await;
    assert_eq!(chrome.text("#popup").await, "opened");
    chrome.wait_for_windows(2, WAIT).await;
    chrome.switch_to_new_window(WAIT).await;
    assert_eq!(chrome.text("h1").await, "Other page");
    assert_eq!(chrome.current_url().await, format!("{base}/other"));
    // switch_to carried the dark emulation over to the popup.
    assert_eq!(chrome.eval("return matchMedia('(prefers-color-scheme: dark)').matches").await, json!(true));
    chrome.switch_to(opener).await;
    assert_eq!(chrome.text("h1").await, "Harness");
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_and_window_size() {
    let base = serve().await;
    let chrome =
        Chrome::start(ChromeOptions { lang: Some("de".to_owned()), window: (800, 600), ..ChromeOptions::default() })
            .await;
    chrome.goto(&format!("{base}/lang")).await;
    let accept = chrome.text("#accept").await;
    assert!(accept.starts_with("de"), "Accept-Language: {accept}");
    assert_eq!(chrome.eval("return navigator.language").await, json!("de"));
    assert_eq!(chrome.eval("return window.innerWidth").await, json!(800));
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshot_is_written_and_drop_ends_the_browser() {
    let base = serve().await;
    let chrome = Chrome::start(ChromeOptions::default()).await;
    chrome.goto(&format!("{base}/")).await;
    chrome.wait_for("#open", WAIT).await;
    let path = chrome.screenshot("browser_harness").await;
    let png = std::fs::read(&path).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000, "{} is no PNG", path.display());

    // Dropping (not closing) kills chromedriver's whole process group, Chromium included.
    let profile = chrome.profile_dir().display().to_string();
    drop(chrome);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while processes_mentioning(&profile) {
        assert!(std::time::Instant::now() < deadline, "a Chromium with profile {profile} outlived its Chrome");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether any process's command line contains `needle` (each Chrome has its own profile dir).
fn processes_mentioning(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().filter_map(Result::ok).any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(needle))
            .unwrap_or(false)
    })
}
