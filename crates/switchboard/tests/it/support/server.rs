use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use switchboard::app::Application;
use switchboard::clock::{Clock, ShiftedClock};
use switchboard::config::Settings;
use switchboard::services::{Principal, Services};
use tokio_util::sync::CancellationToken;

use super::TestDb;

/// A running server on 127.0.0.1:random with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    /// A secret API key (sk_…).
    pub key: String,
    pub services: Services,
    pub clock: Arc<ShiftedClock>,
    pub db: TestDb,
    pub stop: CancellationToken,
    pub master_key: String,
}

pub async fn spawn_app(db: TestDb) -> TestApp {
    spawn_app_with(db, &[]).await
}

/// Starts a server with extra settings (key, value) pairs.
pub async fn spawn_app_with(db: TestDb, extra: &[(&str, &str)]) -> TestApp {
    spawn_app_resolving(db, extra, Arc::new(switchboard::outbound::SystemLookup)).await
}

/// Starts a server whose outbound connections resolve host names with `lookup`.
pub async fn spawn_app_resolving(
    db: TestDb,
    extra: &[(&str, &str)],
    lookup: Arc<dyn switchboard::outbound::HostLookup>,
) -> TestApp {
    // RUST_LOG=switchboard=debug shows the server's logs in a failing test's output.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
    let master_key = {
        use secrecy::ExposeSecret as _;
        switchboard_core::vault::MasterKey::generate().1.expose_secret().to_owned()
    };
    let mut pairs: Vec<(&str, &str)> = vec![
        ("listen", "127.0.0.1:0"),
        ("database_url", &db.url),
        ("master_key", &master_key),
        ("allow_private_networks", "true"),
    ];
    pairs.extend_from_slice(extra);
    let settings = Settings::from_pairs(&pairs).expect("test settings");
    let clock = ShiftedClock::new();
    let app =
        Application::build_with_lookup(settings, clock.clone() as Arc<dyn Clock>, lookup).await.expect("build app");
    let addr = app.local_addr().expect("addr");
    let services = app.services().clone();
    let stop = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    let (_, token) = services.create_api_key(&Principal::Operator, "test").await.expect("api key");
    TestApp {
        addr,
        base: format!("http://{addr}"),
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        key: token.expose().to_owned(),
        services,
        clock,
        db,
        stop,
        master_key,
    }
}

/// A response's status and JSON body (or `Null`).
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The error code of an API.md error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, headers }
    }

    /// A request with `token` as the bearer (or none when empty).
    pub async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, &self.key, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::POST, path, &self.key, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::PATCH, path, &self.key, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(reqwest::Method::DELETE, path, &self.key, None).await
    }

    /// A second server on the same database and master key (its own settings on top), as
    /// another instance of a deployment, or this one restarted with other settings.
    pub async fn another_instance(&self, extra: &[(&str, &str)]) -> TestApp {
        let db = TestDb {
            backend: self.db.backend,
            url: self.db.url.clone(),
            sqlite_path: self.db.sqlite_path.clone(),
            schema: self.db.schema.clone(),
            admin_url: self.db.admin_url.clone(),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let mut pairs = vec![("master_key", self.master_key.as_str())];
        pairs.extend_from_slice(extra);
        spawn_app_with(db, &pairs).await
    }

    /// A session token for one user of one org.
    pub async fn session(&self, org: &str, user: &str, role: &str) -> String {
        let a = self.post("/v1/sessions", serde_json::json!({"org": org, "user": user, "role": role})).await;
        assert_eq!(a.status, 201, "session: {}", a.body);
        a.body["token"].as_str().expect("token").to_owned()
    }

    /// Creates a connection from credentials (tested at the provider first) for user `u1` of org
    /// `acme` unless `body` says otherwise; its id.
    pub async fn connect(&self, body: Value) -> String {
        let mut b = serde_json::json!({"org": "acme", "user": "u1"});
        for (k, v) in body.as_object().expect("an object") {
            b[k] = v.clone();
        }
        let a = self.post("/v1/connections", b).await;
        assert_eq!(a.status, 201, "{}", a.body);
        a.body["id"].as_str().expect("id").to_owned()
    }

    pub async fn create_integration(&self, id: &str, provider: &str, secret: &str) -> Answer {
        self.post(
            "/v1/integrations",
            serde_json::json!({"id": id, "provider": provider, "client_id": format!("{id}-client"), "client_secret": secret}),
        )
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
