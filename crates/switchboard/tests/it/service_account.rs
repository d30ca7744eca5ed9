//! Google service accounts: the key file is validated, an access token is
//! minted by the JWT-bearer grant (RS256) at the key's token_uri — checked
//! here by verifying the signature with the key's public half — and the
//! credentials endpoint hands out fresh tokens, cached until shortly before expiry.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fakes::{Fake, Seen, Shape, shape};
use crate::support::peers::fixture;
use crate::support::{TestDb, spawn_app_with};

const CLIENT_EMAIL: &str = "sync@acme-automation.iam.gserviceaccount.com";
const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

fn key_file(private_key_fixture: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "acme-automation",
        "private_key_id": "1f2e3d4c5b6a",
        "private_key": std::fs::read_to_string(fixture(private_key_fixture)).unwrap(),
        "client_email": CLIENT_EMAIL,
        "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": TOKEN_URI,
    })
    .to_string()
}

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    scope: String,
    #[serde(default)]
    sub: Option<String>,
}

/// Google's token endpoint as documented for the JWT-bearer grant.
fn token_endpoint(minted: Arc<AtomicUsize>) -> impl Fn(&Seen) -> Shape + Send + Sync {
    move |s: &Seen| {
        if s.path != "/token" || s.method != "POST" {
            return shape(404, json!({"error": "not_found"}));
        }
        let form = s.form();
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        if get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
            return shape(400, json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "}));
        }
        let public = jsonwebtoken::DecodingKey::from_rsa_pem(
            std::fs::read(fixture("service-account.pub.pem")).unwrap().as_slice(),
        )
        .unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[TOKEN_URI]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
        let claims = match jsonwebtoken::decode::<Claims>(&get("assertion"), &public, &validation) {
            Ok(d) => d.claims,
            Err(_) => {
                return shape(400, json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}));
            }
        };
        if claims.iss != CLIENT_EMAIL
            || !claims.scope.contains("https://www.googleapis.com/auth/spreadsheets")
            || claims.scope.contains("openid")
        {
            return shape(
                400,
                json!({"error": "invalid_scope", "error_description": "Invalid OAuth scope or ID token audience provided."}),
            );
        }
        match claims.sub.as_deref() {
            Some(s) if s.starts_with("bad") => shape(
                401,
                json!({"error": "unauthorized_client", "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}),
            ),
            Some(s) if s.starts_with("limit") => {
                shape(429, json!({"error": "rate_limit_exceeded", "error_description": "Rate Limit Exceeded"}))
            }
            Some(s) if s.starts_with("down") => {
                shape(503, json!({"error": "internal_failure", "error_description": "Backend Error"}))
            }
            _ => {
                let n = minted.fetch_add(1, Ordering::SeqCst) + 1;
                shape(
                    200,
                    json!({"access_token": format!("ya29.c.fake-token-{n}"), "expires_in": 3599, "token_type": "Bearer"}),
                )
            }
        }
    }
}

fn connect(key: String, subject: Option<&str>) -> Value {
    let mut c = json!({"service_account_json": key});
    if let Some(s) = subject {
        c["subject"] = json!(s);
    }
    json!({"provider": "google-sheets", "auth_mode": "service_account", "org": "acme", "credentials": c})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_mints_tokens_and_the_credentials_endpoint_caches_them() {
    let minted = Arc::new(AtomicUsize::new(0));
    let google = Fake::start("https://oauth2.googleapis.com", token_endpoint(minted.clone())).await;
    let app = spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &google.override_entry())]).await;

    let a = app.post("/v1/connections", connect(key_file("service-account.key"), None)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["account"]["email"], CLIENT_EMAIL);
    assert_eq!(a.body["account"]["metadata"]["project_id"], "acme-automation");
    assert_eq!(minted.load(Ordering::SeqCst), 1, "the test minted one token");
    assert!(!a.body.to_string().contains("PRIVATE KEY"));
    let id = a.body["id"].as_str().unwrap().to_owned();

    let c = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.body["type"], "service_account");
    assert_eq!(c.body["access_token"], "ya29.c.fake-token-1", "the token minted by the test is reused");
    assert_eq!(c.body["token_type"], "Bearer");
    assert!(c.body["expires_at"].is_string());
    assert!(c.body["scopes"].as_array().unwrap().contains(&json!("https://www.googleapis.com/auth/spreadsheets")));
    assert!(!c.body.to_string().contains("PRIVATE KEY"), "the key file itself is not handed out");
    assert_eq!(c.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let again = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(again.body["access_token"], "ya29.c.fake-token-1");
    assert_eq!(minted.load(Ordering::SeqCst), 1, "cached: no new token");

    // Within five minutes of expiry a fresh token is minted.
    app.clock.advance(Duration::from_secs(3599 - 200));
    let later = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(later.body["access_token"], "ya29.c.fake-token-2");
    assert_eq!(minted.load(Ordering::SeqCst), 2);

    // Every read is in the audit log, without the token.
    let audit = app.get(&format!("/v1/audit?connection={id}&action=credentials.read")).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 3);
    assert!(!audit.body.to_string().contains("ya29"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_rate_limits_and_outages_are_told_apart() {
    let minted = Arc::new(AtomicUsize::new(0));
    let google = Fake::start("https://oauth2.googleapis.com", token_endpoint(minted.clone())).await;
    let app = spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &google.override_entry())]).await;

    let a = app.post("/v1/connections", connect(key_file("service-account-other.key"), None)).await;
    assert_eq!((a.status, a.code()), (422, "invalid_credentials"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("Invalid JWT Signature"), "{}", a.body);
    let a = app.post("/v1/connections", connect(key_file("service-account.key"), Some("bad-user@acme.example"))).await;
    assert_eq!((a.status, a.code()), (422, "invalid_credentials"), "{}", a.body);
    let a = app.post("/v1/connections", connect(key_file("service-account.key"), Some("limit@acme.example"))).await;
    assert_eq!((a.status, a.code()), (429, "rate_limited"), "{}", a.body);
    let a = app.post("/v1/connections", connect(key_file("service-account.key"), Some("down@acme.example"))).await;
    assert_eq!((a.status, a.code()), (502, "provider_error"), "{}", a.body);
    assert_eq!(app.get("/v1/connections?org=acme").await.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(minted.load(Ordering::SeqCst), 0);

    let mut broken: Value = serde_json::from_str(&key_file("service-account.key")).unwrap();
    broken["private_key"] = json!("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
    let a = app.post("/v1/connections", connect(broken.to_string(), None)).await;
    assert_eq!(
        (a.status, a.body["error"]["field"].as_str()),
        (400, Some("credentials.service_account_json")),
        "{}",
        a.body
    );
    assert!(a.body["error"]["message"].as_str().unwrap().contains("private_key"), "{}", a.body);
    broken.as_object_mut().unwrap().remove("client_email");
    let a = app.post("/v1/connections", connect(broken.to_string(), None)).await;
    assert!(a.body["error"]["message"].as_str().unwrap().contains("client_email"), "{}", a.body);
}
