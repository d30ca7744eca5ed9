//! Actions against fakes of their providers (`support/apis`), each checking that the request is
//! the documented one: the listing of a connection's actions, a run with names resolved, every
//! input error at once, a provider refusal, a refused credential retried, a rate limit, tenancy,
//! `Idempotency-Key` replays and conflicts, the audit entry (without input values) and metrics.

use serde_json::{Value, json};

use crate::support::apis::{Api, Trouble, slack};
use crate::support::server::{Answer, TestApp};
use crate::support::{TestDb, spawn_app_with};

async fn app_for(api: &Api) -> TestApp {
    spawn_app_with(
        TestDb::sqlite().await,
        &[("outbound_overrides", &api.overrides()), ("allowed_redirects", "http://app.test/"), ("jobs", "false")],
    )
    .await
}

async fn connect(app: &TestApp, body: Value) -> String {
    let mut b = json!({"org": "acme", "user": "u1"});
    for (k, v) in body.as_object().unwrap() {
        b[k] = v.clone();
    }
    let a = app.post("/v1/connections", b).await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["id"].as_str().unwrap().to_owned()
}

/// Runs `action` with `input` as the app's secret key, with an idempotency key when given.
async fn run(app: &TestApp, conn: &str, action: &str, input: Value, key: Option<&str>) -> Answer {
    let mut req = app
        .client
        .post(app.url(&format!("/v1/connections/{conn}/actions/{action}")))
        .bearer_auth(&app.key)
        .json(&json!({ "input": input }));
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    app.send(req).await
}

/// The JSON pointers of a 400's details.
fn pointers(a: &Answer) -> Vec<String> {
    assert_eq!(a.status, 400, "{}", a.body);
    let mut p: Vec<String> = a.body["error"]["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no details: {}", a.body))
        .iter()
        .map(|d| d["path"].as_str().unwrap().to_owned())
        .collect();
    p.sort();
    p
}

async fn slack_app() -> (Api, TestApp, String) {
    let api = slack::start().await;
    let app = app_for(&api).await;
    let conn = connect(
        &app,
        json!({"provider": "slack", "auth_mode": "bot_token", "credentials": {"bot_token": slack::BOT_TOKEN}}),
    )
    .await;
    (api, app, conn)
}

#[tokio::test]
async fn slack_actions_are_listed_with_their_schemas() {
    let (_api, app, conn) = slack_app().await;
    let a = app.get(&format!("/v1/connections/{conn}/actions")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let post =
        a.body["actions"].as_array().unwrap().iter().find(|x| x["name"] == "post_message").expect("post_message");
    assert_eq!(post["input_schema"]["properties"]["channel"]["x-resource"], "channel");
    assert_eq!(post["input_schema"]["required"], json!(["channel", "text"]));
    assert_eq!(post["missing_scopes"], json!([]));
    assert_eq!(post["retry_safe"], false);
    assert!(post["description"].as_str().unwrap().contains("channel"));
    assert_eq!(post["output_schema"]["required"], json!(["ts", "channel"]));
}

#[tokio::test]
async fn slack_post_message_by_name_link_or_id() {
    let (api, app, conn) = slack_app().await;
    for given in ["sales", "Sales", "https://acme.slack.com/archives/C07SALES1", "C07SALES1"] {
        let a = run(&app, &conn, "post_message", json!({"channel": given, "text": "Deal closed: *Acme*"}), None).await;
        assert_eq!(a.status, 200, "{given}: {}", a.body);
        assert_eq!(
            a.body["output"],
            json!({"ts": "1503435956.000247", "channel": "C07SALES1", "text": "Deal closed: *Acme*"})
        );
        // The documented request: the channel's id and the text, nothing else.
        assert_eq!(
            api.control.last_json("chat.postMessage"),
            json!({"channel": "C07SALES1", "text": "Deal closed: *Acme*"})
        );
    }
    // Optional inputs go out with their types.
    let a = run(
        &app,
        &conn,
        "post_message",
        json!({"channel": "C07SALES1", "text": "in thread", "thread_ts": "1503435956.000247", "unfurl_links": false}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        api.control.last_json("chat.postMessage"),
        json!({"channel": "C07SALES1", "text": "in thread", "thread_ts": "1503435956.000247", "unfurl_links": false})
    );
}

#[tokio::test]
async fn slack_post_message_input_errors_come_all_at_once() {
    let (api, app, conn) = slack_app().await;
    let before = api.calls();
    let a =
        run(&app, &conn, "post_message", json!({"channel": 42, "thread_ts": "yesterday", "colour": "red"}), None).await;
    // The missing text, the number for a channel, the malformed ts, the unknown property.
    assert_eq!(pointers(&a), ["/input", "/input", "/input/channel", "/input/thread_ts"], "{}", a.body);
    let text = a.body.to_string();
    assert!(text.contains("text") && text.contains("colour"), "{text}");
    assert_eq!(api.calls(), before, "nothing reaches the provider");
    // A name that matches no channel: a 400 at its pointer with the closest channels.
    let a = run(&app, &conn, "post_message", json!({"channel": "sale", "text": "hi"}), None).await;
    assert_eq!(pointers(&a), ["/input/channel"]);
    let candidates: Vec<&str> = a.body["error"]["details"][0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(candidates.contains(&"sales"), "{}", a.body);
    assert_eq!(api.control.calls_with("chat.postMessage"), 0);
    // Not an object at all, and an action this provider does not have.
    let a = app
        .send(
            app.client
                .post(app.url(&format!("/v1/connections/{conn}/actions/post_message")))
                .bearer_auth(&app.key)
                .json(&json!({"input": "hi"})),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    let a = run(&app, &conn, "send_fax", json!({}), None).await;
    assert_eq!(a.status, 404, "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("post_message"), "{}", a.body);
}

#[tokio::test]
async fn slack_refusals_rate_limits_and_retries() {
    let (api, app, conn) = slack_app().await;
    // The provider's own refusal, with its reason.
    let a = run(&app, &conn, "post_message", json!({"channel": "C05OLDNEW", "text": "hi"}), None).await;
    assert_eq!((a.status, a.body["error"]["code"].as_str()), (422, Some("provider_refused")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("is_archived"), "{}", a.body);
    // Warm the channel listing, then one refused call: sent again with the same key, and it works.
    assert_eq!(run(&app, &conn, "post_message", json!({"channel": "sales", "text": "1"}), None).await.status, 200);
    let posts = api.control.calls_with("chat.postMessage");
    api.set(Trouble::Unauthorized(1));
    let a = run(&app, &conn, "post_message", json!({"channel": "sales", "text": "2"}), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(api.control.calls_with("chat.postMessage"), posts + 2);
    // Rate limited: a 429 with the provider's wait; nothing waited out inline.
    api.set(Trouble::RateLimited);
    let a = run(&app, &conn, "post_message", json!({"channel": "sales", "text": "3"}), Some("k-429")).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.headers["retry-after"], "30");
    // The key was given back: the same request runs once the limit is over.
    api.set(Trouble::None);
    let a = run(&app, &conn, "post_message", json!({"channel": "sales", "text": "3"}), Some("k-429")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Refused twice: the connection needs re-authorisation, and says so.
    api.set(Trouble::Unauthorized(2));
    let a = run(&app, &conn, "post_message", json!({"channel": "sales", "text": "4"}), None).await;
    assert_eq!((a.status, a.body["error"]["code"].as_str()), (409, Some("needs_reauth")), "{}", a.body);
    assert_eq!(app.get(&format!("/v1/connections/{conn}")).await.body["status"], "needs_reauth");
}

#[tokio::test]
async fn idempotency_keys_answer_once_and_refuse_another_input() {
    let (api, app, conn) = slack_app().await;
    let input = json!({"channel": "sales", "text": "once"});
    let first = run(&app, &conn, "post_message", input.clone(), Some("order-1042")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let posts = api.control.calls_with("chat.postMessage");
    let again = run(&app, &conn, "post_message", input.clone(), Some("order-1042")).await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(api.control.calls_with("chat.postMessage"), posts, "the repeat does not post again");
    // Another input under the same key.
    let other =
        run(&app, &conn, "post_message", json!({"channel": "sales", "text": "twice"}), Some("order-1042")).await;
    assert_eq!((other.status, other.body["error"]["code"].as_str()), (409, Some("conflict")), "{}", other.body);
    // Keys are per connection: the same key on another connection is another run.
    let conn2 = connect(
        &app,
        json!({"provider": "slack", "auth_mode": "bot_token", "credentials": {"bot_token": slack::BOT_TOKEN}}),
    )
    .await;
    let a = run(&app, &conn2, "post_message", input.clone(), Some("order-1042")).await;
    assert_eq!((a.status, a.headers.get("idempotent-replayed")), (200, None), "{}", a.body);
    // A malformed key is a 400.
    let a = run(&app, &conn, "post_message", input, Some("")).await;
    assert_eq!(a.status, 400, "{}", a.body);
}

#[tokio::test]
async fn runs_are_audited_without_their_input_and_metered() {
    let (_api, app, conn) = slack_app().await;
    let secret_text = "Invoice for jane.doe@example.com";
    assert_eq!(
        run(&app, &conn, "post_message", json!({"channel": "sales", "text": secret_text}), None).await.status,
        200
    );
    assert_eq!(
        run(&app, &conn, "post_message", json!({"channel": "C05OLDNEW", "text": secret_text}), None).await.status,
        422
    );
    let a = app.get("/v1/audit?action=connection.run_action").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let entries =
        a.body["entries"].as_array().or_else(|| a.body["items"].as_array()).unwrap_or_else(|| panic!("{}", a.body));
    assert_eq!(entries.len(), 2, "{}", a.body);
    let text = a.body.to_string();
    assert!(!text.contains("jane.doe") && !text.contains(slack::BOT_TOKEN), "{text}");
    let outcomes: Vec<&str> = entries.iter().map(|e| e["detail"]["outcome"].as_str().unwrap()).collect();
    assert!(outcomes.contains(&"success") && outcomes.contains(&"refused"), "{text}");
    assert!(
        entries.iter().all(|e| e["detail"]["action"] == "post_message" && e["detail"]["provider_status"] == 200),
        "{text}"
    );
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for outcome in ["success", "refused"] {
        assert!(
            metrics.lines().any(|l| l.starts_with("switchboard_action_runs_total")
                && l.contains("provider=\"slack\"")
                && l.contains("action=\"post_message\"")
                && l.contains(&format!("outcome=\"{outcome}\""))),
            "{outcome}: {metrics}"
        );
    }
    assert!(metrics.contains("switchboard_action_run_duration_seconds"));
    assert!(!metrics.contains(slack::BOT_TOKEN) && !metrics.contains("jane.doe"));
}

#[tokio::test]
async fn actions_follow_tenancy() {
    let (api, app, conn) = slack_app().await;
    let input = json!({"channel": "sales", "text": "hi"});
    let path = format!("/v1/connections/{conn}/actions/post_message");
    let other_org = app.session("globex", "u9", "admin").await;
    let a = app.call(reqwest::Method::POST, &path, &other_org, Some(json!({"input": input}))).await;
    assert_eq!(a.status, 404, "{}", a.body);
    let a = app.call(reqwest::Method::GET, &format!("/v1/connections/{conn}/actions"), &other_org, None).await;
    assert_eq!(a.status, 404, "{}", a.body);
    // A member runs a shared connection; once it is private to its owner, another member cannot.
    let member = app.session("acme", "u2", "member").await;
    let a = app.call(reqwest::Method::POST, &path, &member, Some(json!({"input": input}))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let owner = app.session("acme", "u1", "member").await;
    let a = app
        .call(reqwest::Method::PATCH, &format!("/v1/connections/{conn}"), &owner, Some(json!({"shared": false})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let posts = api.control.calls_with("chat.postMessage");
    let a = app.call(reqwest::Method::POST, &path, &member, Some(json!({"input": input}))).await;
    assert_eq!(a.status, 404, "{}", a.body);
    let a = app.call(reqwest::Method::POST, &path, &owner, Some(json!({"input": input}))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(api.control.calls_with("chat.postMessage"), posts + 1);
}
