//! `send_email` through a real SMTP server (aiosmtpd, which parses each message with Python's
//! email package, as a mail client would read it) and through SendGrid's Mail Send (a fake that
//! checks the documented body): text, HTML, both, attachments, recipients refused, bad input.

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::support::apis::{Trouble, sendgrid};
use crate::support::peers::{SmtpOptions, smtp_server};
use crate::support::server::{Answer, TestApp};
use crate::support::{TestDb, spawn_app_with};

async fn send(app: &TestApp, conn: &str, input: Value) -> Answer {
    let req = app
        .client
        .post(app.url(&format!("/v1/connections/{conn}/actions/send_email")))
        .bearer_auth(&app.key)
        .json(&json!({ "input": input }));
    app.send(req).await
}

/// The messages the SMTP server received, parsed, in order.
fn inbox(dir: &std::path::Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort_by_key(|p| p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u32>().ok()));
    files.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sends_text_html_and_attachments_a_mail_client_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = smtp_server(SmtpOptions {
        auth: Some(("mailer", "s3cret-pass")),
        inbox: Some(dir.path().to_owned()),
        ..Default::default()
    });
    let app = spawn_app_with(TestDb::sqlite().await, &[("jobs", "false")]).await;
    let conn = app
        .connect(
            json!({"provider": "smtp", "credentials": {"host": "127.0.0.1", "port": server.port, "security": "none",
            "username": "mailer", "password": "s3cret-pass", "from": "alerts@acme.example"}}),
        )
        .await;

    let pdf = b"%PDF-1.7\n% a tiny report\n".repeat(40);
    let a = send(
        &app,
        &conn,
        json!({"to": ["ada@example.test", "Grace <grace@example.test>"], "cc": ["ops@example.test"], "bcc": ["audit@example.test"],
            "subject": "Weekly report – 48 deals", "text": "See the report attached.", "html": "<p>See the <b>report</b> attached.</p>",
            "reply_to": "sales@acme.example",
            "attachments": [{"filename": "report.pdf", "content_type": "application/pdf", "content_base64": b64(&pdf)}]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"]["sent"], true);
    assert_eq!(
        a.body["output"]["to"],
        json!(["ada@example.test", "grace@example.test", "ops@example.test", "audit@example.test"])
    );
    assert!(a.body["output"]["reply"].as_str().unwrap().contains("queued as 1"), "{}", a.body);
    let got = inbox(dir.path());
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m["mail_from"], "alerts@acme.example");
    assert_eq!(
        m["rcpt_tos"],
        json!(["ada@example.test", "grace@example.test", "ops@example.test", "audit@example.test"])
    );
    assert_eq!(m["headers"]["subject"], "Weekly report – 48 deals", "non-ASCII subjects survive encoding");
    assert_eq!(m["headers"]["from"], "alerts@acme.example");
    assert_eq!(m["headers"]["to"], "ada@example.test, Grace <grace@example.test>");
    assert_eq!(m["headers"]["cc"], "ops@example.test");
    assert!(m["headers"].get("bcc").is_none(), "Bcc is never in the message: {}", m["headers"]);
    assert_eq!(m["headers"]["reply-to"], "sales@acme.example");
    assert_eq!(m["text"].as_str().unwrap().trim_end(), "See the report attached.");
    assert_eq!(m["html"].as_str().unwrap().trim_end(), "<p>See the <b>report</b> attached.</p>");
    assert_eq!(
        m["attachments"],
        json!([{"filename": "report.pdf", "content_type": "application/pdf", "sha256": hex::encode(sha2::Sha256::digest(&pdf)), "size": pdf.len()}])
    );

    // HTML only, from another sender.
    let a = send(&app, &conn, json!({"to": "ada@example.test", "from": "Acme CEO <ceo@acme.example>", "subject": "Hi", "html": "<h1>Hello</h1>"})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let m = &inbox(dir.path())[1];
    assert_eq!((m["mail_from"].as_str(), m["text"].as_str()), (Some("ceo@acme.example"), None));
    assert_eq!(m["headers"]["from"], "Acme CEO <ceo@acme.example>");
    assert_eq!(m["html"].as_str().unwrap().trim_end(), "<h1>Hello</h1>");

    // The server refuses a recipient: its reply, as a refusal.
    let a = send(&app, &conn, json!({"to": "nobody@refused.example", "subject": "Hi", "text": "x"})).await;
    assert_eq!((a.status, a.body["error"]["code"].as_str()), (422, Some("provider_refused")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("550"), "{}", a.body);
    // Input problems, all at once: no body, a bad address, an attachment that is not base64.
    let a = send(
        &app,
        &conn,
        json!({"to": ["not an address"], "subject": "Hi", "attachments": [{"filename": "a.txt", "content_base64": "%%%"}]}),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    let pointers: Vec<&str> =
        a.body["error"]["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert!(pointers.contains(&"/input") && pointers.contains(&"/input/to/0"), "{pointers:?}");
    let a = send(&app, &conn, json!({"to": "ada@example.test", "subject": "Hi", "text": "x", "attachments": [{"filename": "a.txt", "content_base64": "%%%"}]})).await;
    assert_eq!(a.body["error"]["details"][0]["path"], "/input/attachments/0/content_base64", "{}", a.body);
    assert_eq!(inbox(dir.path()).len(), 2, "nothing else was sent");
    assert!(!a.body.to_string().contains("s3cret-pass"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendgrid_sends_the_documented_mail_body() {
    let api = sendgrid::start().await;
    let app = api.app().await;
    let conn = app.connect(json!({"provider": "sendgrid", "credentials": {"api_key": sendgrid::KEY}})).await;
    let listed = app.get(&format!("/v1/connections/{conn}/actions")).await;
    assert_eq!(listed.body["actions"][0]["name"], "send_email", "{}", listed.body);
    assert_eq!(listed.body["actions"][0]["missing_scopes"], json!([]));

    let a = send(
        &app,
        &conn,
        json!({"from": format!("Acme <{}>", sendgrid::SENDER), "to": ["ada@example.test"], "bcc": ["audit@example.test"],
            "subject": "Your invoice", "text": "Invoice attached.", "html": "<p>Invoice attached.</p>",
            "attachments": [{"filename": "invoice.csv", "content_type": "text/csv", "content_base64": b64(b"id,total\n1042,99.50\n")}]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"], json!({"sent": true, "to": ["ada@example.test", "audit@example.test"]}));
    assert_eq!(
        api.control.last_json("/v3/mail/send"),
        json!({
            "personalizations": [{"to": [{"email": "ada@example.test"}], "bcc": [{"email": "audit@example.test"}]}],
            "from": {"email": sendgrid::SENDER, "name": "Acme"}, "subject": "Your invoice",
            "content": [{"type": "text/plain", "value": "Invoice attached."}, {"type": "text/html", "value": "<p>Invoice attached.</p>"}],
            "attachments": [{"content": b64(b"id,total\n1042,99.50\n"), "filename": "invoice.csv", "type": "text/csv", "disposition": "attachment"}]
        })
    );
    // An unverified sender is SendGrid's refusal, with its reason; `from` is required here.
    let a = send(
        &app,
        &conn,
        json!({"from": "someone@else.example", "to": "ada@example.test", "subject": "Hi", "text": "x"}),
    )
    .await;
    assert!(a.status == 403 || a.status == 422, "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("verified Sender Identity"), "{}", a.body);
    let a = send(&app, &conn, json!({"to": "ada@example.test", "subject": "Hi", "text": "x"})).await;
    assert_eq!((a.status, a.body["error"]["details"][0]["path"].as_str()), (400, Some("/input")), "{}", a.body);
    api.set(Trouble::RateLimited);
    let a =
        send(&app, &conn, json!({"from": sendgrid::SENDER, "to": "ada@example.test", "subject": "Hi", "text": "x"}))
            .await;
    assert_eq!(a.status, 429, "{}", a.body);
    api.set(Trouble::Unauthorized(2));
    let a =
        send(&app, &conn, json!({"from": sendgrid::SENDER, "to": "ada@example.test", "subject": "Hi", "text": "x"}))
            .await;
    assert_eq!((a.status, a.body["error"]["code"].as_str()), (409, Some("needs_reauth")), "{}", a.body);
    assert!(!a.body.to_string().contains(sendgrid::KEY));
}
