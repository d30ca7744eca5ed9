//! The server against its own contract: Schemathesis (pinned in tests/peers/requirements.txt)
//! reads `/openapi.json` and sends thousands of generated requests — valid ones, broken ones,
//! and stateful sequences that follow the document's links from each create to its reads and
//! deletes — to a server with data in it, and checks every answer against the document
//! (`--checks all`: statuses, schemas, content types, headers, auth, use after delete).

use std::process::Command;

use serde_json::json;

use crate::support::apis::openai;
use crate::support::peers::repo_path;
use crate::support::{TestDb, spawn_app_with};

/// Cases per operation and phase; with every phase this comes to well over 5,000 in all.
const EXAMPLES_PER_OPERATION: &str = "90";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_its_openapi_contract_under_generated_requests() {
    let schemathesis = repo_path("tests/peers/.venv/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "Schemathesis is not installed ({} is missing): run ./scripts/test.sh, which installs the test peers",
        schemathesis.display()
    );
    let api = openai::start().await;
    let app = spawn_app_with(
        TestDb::sqlite().await,
        &[("outbound_overrides", &api.overrides()), ("allowed_redirects", "http://app.test/"), ("jobs", "false")],
    )
    .await;

    // Data for the generated requests to meet: an integration, connections shared and private,
    // a webhook endpoint with an event received, a subscription and a session.
    let made = app.create_integration("github-app", "github", "gh-secret-value").await;
    assert_eq!(made.status, 201, "{}", made.body);
    let shared = app.connect(json!({"provider": "openai", "credentials": {"api_key": openai::KEY}})).await;
    let private = app
        .connect(json!({"provider": "openai", "credentials": {"api_key": openai::KEY}, "shared": false, "user": "u2"}))
        .await;
    let ep = app
        .post(
            "/v1/webhook-endpoints",
            json!({"provider": "webhook", "scheme": "shared-secret", "org": "acme", "connection": shared}),
        )
        .await;
    assert_eq!(ep.status, 201, "{}", ep.body);
    let hook = app
        .send(
            app.client
                .post(app.url(&format!("/hooks/{}", ep.body["id"].as_str().unwrap())))
                .header("X-Webhook-Secret", ep.body["secret"].as_str().unwrap())
                .json(&json!({"type": "order.created", "id": 1})),
        )
        .await;
    assert!(hook.status < 300, "{} {}", hook.status, hook.body);
    let sub = app.post("/v1/subscriptions", json!({"url": "http://127.0.0.1:9/hooks"})).await;
    assert_eq!(sub.status, 201, "{}", sub.body);
    app.session("acme", "u1", "admin").await;
    let _ = private;
    let shared = shared.clone();

    let base = app.base.clone();
    let key = app.key.clone();
    let report = tempfile::tempdir().expect("tempdir");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(schemathesis)
            .arg("--config-file")
            .arg(repo_path("tests/peers/schemathesis.toml"))
            .arg("run")
            .arg(format!("{base}/openapi.json"))
            .args(["--checks", "all", "--max-examples", EXAMPLES_PER_OPERATION, "--seed", "15", "--workers", "1"])
            .args(["--no-color", "--output-truncate", "false", "--generation-database", "none"])
            .arg("--header")
            .arg(format!("Authorization: Bearer {key}"))
            .env("SB_CONNECTION", &shared)
            .arg("--report-dir")
            .arg(report.path())
            .output()
            .expect("run schemathesis")
    })
    .await
    .expect("join");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "Schemathesis found failures:\n{text}");
    let cases = generated_cases(&text);
    assert!(cases >= 5000, "only {cases} cases were generated:\n{text}");
    println!("{text}");
}

/// N of the "Test cases:" / "N generated, …" lines of Schemathesis's summary.
fn generated_cases(text: &str) -> u64 {
    let mut lines = text.lines().map(str::trim);
    lines.find(|l| *l == "Test cases:");
    lines
        .next()
        .and_then(|l| l.strip_suffix(" skipped").or(Some(l)))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or(0)
}
