//! What every action owes its caller, checked across the actions the per-provider files do not
//! already cover case by case: an `Idempotency-Key` repeat answers the first output without
//! reaching the provider, another input under the key is a 409, a rate limit is a 429 with the
//! provider's wait, and a refused credential is retried once.

use serde_json::{Value, json};

use crate::support::actions::run;
use crate::support::apis::{Api, Trouble, connect_oauth, meta, microsoft, sendgrid, telegram};
use crate::support::google::Google;
use crate::support::server::TestApp;
use crate::support::{TestDb, spawn_app_with};

/// Runs `action` under a fresh key, repeats it, then sends `other` under the same key.
async fn replays(app: &TestApp, conn: &str, action: &str, input: Value, other: Value, calls: impl Fn() -> usize) {
    let key = format!("matrix-{action}-{}", calls());
    let first = run(app, conn, action, input.clone(), Some(&key)).await;
    assert_eq!(first.status, 200, "{action}: {}", first.body);
    let after = calls();
    let again = run(app, conn, action, input, Some(&key)).await;
    assert_eq!((again.status, &again.body), (200, &first.body), "{action}: the first answer again");
    assert_eq!(again.headers["idempotent-replayed"], "true", "{action}");
    assert_eq!(calls(), after, "{action}: the repeat reaches nobody");
    let conflict = run(app, conn, action, other, Some(&key)).await;
    assert_eq!(
        (conflict.status, conflict.body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{action}: {}",
        conflict.body
    );
    assert_eq!(calls(), after, "{action}: nor does the conflict");
}

/// A rate limit comes back as 429 (with `wait` where the provider gives one); one refused
/// credential is retried and the run succeeds.
async fn limits_and_retries(api: &Api, app: &TestApp, conn: &str, action: &str, input: Value, wait: Option<&str>) {
    api.set(Trouble::RateLimited);
    let a = run(app, conn, action, input.clone(), None).await;
    assert_eq!(a.status, 429, "{action}: {}", a.body);
    if let Some(w) = wait {
        assert_eq!(a.headers["retry-after"], w, "{action}");
    }
    api.set(Trouble::Unauthorized(1));
    let before = api.calls();
    let a = run(app, conn, action, input, None).await;
    assert_eq!(a.status, 200, "{action}: refused once, retried: {}", a.body);
    assert!(api.calls() >= before + 2, "{action}: the refused call and its retry");
    api.set(Trouble::None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_actions() {
    let api = telegram::start().await;
    let app = api.app().await;
    let conn = app.connect(json!({"provider": "telegram", "credentials": {"bot_token": telegram::TOKEN}})).await;
    let chat = telegram::CHAT;
    let cases = [
        ("send_message", json!({"chat_id": chat, "text": "hi"})),
        ("send_photo", json!({"chat_id": chat, "photo": "https://cdn.acme.example/a.png"})),
        ("send_document", json!({"chat_id": chat, "content_base64": "JVBERi0xLjcK", "filename": "a.pdf"})),
        ("send_location", json!({"chat_id": chat, "latitude": 1.5, "longitude": 2.5})),
        ("send_poll", json!({"chat_id": chat, "question": "?", "options": [{"text": "a"}, {"text": "b"}]})),
    ];
    for (action, input) in cases {
        let mut other = input.clone();
        other["chat_id"] = json!("@acme_news");
        replays(&app, &conn, action, input.clone(), other, || api.calls()).await;
        limits_and_retries(&api, &app, &conn, action, input, Some("7")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_and_facebook_actions() {
    let api = meta::start().await;
    let app = api.app().await;
    let wa = app
        .connect(json!({"provider": "whatsapp", "credentials": {"access_token": meta::SYSTEM_TOKEN, "phone_number_id": meta::PHONE_ID}}))
        .await;
    let input = json!({"to": "15551234567", "text": "Shipped"});
    replays(&app, &wa, "send_message", input.clone(), json!({"to": "15551234567", "text": "Other"}), || api.calls())
        .await;
    limits_and_retries(&api, &app, &wa, "send_message", input, None).await;

    assert_eq!(app.create_integration("meta", "facebook", "meta-secret").await.status, 201);
    let fb = connect_oauth(&app, json!({"integration": "meta"})).await;
    let cases = [
        ("reply_to_comment", json!({"page": "Acme Support", "comment_id": "101500000000001_777", "message": "Thanks"})),
        ("send_page_message", json!({"page": "Acme Support", "recipient_id": "24019876543210987", "text": "Hello"})),
    ];
    for (action, input) in &cases {
        let mut other = input.clone();
        other["page"] = json!("101500000000001");
        replays(&app, &fb, action, input.clone(), other, || api.calls()).await;
        api.set(Trouble::RateLimited);
        let a = run(&app, &fb, action, input.clone(), None).await;
        assert_eq!(a.status, 429, "{action}: {}", a.body);
        api.set(Trouble::None);
    }
    // Facebook's long-lived tokens come without a refresh token: a refused one cannot be
    // refreshed, so the connection needs its user at once.
    api.set(Trouble::Unauthorized(1));
    let a = run(&app, &fb, cases[0].0, cases[0].1.clone(), None).await;
    assert_eq!((a.status, a.body["error"]["code"].as_str()), (409, Some("needs_reauth")), "{}", a.body);
    api.set(Trouble::None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_actions() {
    let sg = sendgrid::start().await;
    let app = sg.app().await;
    let conn = app.connect(json!({"provider": "sendgrid", "credentials": {"api_key": sendgrid::KEY}})).await;
    let mail = json!({"from": sendgrid::SENDER, "to": "ada@example.test", "subject": "Hi", "text": "x"});
    let mut other = mail.clone();
    other["subject"] = json!("Another");
    replays(&app, &conn, "send_email", mail.clone(), other.clone(), || sg.calls()).await;
    limits_and_retries(&sg, &app, &conn, "send_email", mail, None).await;

    let ms = microsoft::start().await;
    let app = ms.app().await;
    let a = app.post("/v1/integrations", json!({"id": "m365", "provider": "outlook", "client_id": "ms-client", "client_secret": "ms-secret", "settings": {"tenant": "contoso.onmicrosoft.com"}})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let conn = connect_oauth(&app, json!({"integration": "m365", "provider": "outlook"})).await;
    let mail = json!({"to": "ada@example.test", "subject": "Hi", "text": "x"});
    replays(
        &app,
        &conn,
        "send_email",
        mail.clone(),
        json!({"to": "ada@example.test", "subject": "Another", "text": "x"}),
        || ms.calls(),
    )
    .await;
    limits_and_retries(&ms, &app, &conn, "send_email", mail, Some("10")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_drive_and_forms_actions() {
    let g = Google::start().await;
    let app = spawn_app_with(
        TestDb::sqlite().await,
        &[("outbound_overrides", &g.overrides()), ("allowed_redirects", "http://app.test/"), ("jobs", "false")],
    )
    .await;
    let gmail = g.connect(&app, json!({"provider": "gmail"})).await;
    let drive = g.connect(&app, json!({"provider": "google-drive"})).await;
    let forms = g.connect(&app, json!({"provider": "google-forms"})).await;
    let mail = json!({"to": "grace@example.test", "subject": "Hi", "text": "x"});
    replays(
        &app,
        &gmail,
        "send_email",
        mail,
        json!({"to": "grace@example.test", "subject": "Other", "text": "x"}),
        || g.api_calls(),
    )
    .await;
    let file = json!({"name": "a.txt", "mime_type": "text/plain", "content_base64": "aGk="});
    replays(&app, &drive, "upload_file", file, json!({"name": "b.txt", "content_base64": "aGk="}), || g.api_calls())
        .await;
    replays(
        &app,
        &forms,
        "list_responses",
        json!({"form": "Customer survey"}),
        json!({"form": "Customer survey", "page_size": 1}),
        || g.api_calls(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_send_email_replays() {
    use crate::support::peers::{SmtpOptions, smtp_server};
    let dir = tempfile::tempdir().unwrap();
    let server = smtp_server(SmtpOptions { inbox: Some(dir.path().to_owned()), ..Default::default() });
    let app = spawn_app_with(TestDb::sqlite().await, &[("jobs", "false")]).await;
    let conn = app
        .connect(json!({"provider": "smtp", "credentials": {"host": "127.0.0.1", "port": server.port, "security": "none", "from": "alerts@acme.example"}}))
        .await;
    let received = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
            .count()
    };
    let mail = json!({"to": "ada@example.test", "subject": "Hi", "text": "x"});
    replays(
        &app,
        &conn,
        "send_email",
        mail,
        json!({"to": "ada@example.test", "subject": "Other", "text": "x"}),
        received,
    )
    .await;
    assert_eq!(received(), 1, "one message for one key");
}
