//! SMTP connections against a real SMTP server (aiosmtpd): with and without
//! AUTH, STARTTLS and implicit TLS, a wrong password, a closed port.

use serde_json::json;

use crate::support::peers::{SmtpOptions, fixture, smtp_server};
use crate::support::{TestDb, spawn_app_with};

fn creds(port: u16, security: &str, login: Option<(&str, &str)>) -> serde_json::Value {
    let mut c = json!({"host": "127.0.0.1", "port": port, "security": security, "from": "alerts@acme.example"});
    if let Some((u, p)) = login {
        c["username"] = json!(u);
        c["password"] = json!(p);
    }
    json!({"provider": "smtp", "org": "acme", "credentials": c})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_without_auth_connects() {
    let server = smtp_server(SmtpOptions::default());
    let app = spawn_app_with(TestDb::sqlite().await, &[]).await;
    let a = app.post("/v1/connections", creds(server.port, "none", None)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["account"]["email"], "alerts@acme.example");
    assert_eq!(a.body["fields"]["host"], "127.0.0.1");
    assert_eq!(a.body["fields"]["port"], server.port.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_auth_accepts_the_right_password_and_refuses_a_wrong_one() {
    let server = smtp_server(SmtpOptions { auth: Some(("mailer", "s3cret-pass")), ..Default::default() });
    let app = spawn_app_with(TestDb::sqlite().await, &[]).await;
    let a = app.post("/v1/connections", creds(server.port, "none", Some(("mailer", "wrong-pass")))).await;
    assert_eq!((a.status, a.code()), (422, "invalid_credentials"), "{}", a.body);
    let msg = a.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("refused the login") && !msg.contains("wrong-pass"), "{msg}");
    assert_eq!(app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(), 0);
    let a = app.post("/v1/connections", creds(server.port, "none", Some(("mailer", "s3cret-pass")))).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.body["id"].as_str().unwrap();
    let c = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!((c.body["type"].as_str(), c.body["fields"]["password"].as_str()), (Some("smtp"), Some("s3cret-pass")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_upgrades_before_logging_in() {
    let server = smtp_server(SmtpOptions { auth: Some(("mailer", "tls-pass")), starttls: true, ..Default::default() });
    let ca = fixture("test-ca.pem");
    let app = spawn_app_with(TestDb::sqlite().await, &[("extra_ca_file", &ca)]).await;
    // The server only accepts AUTH after STARTTLS, so a successful login proves the upgrade.
    let a = app.post("/v1/connections", creds(server.port, "starttls", Some(("mailer", "tls-pass")))).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = app.post("/v1/connections", creds(server.port, "starttls", Some(("mailer", "nope")))).await;
    assert_eq!((a.status, a.code()), (422, "invalid_credentials"), "{}", a.body);

    // Without trusting the server's CA the TLS handshake fails: the provider side, 502.
    let untrusting = spawn_app_with(TestDb::sqlite().await, &[]).await;
    let a = untrusting.post("/v1/connections", creds(server.port, "starttls", Some(("mailer", "tls-pass")))).await;
    assert_eq!((a.status, a.code()), (502, "provider_error"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("TLS"), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_never_sends_a_password_to_a_server_without_tls() {
    let server = smtp_server(SmtpOptions { auth: Some(("mailer", "pw")), ..Default::default() });
    let app = spawn_app_with(TestDb::sqlite().await, &[]).await;
    let a = app.post("/v1/connections", creds(server.port, "starttls", Some(("mailer", "pw")))).await;
    assert_ne!(a.status, 201, "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().to_lowercase().contains("tls"), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_connects() {
    let server = smtp_server(SmtpOptions { implicit_tls: true, ..Default::default() });
    let ca = fixture("test-ca.pem");
    let app = spawn_app_with(TestDb::sqlite().await, &[("extra_ca_file", &ca)]).await;
    let a = app.post("/v1/connections", creds(server.port, "tls", None)).await;
    assert_eq!(a.status, 201, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_a_502_and_nothing_is_stored() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = spawn_app_with(TestDb::sqlite().await, &[]).await;
    let a = app.post("/v1/connections", creds(port, "none", None)).await;
    assert_eq!((a.status, a.code()), (502, "provider_error"), "{}", a.body);
    assert_eq!(app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_hosts_need_the_operators_permission() {
    let server = smtp_server(SmtpOptions::default());
    let app = spawn_app_with(TestDb::sqlite().await, &[("allow_private_networks", "false")]).await;
    let a = app.post("/v1/connections", creds(server.port, "none", None)).await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("credentials.host")), "{}", a.body);
}
