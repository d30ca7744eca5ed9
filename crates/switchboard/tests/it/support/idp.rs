//! The real authorization server (npm oidc-provider) behind a custom-oauth2
//! integration `idp`, with a server of ours in front of it.

use serde_json::{Value, json};

use super::browser::Browser;
use super::peers::{Peer, oauth_server};
use super::server::{Answer, TestApp};
use super::{TestDb, spawn_app_with};

pub struct Idp {
    pub app: TestApp,
    pub server: Peer,
    pub base: String,
}

impl Idp {
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        Self::start_on(TestDb::sqlite().await, extra).await
    }

    pub async fn start_on(db: TestDb, extra: &[(&str, &str)]) -> Self {
        Self::start_with_ttl(db, extra, 60).await
    }

    /// With access tokens that live `access_ttl_s` at the authorization server.
    pub async fn start_with_ttl(db: TestDb, extra: &[(&str, &str)], access_ttl_s: u64) -> Self {
        let mut settings =
            vec![("allowed_redirects", "http://app.test/"), ("refresh_window_s", "30"), ("jobs", "false")];
        settings.extend_from_slice(extra);
        let app = spawn_app_with(db, &settings).await;
        let callback = format!("{}/oauth/callback", app.base);
        let server = oauth_server(&callback, access_ttl_s);
        let base = format!("http://127.0.0.1:{}", server.port);
        let a = app
            .post(
                "/v1/integrations",
                json!({
                    "id": "idp", "provider": "custom-oauth2", "client_id": "switchboard-test", "client_secret": "switchboard-test-secret",
                    "scopes": ["openid", "email", "profile", "offline_access"], "redirect_uri": callback,
                    "authorization_url": format!("{base}/auth"), "token_url": format!("{base}/token"),
                    "revocation_url": format!("{base}/token/revocation"), "userinfo_url": format!("{base}/me"),
                    "issuer": base, "client_auth": "basic", "pkce": true, "api_base_url": base
                }),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        Self { app, server, base }
    }

    pub async fn stats(&self) -> Value {
        reqwest::get(format!("{}/__stats", self.base)).await.unwrap().json().await.unwrap()
    }

    pub async fn start_flow(&self, extra: Value) -> Answer {
        let mut body = json!({"integration": "idp", "org": "acme", "user": "u1", "redirect_uri": "http://app.test/integrations/done"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.app.post("/v1/oauth/start", body).await
    }

    /// Runs a whole flow and returns our callback's answer.
    pub async fn connect(&self, login: &str) -> (Answer, Value) {
        let started = self.start_flow(json!({})).await;
        assert_eq!(started.status, 200, "{}", started.body);
        let landing = Browser::new().authorize(started.body["auth_url"].as_str().unwrap(), login, true).await;
        let answer = self.app.send(self.app.client.get(landing.url.as_str())).await;
        (answer, started.body)
    }

    pub async fn connection_id(&self, login: &str) -> String {
        let (a, _) = self.connect(login).await;
        assert_eq!(a.status, 302, "{:?}", a.body);
        let target = url::Url::parse(a.headers["location"].to_str().unwrap()).unwrap();
        target.query_pairs().find(|(k, _)| k == "connection_id").map(|(_, v)| v.into_owned()).unwrap()
    }
}

pub fn location(a: &Answer) -> url::Url {
    url::Url::parse(
        a.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Location: {} {:?}", a.status, a.body)),
    )
    .unwrap()
}

pub fn query(u: &url::Url, name: &str) -> Option<String> {
    u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
