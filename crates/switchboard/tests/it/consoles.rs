//! The integrations page in real Chromium: entering through connect_url, credential and OAuth
//! connects (popup and redirect), account actions by role, filters, languages, embedding, keyboard
//! use and WCAG 2.2 AA (axe-core) in both themes. Screenshots go to target/screenshots/.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::chrome::{Chrome, ChromeOptions, Key};
use crate::support::consoles::{
    assert_no_external_requests, eventually, make_needs_reauth, open_page, openai_models as openai, session,
    sign_in_at_idp,
};
use crate::support::fakes::{Fake, Seen, shape, unexpected};
use crate::support::idp::Idp;
use crate::support::{TestDb, spawn_app, spawn_app_with};

const WAIT: Duration = Duration::from_secs(10);

fn set_cookie(a: &crate::support::server::Answer) -> String {
    a.headers.get("set-cookie").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf-token\" content=\"").expect("the page carries a CSRF token") + 27;
    html[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_url_opens_the_page_once_and_no_token_follows_it() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let s = session(&app, "acme", "u1", "member", json!({})).await;
    let link = s["connect_url"].as_str().unwrap();
    assert!(link.starts_with(&format!("{}/ui/connect/cl_", app.base)), "{link}");
    let token = s["token"].as_str().unwrap();

    let entered = app.send(app.client.get(link)).await;
    assert_eq!(entered.status, 303);
    assert_eq!(entered.headers["location"], "/ui");
    let cookie = set_cookie(&entered);
    for part in ["sb_session=bs_", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(part), "{part} missing in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "http public URL: no Secure ({cookie})");
    let again = app.client.get(link).send().await.unwrap();
    assert_eq!(again.status(), 401);
    let text = again.text().await.unwrap();
    assert!(text.contains("used already"), "{text}");

    let pair = cookie.split(';').next().unwrap().to_owned();
    let page = app.client.get(app.url("/ui")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'nonce-")
            && csp.contains("default-src 'none'")
            && csp.contains("frame-ancestors 'self'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    for secret in [token, link, pair.split('=').nth(1).unwrap()] {
        assert!(!html.contains(secret), "the page's HTML holds a token");
    }
    assert!(!html.contains("http://") || !html.contains("<script src=\"http"), "no external script");

    // The page's API calls need the cookie and its CSRF token.
    let csrf = csrf_of(&html);
    let bare = app.client.get(app.url("/v1/connections")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(bare.status(), 403);
    let with = app
        .client
        .get(app.url("/v1/connections"))
        .header("cookie", &pair)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), 200);
    let wrong = app
        .client
        .get(app.url("/v1/connections"))
        .header("cookie", &pair)
        .header("x-csrf-token", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);

    // Ending the session ends the page's too.
    let id = s["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/v1/sessions/{id}")).await.status, 204);
    let after = app.client.get(app.url("/ui")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(after.status(), 401);
    let after = app
        .client
        .get(app.url("/v1/connections"))
        .header("cookie", &pair)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);

    // Framed, the cookie must cross into the frame: SameSite=None, Secure, Partitioned.
    let s = session(&app, "acme", "u1", "member", json!({})).await;
    let framed = app.send(app.client.get(s["connect_url"].as_str().unwrap()).header("sec-fetch-dest", "iframe")).await;
    let cookie = set_cookie(&framed);
    assert!(cookie.contains("SameSite=None; Secure; Partitioned"), "{cookie}");

    // Bad session fields are named.
    let bad = app.post("/v1/sessions", json!({"org": "acme", "user": "u1", "role": "member", "locale": "xx"})).await;
    assert_eq!((bad.status, bad.body["error"]["field"].as_str()), (400, Some("locale")), "{}", bad.body);
    let bad =
        app.post("/v1/sessions", json!({"org": "acme", "user": "u1", "role": "member", "providers": ["nope"]})).await;
    assert_eq!((bad.status, bad.body["error"]["field"].as_str()), (400, Some("providers")), "{}", bad.body);
    let unknown = app.send(app.client.get(app.url("/ui/connect/cl_nothing"))).await;
    assert_eq!(unknown.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_is_tested_before_it_is_saved_and_the_pages_pass_axe_in_both_themes() {
    let fake = Fake::start("https://api.openai.com", openai).await;
    let app = spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &fake.override_entry())]).await;
    let chrome = Chrome::start(ChromeOptions::default()).await;
    open_page(&chrome, &app, "acme", "u1", "admin", json!({})).await;
    assert_no_external_requests(&chrome, &app.base).await;
    chrome.assert_accessible("the marketplace (light)").await;
    chrome.screenshot("ui-marketplace").await;
    chrome.set_dark(true).await;
    chrome.assert_accessible("the marketplace (dark)").await;
    chrome.screenshot("ui-marketplace-dark").await;
    chrome.set_dark(false).await;

    chrome.click("a[href='/ui/p/openai']").await;
    chrome.wait_for("form[data-mode=api_key]", WAIT).await;
    chrome.assert_accessible("a credential provider's page").await;
    // The client-side check names the prefix before anything is sent.
    chrome.fill("#f-api_key-api_key", "wrong").await;
    chrome.click("[data-action=test-credentials]").await;
    let err = chrome.text("#f-api_key-api_key-err").await;
    assert!(err.contains("sk-"), "{err}");
    assert_eq!(fake.hits(), 0);
    // A wrong key: the provider's own reason, and nothing saved.
    chrome.fill("#f-api_key-api_key", "sk-wrong").await;
    chrome.click("[data-action=test-credentials]").await;
    let form = "form[data-mode=api_key]";
    eventually(WAIT, "the provider's reason shown", || async {
        chrome.text(&format!("{form} .result")).await.contains("Incorrect API key provided")
    })
    .await;
    assert_eq!(
        chrome.eval("return document.querySelector('[data-action=save-credentials]').disabled").await,
        json!(true)
    );
    chrome.screenshot("ui-credential-refused").await;
    assert_eq!(app.get("/v1/connections").await.body["items"], json!([]));

    // The right key: tested, then saved, and the page shows the account.
    chrome.fill("#f-api_key-api_key", "sk-good-key-123").await;
    chrome.fill("#label-api_key", "Research").await;
    chrome.click("[data-action=test-credentials]").await;
    eventually(WAIT, "the test passes", || async {
        chrome.text(&format!("{form} .result")).await.contains("GET /v1/models")
    })
    .await;
    chrome.click("[data-action=save-credentials]").await;
    chrome.wait_for("article.account", WAIT).await;
    assert!(chrome.text("article.account h3").await.contains("Research"));
    let items = app.get("/v1/connections").await.body["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(items[0]["owner"], "u1");
    chrome.assert_accessible("a provider page with an account").await;
    chrome.set_dark(true).await;
    chrome.assert_accessible("a provider page with an account (dark)").await;
    chrome.screenshot("ui-provider-dark").await;
    chrome.set_dark(false).await;
    chrome.screenshot("ui-provider").await;

    chrome.goto(&app.url("/ui")).await;
    chrome.wait_for(".card[data-provider=openai] .badge", WAIT).await;
    assert!(chrome.text(".card[data-provider=openai] .badge").await.contains('1'));
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_connects_in_a_popup_and_by_redirect_when_popups_are_blocked() {
    let idp = Idp::start(&[]).await;
    let app = &idp.app;
    // In a popup: the page reads the result from the server and reloads with the account.
    let chrome = Chrome::start(ChromeOptions::default()).await;
    open_page(&chrome, app, "acme", "u1", "member", json!({})).await;
    chrome.click("a[href='/ui/p/custom-oauth2']").await;
    chrome.wait_for("#oauth-connect", WAIT).await;
    chrome.fill("#oauth-label", "Popup account").await;
    let page = chrome.window().await;
    // With the keyboard: Tab to the button, Enter opens the popup (a key press is a user gesture).
    crate::support::consoles::tab_to(&chrome, "#oauth-connect").await;
    chrome.press_chord(&[Key::Enter]).await;
    chrome.switch_to_new_window(WAIT).await;
    sign_in_at_idp(&chrome, "alice").await;
    chrome.switch_to(page).await;
    chrome.wait_for("article.account", Duration::from_secs(20)).await;
    assert!(chrome.text("article.account").await.contains("Popup account"));
    chrome.screenshot("ui-oauth-connected").await;
    chrome.close().await;
    let items = app.get("/v1/connections").await.body["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(items[0]["label"], "Popup account");

    // Popups blocked: the same flow as a full-page redirect, back to the page.
    let chrome = Chrome::start(ChromeOptions { popups_blocked: true, ..ChromeOptions::default() }).await;
    open_page(&chrome, app, "acme", "u2", "member", json!({})).await;
    chrome.goto(&app.url("/ui/p/custom-oauth2")).await;
    chrome.fill("#oauth-label", "Redirect account").await;
    chrome.click("#oauth-connect").await;
    sign_in_at_idp(&chrome, "bob").await;
    chrome.wait_for("article.account", Duration::from_secs(20)).await;
    let labels =
        chrome.eval("return [...document.querySelectorAll('article.account h3')].map(h => h.textContent)").await;
    assert_eq!(labels, json!(["Popup account", "Redirect account"]), "u1's shared account and u2's own");
    let url = chrome.current_url().await;
    assert!(url.ends_with("/ui/p/custom-oauth2"), "the handshake id leaves the URL: {url}");
    assert_eq!(chrome.windows().await.len(), 1, "no popup was opened");
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_and_owners_of_private_accounts_may_disconnect_and_the_route_agrees() {
    let fake = Fake::start("https://api.openai.com", openai).await;
    let app = spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &fake.override_entry())]).await;
    let shared = app
        .connect(json!({"provider": "openai", "org": "acme", "user": "u1", "label": "Team key", "shared": true, "credentials": {"api_key": "sk-good-key-123"}}))
        .await;

    // A member who does not own it: no disconnect button, and the route refuses the page's call.
    let chrome = Chrome::start(ChromeOptions::default()).await;
    open_page(&chrome, &app, "acme", "u2", "member", json!({})).await;
    chrome.goto(&app.url("/ui/p/openai")).await;
    chrome.wait_for("article.account", WAIT).await;
    assert!(!chrome.exists("[data-action=disconnect]").await, "a member sees no disconnect button");
    let status = chrome
        .eval(&format!(
            "return fetch('/v1/connections/{shared}', {{method: 'DELETE', headers: {{'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}}}}).then(r => r.status)"
        ))
        .await;
    assert_eq!(status, json!(403));
    // Testing is open to everyone who may use it.
    chrome.click("[data-action=test]").await;
    eventually(WAIT, "the test result", || async { chrome.text("article.account .result").await.contains("works") })
        .await;
    chrome.close().await;

    // An admin: the confirmation names the account; cancelling keeps it, confirming removes it.
    let chrome = Chrome::start(ChromeOptions::default()).await;
    open_page(&chrome, &app, "acme", "admin1", "admin", json!({})).await;
    chrome.goto(&app.url("/ui/p/openai")).await;
    chrome.click("[data-action=disconnect]").await;
    chrome.wait_for("dialog[open]", WAIT).await;
    assert!(chrome.text("dialog[open] h2").await.contains("Team key"));
    chrome.assert_accessible("the disconnect confirmation").await;
    chrome.screenshot("ui-confirm-disconnect").await;
    chrome.click("dialog[open] [data-action=cancel-disconnect]").await;
    assert_eq!(app.get(&format!("/v1/connections/{shared}")).await.status, 200);
    chrome.click("[data-action=disconnect]").await;
    chrome.click("dialog[open] [data-action=confirm-disconnect]").await;
    eventually(WAIT, "the account to go", || async { !chrome.exists("article.account").await }).await;
    assert_eq!(app.get(&format!("/v1/connections/{shared}")).await.status, 404);
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_needing_reauth_reconnects_as_the_same_connection() {
    let idp = Idp::start(&[]).await;
    let app = &idp.app;
    let id = idp.connection_id("alice").await;
    make_needs_reauth(&idp, &id).await;

    let chrome = Chrome::start(ChromeOptions::default()).await;
    open_page(&chrome, app, "acme", "u1", "member", json!({})).await;
    assert!(chrome.exists(".banner.warn").await, "the marketplace warns");
    chrome.screenshot("ui-needs-reauth").await;
    chrome.click(".banner.warn a").await;
    chrome.wait_for("article.account .banner.warn [data-action=reconnect]", WAIT).await;
    chrome.assert_accessible("a provider page with a connection needing reauth").await;
    let page = chrome.window().await;
    chrome.click("article.account .banner.warn [data-action=reconnect]").await;
    chrome.switch_to_new_window(WAIT).await;
    sign_in_at_idp(&chrome, "alice").await;
    chrome.switch_to(page).await;
    eventually(Duration::from_secs(20), "the banner to go", || async {
        chrome.exists("article.account .badge.connected").await
    })
    .await;
    let c = app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(c.body["status"], "connected", "{}", c.body);
    assert_eq!(app.get("/v1/connections").await.body["items"].as_array().unwrap().len(), 1, "the same connection");
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_categories_filter_german_texts_and_keyboard_only_use() {
    let fake = Fake::start("https://api.openai.com", openai).await;
    let app = spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &fake.override_entry())]).await;
    let chrome = Chrome::start(ChromeOptions { lang: Some("de".into()), ..ChromeOptions::default() }).await;
    open_page(&chrome, &app, "acme", "u1", "admin", json!({})).await;
    // The browser asks for German.
    assert_eq!(chrome.text("#main h1").await, "Integrationen");
    assert_eq!(chrome.eval("return document.documentElement.lang").await, json!("de"));
    let all = chrome.eval("return document.querySelectorAll('#cards .card').length").await.as_u64().unwrap();
    assert!(all > 50, "{all} cards");
    assert!(chrome.text("#count").await.contains("Integrationen"));
    chrome.screenshot("ui-marketplace-de").await;

    // Keyboard only: skip link, the search box, typing filters as you go.
    chrome.press_chord(&[Key::Tab]).await;
    chrome.press_chord(&[Key::Enter]).await;
    chrome.press_chord(&[Key::Tab]).await;
    assert_eq!(chrome.focused_id().await, "search");
    chrome.press_keys("openai").await;
    eventually(WAIT, "one card left", || async {
        chrome.eval("return [...document.querySelectorAll('#cards .card')].filter(c => !c.hidden).length").await
            == json!(1)
    })
    .await;
    assert_eq!(chrome.text("#count").await, "1 Integration");
    // Tab to the category select, then the one card left; Enter opens it.
    chrome.press_chord(&[Key::Tab]).await;
    chrome.press_chord(&[Key::Tab]).await;
    chrome.press_chord(&[Key::Enter]).await;
    chrome.wait_for("form[data-mode=api_key]", WAIT).await;
    assert!(chrome.text("form[data-mode=api_key]").await.contains("Testen"));
    // Fill the key with the keyboard and test with Enter (the form's submit), then save with Enter.
    chrome.eval("document.getElementById('f-api_key-api_key').focus()").await;
    chrome.press_keys("sk-good-key-123").await;
    chrome.press_chord(&[Key::Enter]).await;
    eventually(WAIT, "the test passes", || async {
        chrome.eval("return document.activeElement.getAttribute('data-action')").await == json!("save-credentials")
    })
    .await;
    chrome.press_chord(&[Key::Enter]).await;
    chrome.wait_for("article.account", WAIT).await;
    assert_eq!(app.get("/v1/connections").await.body["items"].as_array().unwrap().len(), 1);

    // Categories: only the category's cards; and a session's own language and provider list win.
    chrome.goto(&app.url("/ui")).await;
    chrome.wait_for("#category", WAIT).await;
    chrome
        .eval("const s = document.getElementById('category'); s.value = 'ai'; s.dispatchEvent(new Event('change'));")
        .await;
    let shown: Vec<String> = serde_json::from_value(
        chrome.eval("return [...document.querySelectorAll('#cards .card')].filter(c => !c.hidden).map(c => c.dataset.categories)").await,
    )
    .unwrap();
    assert!(!shown.is_empty() && shown.iter().all(|c| c.split(' ').any(|x| x == "ai")), "{shown:?}");
    chrome.close().await;

    let chrome = Chrome::start(ChromeOptions { lang: Some("de".into()), ..ChromeOptions::default() }).await;
    open_page(&chrome, &app, "acme", "u1", "admin", json!({"locale": "en", "providers": ["openai", "slack"]})).await;
    assert_eq!(chrome.text("#main h1").await, "Integrations");
    let ids: Vec<String> = serde_json::from_value(
        chrome.eval("return [...document.querySelectorAll('#cards .card')].map(c => c.dataset.provider)").await,
    )
    .unwrap();
    assert_eq!(
        ids,
        vec!["openai".to_owned(), "slack".to_owned()],
        "the session's list, both connectable by credentials"
    );
    chrome.close().await;
}

/// A host app's page on its own origin that frames `src` and writes the messages it gets.
async fn host_page(src: String) -> (String, tokio::task::JoinHandle<()>) {
    let html = format!(
        "<!doctype html><html lang=en><title>host</title><ol id=got></ol><iframe id=f title=integrations src=\"{src}\" width=900 height=600></iframe>\
<script>addEventListener('message', e => {{ const li = document.createElement('li'); li.textContent = e.origin + ' ' + JSON.stringify(e.data); document.getElementById('got').append(li); }});</script>"
    );
    let router =
        axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(html.clone()) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (origin, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_works_framed_by_an_allowed_origin_and_is_refused_by_another() {
    // The allowed host's origin must be known before the server starts: reserve its port first.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let allowed_port = listener.local_addr().unwrap().port();
    drop(listener);
    let allowed = format!("http://127.0.0.1:{allowed_port}");
    let app = spawn_app_with(TestDb::sqlite().await, &[("ui_frame_ancestors", &allowed)]).await;

    let s = session(&app, "acme", "u1", "admin", json!({})).await;
    let html = format!(
        "<!doctype html><html lang=en><title>host</title><ol id=got></ol><iframe id=f title=integrations src=\"{}\" width=900 height=600></iframe>\
<script>addEventListener('message', e => {{ const li = document.createElement('li'); li.textContent = e.origin + ' ' + JSON.stringify(e.data); document.getElementById('got').append(li); }});</script>",
        s["connect_url"].as_str().unwrap()
    );
    let router =
        axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(html.clone()) }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", allowed_port)).await.unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    let chrome = Chrome::start(ChromeOptions::default()).await;
    chrome.goto(&format!("{allowed}/")).await;
    eventually(WAIT, "the framed page's ready message", || async {
        chrome
            .eval("return document.getElementById('got').textContent")
            .await
            .as_str()
            .unwrap_or_default()
            .contains("switchboard:ready")
    })
    .await;
    let got: String =
        chrome.eval("return document.getElementById('got').textContent").await.as_str().unwrap().to_owned();
    assert!(got.starts_with(&app.base), "from the page's own origin: {got}");
    chrome.client.enter_frame(0).await.unwrap();
    chrome.wait_for("#cards", WAIT).await;
    chrome.client.enter_parent_frame().await.unwrap();
    chrome.screenshot("ui-framed").await;

    // Another origin: the frame is refused by frame-ancestors, nothing reaches the host.
    let other = session(&app, "acme", "u1", "admin", json!({})).await;
    let (origin, _task) = host_page(other["connect_url"].as_str().unwrap().to_owned()).await;
    assert_ne!(origin, allowed);
    chrome.goto(&format!("{origin}/")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = chrome.eval("return document.getElementById('got').textContent").await;
    assert_eq!(got, json!(""), "a refused frame sends nothing");
    chrome.client.enter_frame(0).await.unwrap();
    assert!(!chrome.exists("#cards").await, "the refused frame shows no page");
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_page_links_the_consoles_and_passes_axe() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let chrome = Chrome::start(ChromeOptions::default()).await;
    chrome.goto(&app.url("/")).await;
    chrome.wait_for("a[href='/docs']", WAIT).await;
    assert!(chrome.exists("a[href='/ui/admin']").await);
    chrome.assert_accessible("the start page").await;
    chrome.set_dark(true).await;
    chrome.assert_accessible("the start page (dark)").await;
    chrome.screenshot("start").await;
    // A page without a session says so, accessibly.
    chrome.goto(&app.url("/ui")).await;
    chrome.wait_for("#main h1", WAIT).await;
    assert!(chrome.text("#main").await.contains("session has ended"));
    chrome.assert_accessible("the ended-session page (dark)").await;
    chrome.set_dark(false).await;
    chrome.assert_accessible("the ended-session page").await;
    chrome.goto(&app.url("/")).await;
    assert_no_external_requests(&chrome, &app.base).await;
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reference_renders_openapi_json_from_the_binary_and_passes_axe() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let chrome = Chrome::start(ChromeOptions::default()).await;
    chrome.goto(&app.url("/docs")).await;
    chrome.wait_for(".opblock", Duration::from_secs(20)).await;
    let ops = chrome.eval("return document.querySelectorAll('.opblock').length").await.as_u64().unwrap();
    let doc: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let expected: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert!(ops as usize >= expected / 2 && ops > 50, "{ops} operations shown of {expected}");
    assert!(chrome.text("#swagger-ui").await.contains("/v1/connections/{id}/credentials"));
    assert_no_external_requests(&chrome, &app.base).await;
    chrome.assert_accessible("the API reference").await;
    chrome.screenshot("docs").await;
    chrome.set_dark(true).await;
    chrome.assert_accessible("the API reference (dark)").await;
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_renames_shares_and_disconnects_with_the_keyboard_alone_under_any_accent_colour() {
    use crate::support::consoles::tab_to;
    let fake = Fake::start("https://api.openai.com", openai).await;
    // A pale yellow accent: white text on it would fail AA, so the pages must pick their own.
    let logo = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCAxMCAxMCI+PHJlY3Qgd2lkdGg9IjEwIiBoZWlnaHQ9IjEwIi8+PC9zdmc+";
    let app = spawn_app_with(
        TestDb::sqlite().await,
        &[
            ("outbound_overrides", &fake.override_entry()),
            ("ui_accent", "#ffe600"),
            ("ui_product_name", "Acme Hub"),
            ("ui_logo_url", logo),
        ],
    )
    .await;
    let id = app
        .connect(json!({"provider": "openai", "org": "acme", "user": "u1", "label": "Mine", "shared": false, "credentials": {"api_key": "sk-good-key-123"}}))
        .await;
    let chrome = Chrome::start(ChromeOptions::default()).await;
    open_page(&chrome, &app, "acme", "u1", "member", json!({})).await;
    chrome.goto(&app.url("/ui/p/openai")).await;
    chrome.wait_for("article.account", WAIT).await;
    assert_eq!(chrome.text(".brand span").await, "Acme Hub");
    assert!(chrome.exists(".brand img.brand-logo").await);
    let on_accent = chrome.eval("return getComputedStyle(document.querySelector('.button.primary')).color").await;
    assert_eq!(on_accent, json!("rgb(0, 0, 0)"), "black text on a yellow accent");
    chrome.assert_accessible("a page with a pale accent colour").await;
    chrome.set_dark(true).await;
    chrome.assert_accessible("a page with a pale accent colour (dark)").await;
    chrome.set_dark(false).await;

    // Rename: Tab to "Rename", Enter opens it, type, Enter saves.
    tab_to(&chrome, "article.account details.rename summary").await;
    chrome.press_chord(&[Key::Enter]).await;
    chrome.press_chord(&[Key::Tab]).await;
    assert_eq!(chrome.focused_id().await, format!("rename-{id}"));
    chrome.eval("document.activeElement.select()").await;
    chrome.press_keys("Research key").await;
    chrome.press_chord(&[Key::Enter]).await;
    eventually(WAIT, "the new name", || async {
        app.get(&format!("/v1/connections/{id}")).await.body["label"] == "Research key"
    })
    .await;
    chrome.wait_for("article.account h3", WAIT).await;
    eventually(WAIT, "the page to show it", || async { chrome.text("article.account h3").await == "Research key" })
        .await;

    // Share with the org, then keep it private again; a shared account is no longer the owner's
    // alone to disconnect.
    tab_to(&chrome, "[data-action=share][data-shared=true]").await;
    chrome.press_chord(&[Key::Enter]).await;
    eventually(WAIT, "shared", || async { app.get(&format!("/v1/connections/{id}")).await.body["shared"] == true })
        .await;
    chrome.wait_for("[data-action=share][data-shared=false]", WAIT).await;
    assert!(!chrome.exists("[data-action=disconnect]").await, "a member may not disconnect a shared account");
    tab_to(&chrome, "[data-action=share][data-shared=false]").await;
    chrome.press_chord(&[Key::Enter]).await;
    eventually(WAIT, "private", || async { app.get(&format!("/v1/connections/{id}")).await.body["shared"] == false })
        .await;

    // Disconnect: Enter opens the confirmation with focus on "Keep it"; Tab, Enter confirms.
    chrome.wait_for("[data-action=disconnect]", WAIT).await;
    tab_to(&chrome, "[data-action=disconnect]").await;
    chrome.press_chord(&[Key::Enter]).await;
    chrome.wait_for("dialog[open]", WAIT).await;
    assert_eq!(
        chrome.eval("return document.activeElement.getAttribute('data-action')").await,
        json!("cancel-disconnect"),
        "the safe choice has the focus"
    );
    chrome.press_chord(&[Key::Tab]).await;
    chrome.press_chord(&[Key::Enter]).await;
    eventually(WAIT, "the account to go", || async { app.get(&format!("/v1/connections/{id}")).await.status == 404 })
        .await;
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placeholder_is_asked_for_and_checked_before_an_oauth_connect() {
    // Shopify's authorize page stands in for acme.myshopify.com; the flow only has to reach it.
    let shop = Fake::start("https://acme.myshopify.com", |seen: &Seen| {
        if seen.path == "/admin/oauth/authorize" { shape(200, json!({"page": "authorize"})) } else { unexpected(seen) }
    })
    .await;
    let app = spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &shop.override_entry())]).await;
    assert_eq!(app.create_integration("shop", "shopify", "shpss_secret").await.status, 201);
    let chrome = Chrome::start(ChromeOptions::default()).await;
    open_page(&chrome, &app, "acme", "u1", "admin", json!({})).await;
    chrome.goto(&app.url("/ui/p/shopify")).await;
    chrome.wait_for("#param-shop", WAIT).await;
    assert!(chrome.text("label[for=param-shop]").await.len() > 2);
    chrome.fill("#param-shop", "Acme Store!").await;
    chrome.click("#oauth-connect").await;
    eventually(WAIT, "the format error", || async { !chrome.text("#param-shop-err").await.is_empty() }).await;
    assert_eq!(chrome.windows().await.len(), 1, "nothing opened for a malformed shop");
    assert_eq!(shop.hits(), 0);
    chrome.fill("#param-shop", "acme").await;
    let page = chrome.window().await;
    chrome.click("#oauth-connect").await;
    chrome.switch_to_new_window(WAIT).await;
    eventually(WAIT, "the shop's authorize page", || async { shop.hits() >= 1 }).await;
    let url = chrome.current_url().await;
    assert!(
        url.starts_with(&shop.base) && url.contains("/admin/oauth/authorize") && url.contains("client_id=shop-client"),
        "{url}"
    );
    chrome.switch_to(page).await;
    assert!(chrome.exists("#flow:not([hidden])").await, "the page waits for the server's answer");
    chrome.close().await;
}
