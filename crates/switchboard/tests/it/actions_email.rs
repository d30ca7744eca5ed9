//! `send_email` through a real SMTP server (aiosmtpd, which parses each message with Python's
//! email package, as a mail client would read it), Gmail (the MIME message as `raw`), Outlook
//! (Graph sendMail) and SendGrid's Mail Send (fakes that check the documented bodies): text, HTML,
//! both, attachments, recipients refused, bad input, refreshed tokens, rate limits.

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::support::apis::{Trouble, connect_oauth, microsoft, sendgrid};
use crate::support::google::{Google, Mode};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_sends_the_mime_message_as_raw() {
    let g = Google::start().await;
    let app = spawn_app_with(
        TestDb::sqlite().await,
        &[("outbound_overrides", &g.overrides()), ("allowed_redirects", "http://app.test/"), ("jobs", "false")],
    )
    .await;
    let conn = g.connect(&app, json!({"provider": "gmail"})).await;
    let listed = app.get(&format!("/v1/connections/{conn}/actions")).await;
    let send_email =
        listed.body["actions"].as_array().unwrap().iter().find(|a| a["name"] == "send_email").cloned().unwrap();
    assert_eq!(send_email["missing_scopes"], json!([]), "gmail.modify covers sending");

    let csv = b"id,total\n1042,99.50\n";
    let a = send(
        &app,
        &conn,
        json!({"to": "grace@example.test", "subject": "Invoice 1042", "text": "Attached.", "html": "<p>Attached.</p>",
            "attachments": [{"filename": "invoice.csv", "content_type": "text/csv", "content_base64": b64(csv)}]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["output"],
        json!({"id": "18c9d2a5b7e3f001", "thread_id": "18c9d2a5b7e3f001", "sent": true, "to": ["grace@example.test"]})
    );
    let call = g.workspace.lock().unwrap().last().cloned().unwrap();
    let raw = call.body["raw"].as_str().unwrap();
    assert!(!raw.contains('+') && !raw.contains('/'), "base64url, not base64");
    let mime = String::from_utf8(base64::engine::general_purpose::URL_SAFE.decode(raw).unwrap()).unwrap();
    for line in ["From: ada@acme.example\r\n", "To: grace@example.test\r\n", "Subject: Invoice 1042\r\n"] {
        assert!(mime.contains(line), "{line:?} missing from:\n{mime}");
    }
    assert!(mime.contains("multipart/mixed") && mime.contains("multipart/alternative"), "{mime}");
    assert!(
        mime.contains("filename=\"invoice.csv\"") && mime.contains(&b64(csv)),
        "the attachment, in base64:\n{mime}"
    );
    // Gmail's refusal, with its reason; and a refused token is refreshed once.
    let a = send(&app, &conn, json!({"to": "nobody@refused.example", "subject": "Hi", "text": "x"})).await;
    assert_eq!((a.status, a.body["error"]["code"].as_str()), (422, Some("provider_refused")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("Invalid To header"), "{}", a.body);
    g.set(Mode::RefuseFirstToken);
    let a = send(&app, &conn, json!({"to": "grace@example.test", "subject": "Again", "text": "x"})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    g.set(Mode::RateLimited);
    let a = send(&app, &conn, json!({"to": "grace@example.test", "subject": "Again", "text": "x"})).await;
    assert_eq!(a.status, 429, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_sends_through_graph_send_mail() {
    let api = microsoft::start().await;
    let app = api.app().await;
    let a = app.post("/v1/integrations", json!({"id": "m365", "provider": "outlook", "client_id": "ms-client", "client_secret": "ms-secret", "settings": {"tenant": "contoso.onmicrosoft.com"}})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let conn = connect_oauth(&app, json!({"integration": "m365", "provider": "outlook"})).await;
    let png = [0x89u8, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    let a = send(
        &app,
        &conn,
        json!({"to": ["Grace <grace@example.test>"], "cc": ["ops@example.test"], "subject": "Q3 chart", "text": "ignored", "html": "<p>Chart attached.</p>",
            "attachments": [{"filename": "chart.png", "content_type": "image/png", "content_base64": b64(&png)}]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"], json!({"sent": true, "to": ["grace@example.test", "ops@example.test"]}));
    assert_eq!(
        api.control.last_json("/me/sendMail"),
        json!({"saveToSentItems": true, "message": {
            "subject": "Q3 chart", "body": {"contentType": "HTML", "content": "<p>Chart attached.</p>"},
            "toRecipients": [{"emailAddress": {"address": "grace@example.test", "name": "Grace"}}],
            "ccRecipients": [{"emailAddress": {"address": "ops@example.test"}}],
            "attachments": [{"@odata.type": "#microsoft.graph.fileAttachment", "name": "chart.png", "contentType": "image/png", "contentBytes": b64(&png)}]
        }})
    );
    let a = send(&app, &conn, json!({"to": "nobody@refused.example", "subject": "Hi", "text": "x"})).await;
    assert_eq!((a.status, a.body["error"]["code"].as_str()), (422, Some("provider_refused")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("isn't resolved"), "{}", a.body);
    api.set(Trouble::Unauthorized(1));
    let a = send(&app, &conn, json!({"to": "grace@example.test", "subject": "Hi", "text": "plain"})).await;
    assert_eq!(a.status, 200, "refreshed and sent again: {}", a.body);
    assert_eq!(
        api.control.last_json("/me/sendMail")["message"]["body"],
        json!({"contentType": "Text", "content": "plain"})
    );
}
