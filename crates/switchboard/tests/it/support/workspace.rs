//! One user's workspace for the AI tests: a server with the Google and Slack fakes, and user u1 of
//! acme holding two Google Sheets accounts (the second with read-only Drive metadata scopes only)
//! and a private Slack bot.

use serde_json::json;

use super::apis::{Api, slack};
use super::google::Google;
use super::server::TestApp;
use super::{TestDb, spawn_app_with};

/// The fakes, the server (with `extra` settings), and the connections `[work, narrow, bot]`.
pub async fn google_and_slack(extra: &[(&str, &str)]) -> (Google, Api, TestApp, [String; 3]) {
    let g = Google::start().await;
    let s = slack::start().await;
    let overrides = format!("{},{}", g.overrides(), s.overrides());
    let mut settings =
        vec![("outbound_overrides", overrides.as_str()), ("allowed_redirects", "http://app.test/"), ("jobs", "false")];
    settings.extend_from_slice(extra);
    let app = spawn_app_with(TestDb::sqlite().await, &settings).await;
    let work = g.connect(&app, json!({"label": "Work"})).await;
    let narrow = g
        .connect(
            &app,
            json!({"label": "Read-only", "scopes": ["openid", "email", "https://www.googleapis.com/auth/drive.metadata.readonly"]}),
        )
        .await;
    let bot = app
        .connect(json!({"provider": "slack", "auth_mode": "bot_token", "label": "Sales bot", "shared": false, "credentials": {"bot_token": slack::BOT_TOKEN}}))
        .await;
    (g, s, app, [work, narrow, bot])
}
