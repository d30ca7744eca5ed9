//! Actions against fakes of their providers (`support/apis`), each checking that the request is
//! the documented one: the listing of a connection's actions, a run with names resolved, every
//! input error at once, a provider refusal, a refused credential retried, a rate limit, tenancy,
//! `Idempotency-Key` replays and conflicts, the audit entry (without input values) and metrics.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::support::actions::{pointers, run};
use crate::support::apis::{Api, Trouble, discord, meta, shopify, slack, telegram};
use crate::support::fakes::{Fake, shape};
use crate::support::google::{Google, Mode, SPREADSHEETS};
use crate::support::server::TestApp;
use crate::support::{TestDb, spawn_app_with};

async fn slack_app() -> (Api, TestApp, String) {
    let api = slack::start().await;
    let app = api.app().await;
    let conn = app
        .connect(json!({"provider": "slack", "auth_mode": "bot_token", "credentials": {"bot_token": slack::BOT_TOKEN}}))
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
    let conn2 = app
        .connect(json!({"provider": "slack", "auth_mode": "bot_token", "credentials": {"bot_token": slack::BOT_TOKEN}}))
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

async fn google_app() -> (Google, TestApp, String) {
    let g = Google::start().await;
    let app = spawn_app_with(
        TestDb::sqlite().await,
        &[("outbound_overrides", &g.overrides()), ("allowed_redirects", "http://app.test/"), ("jobs", "false")],
    )
    .await;
    let conn = g.connect(&app, json!({})).await;
    (g, app, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheets_append_row_maps_values_through_the_header_row() {
    let (g, app, conn) = google_app().await;
    // Sheet1's header is Name, Email, Amount, (blank), Notes; names match as resolve matches them.
    let input = json!({"spreadsheet": "Sales 2026", "sheet": "Sheet1", "values": {"Email": "ada@acme.example", "name": "Ada Lovelace", "Notes": "=A2", "Amount": 1200}});
    let a = run(&app, &conn, "append_row", input, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["output"],
        json!({"updated_range": "'Sheet1'!A4:E4", "updated_rows": 1, "table_range": "'Sheet1'!A1:E3"})
    );
    let call = g.values.lock().unwrap().last().cloned().unwrap();
    assert_eq!((call.method.as_str(), call.range.as_str()), ("POST", "'Sheet1'!A1:append"));
    assert_eq!(
        call.body,
        json!({"range": "'Sheet1'!A1", "majorDimension": "ROWS", "values": [["Ada Lovelace", "ada@acme.example", 1200, "", "=A2"]]})
    );
    // A sheet by its id, in a spreadsheet given by URL; a title that needs quoting in A1 notation.
    let url = format!("https://docs.google.com/spreadsheets/d/{}/edit", SPREADSHEETS[0].0);
    let a = run(
        &app,
        &conn,
        "append_row",
        json!({"spreadsheet": url, "sheet": "1846372910", "values": {"Company": "Acme"}}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let call = g.values.lock().unwrap().last().cloned().unwrap();
    assert_eq!(call.body["values"], json!([["", "Acme"]]));
    assert_eq!(call.range, "'Q1 leads'!A1:append");
    // Unknown columns: each one named, with the sheet's real columns, before anything is written.
    let before = g.values.lock().unwrap().len();
    let a = run(
        &app,
        &conn,
        "append_row",
        json!({"spreadsheet": "Sales 2026", "sheet": "Sheet1", "values": {"Emial": "x", "Phone": "1", "Name": "y"}}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input/values/Emial", "/input/values/Phone"]);
    let message = a.body["error"]["details"][0]["message"].as_str().unwrap();
    assert!(message.contains("\"Email\"") && message.contains("\"Notes\""), "{message}");
    assert_eq!(a.body["error"]["details"][0]["candidates"][0]["name"], "Email", "{}", a.body);
    assert_eq!(g.values.lock().unwrap().len(), before);
    // A spreadsheet name that is two spreadsheets: the candidates, nothing written.
    let a = run(
        &app,
        &conn,
        "append_row",
        json!({"spreadsheet": "BUDGET", "sheet": "Sheet1", "values": {"Name": "x"}}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input/spreadsheet"]);
    assert_eq!(a.body["error"]["details"][0]["candidates"].as_array().map(Vec::len), Some(2), "{}", a.body);
    // The schema's own checks.
    let a = run(&app, &conn, "append_row", json!({"spreadsheet": "Sales 2026", "sheet": "Sheet1", "values": {}}), None)
        .await;
    assert_eq!(pointers(&a), ["/input/values"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheets_read_update_and_clear_ranges() {
    let (g, app, conn) = google_app().await;
    let sheet = json!({"spreadsheet": "Sales 2026", "sheet": "Q1 leads"});
    let with = |extra: Value| {
        let mut v = sheet.clone();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let a = run(&app, &conn, "read_range", with(json!({"range": "A1:C2"})), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"]["values"][1], json!(["Ada Lovelace", "ada@acme.example", "1,200"]));
    let call = g.values.lock().unwrap().last().cloned().unwrap();
    assert_eq!((call.method.as_str(), call.range.as_str()), ("GET", "'Q1 leads'!A1:C2"));
    let a = run(&app, &conn, "update_range", with(json!({"range": "B2:C2", "values": [["Acme", 3]]})), None).await;
    assert_eq!(
        (a.status, &a.body["output"]),
        (200, &json!({"updated_range": "'Q1 leads'!B2:C2", "updated_cells": 2})),
        "{}",
        a.body
    );
    let call = g.values.lock().unwrap().last().cloned().unwrap();
    assert_eq!(call.body, json!({"range": "'Q1 leads'!B2:C2", "majorDimension": "ROWS", "values": [["Acme", 3]]}));
    assert!(call.query.contains(&("valueInputOption".to_owned(), "USER_ENTERED".to_owned())));
    let a = run(&app, &conn, "clear_range", with(json!({"range": "A2:D100"})), None).await;
    assert_eq!((a.status, &a.body["output"]), (200, &json!({"cleared_range": "'Q1 leads'!A2:D100"})), "{}", a.body);
    // A range that is not A1 notation never reaches Google.
    let before = g.values.lock().unwrap().len();
    let a = run(&app, &conn, "clear_range", with(json!({"range": "Sheet1!A1"})), None).await;
    assert_eq!(pointers(&a), ["/input/range"]);
    assert_eq!(g.values.lock().unwrap().len(), before);
    // Google refuses the token once: refreshed, retried, done; refused for want of a scope: 403.
    g.set(Mode::RefuseFirstToken);
    let a = run(&app, &conn, "read_range", with(json!({"range": "A1:C2"})), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(app.get(&format!("/v1/connections/{conn}/credentials")).await.body["access_token"], "ya29.refreshed-1");
    // (The retry's refresh forgot the cached listings; list again so only the action meets the 403.)
    assert_eq!(run(&app, &conn, "read_range", with(json!({"range": "A1:C2"})), None).await.status, 200);
    g.set(Mode::NoScope);
    let a = run(&app, &conn, "clear_range", with(json!({"range": "A2:D100"})), None).await;
    assert_eq!((a.status, a.body["error"]["code"].as_str()), (403, Some("insufficient_scope")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("auth/spreadsheets"), "{}", a.body);
}

async fn telegram_app() -> (Api, TestApp, String) {
    let api = telegram::start().await;
    let app = api.app().await;
    let conn = app.connect(json!({"provider": "telegram", "credentials": {"bot_token": telegram::TOKEN}})).await;
    (api, app, conn)
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn telegram_sends_messages_photos_documents_locations_and_polls() {
    let (api, app, conn) = telegram_app().await;
    let listed = app.get(&format!("/v1/connections/{conn}/actions")).await;
    let names: Vec<&str> =
        listed.body["actions"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["send_document", "send_location", "send_message", "send_photo", "send_poll"]);

    let a = run(
        &app,
        &conn,
        "send_message",
        json!({"chat_id": telegram::CHAT, "text": "<b>Deploy</b> done", "parse_mode": "HTML"}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["output"],
        json!({"message_id": 4711, "chat_id": telegram::CHAT, "date": 1_764_547_200, "text": "<b>Deploy</b> done"})
    );
    assert_eq!(
        api.control.last_json("sendMessage"),
        json!({"chat_id": telegram::CHAT, "text": "<b>Deploy</b> done", "parse_mode": "HTML"}),
        "the chat id stays a number"
    );
    assert!(api.control.log().last().unwrap().starts_with(&format!("POST /bot{}/sendMessage", telegram::TOKEN)));
    let a = run(
        &app,
        &conn,
        "send_message",
        json!({"chat_id": "@acme_news", "text": "hi", "disable_notification": true}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        api.control.last_json("sendMessage"),
        json!({"chat_id": "@acme_news", "text": "hi", "disable_notification": true})
    );

    let a = run(
        &app,
        &conn,
        "send_photo",
        json!({"chat_id": telegram::CHAT, "photo": "https://cdn.acme.example/chart.png", "caption": "Q3"}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        api.control.last_json("sendPhoto"),
        json!({"chat_id": telegram::CHAT, "photo": "https://cdn.acme.example/chart.png", "caption": "Q3"})
    );
    let a = run(
        &app,
        &conn,
        "send_document",
        json!({"chat_id": telegram::CHAT, "document": "https://cdn.acme.example/report.pdf"}),
        None,
    )
    .await;
    assert_eq!((a.status, a.body["output"]["file_name"].as_str()), (200, Some("report.pdf")), "{}", a.body);
    // The file itself, uploaded as multipart/form-data: the bytes arrive as they are.
    let bytes = b"%PDF-1.7\r\n--not-the-boundary\r\n\x00\xff report".repeat(50);
    let a = run(
        &app,
        &conn,
        "send_document",
        json!({"chat_id": telegram::CHAT, "content_base64": b64(&bytes), "filename": "Q3 report.pdf", "caption": "Q3"}),
        None,
    )
    .await;
    assert_eq!((a.status, a.body["output"]["file_name"].as_str()), (200, Some("Q3 report.pdf")), "{}", a.body);
    let a =
        run(&app, &conn, "send_photo", json!({"chat_id": "@acme_news", "content_base64": b64(&bytes[..300])}), None)
            .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = run(
        &app,
        &conn,
        "send_photo",
        json!({"chat_id": 1, "photo": "https://x.example/a.png", "content_base64": "aGk="}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input"], "one of photo or content_base64: {}", a.body);
    let a = run(
        &app,
        &conn,
        "send_location",
        json!({"chat_id": telegram::CHAT, "latitude": 52.52, "longitude": 13.405}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        api.control.last_json("sendLocation"),
        json!({"chat_id": telegram::CHAT, "latitude": 52.52, "longitude": 13.405})
    );
    assert_eq!(a.body["output"]["latitude"], 52.52);
    let poll = json!({"chat_id": telegram::CHAT, "question": "Lunch?", "options": [{"text": "Pizza"}, {"text": "Sushi"}], "is_anonymous": false});
    let a = run(&app, &conn, "send_poll", poll.clone(), None).await;
    assert_eq!((a.status, a.body["output"]["poll_id"].as_str()), (200, Some("5172436712881995789")), "{}", a.body);
    assert_eq!(api.control.last_json("sendPoll"), poll);
}

#[tokio::test]
async fn telegram_input_errors_refusals_limits_and_retries() {
    let (api, app, conn) = telegram_app().await;
    let before = api.calls();
    let a = run(&app, &conn, "send_message", json!({"chat_id": true, "parse_mode": "BBCode"}), None).await;
    assert_eq!(pointers(&a), ["/input", "/input/chat_id", "/input/parse_mode"], "{}", a.body);
    let a =
        run(&app, &conn, "send_poll", json!({"chat_id": 1, "question": "?", "options": [{"text": "only one"}]}), None)
            .await;
    assert_eq!(pointers(&a), ["/input/options"], "{}", a.body);
    let a = run(&app, &conn, "send_location", json!({"chat_id": 1, "latitude": 91, "longitude": "east"}), None).await;
    assert_eq!(pointers(&a), ["/input/latitude", "/input/longitude"], "{}", a.body);
    assert_eq!(api.calls(), before, "nothing reaches Telegram");

    // Telegram's own refusal, with its description.
    let a = run(&app, &conn, "send_message", json!({"chat_id": 42, "text": "hi"}), None).await;
    assert_eq!((a.status, a.code()), (422, "provider_refused"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("chat not found"), "{}", a.body);
    // The wait Telegram gives in its body comes back as Retry-After.
    api.set(Trouble::RateLimited);
    let a = run(&app, &conn, "send_message", json!({"chat_id": telegram::CHAT, "text": "hi"}), None).await;
    assert_eq!((a.status, a.headers["retry-after"].to_str().unwrap()), (429, "7"), "{}", a.body);
    // Refused once: sent again with the same token. Refused twice: needs_reauth.
    api.set(Trouble::Unauthorized(1));
    let sends = api.control.calls_with("sendMessage");
    let a = run(&app, &conn, "send_message", json!({"chat_id": telegram::CHAT, "text": "hi"}), None).await;
    assert_eq!((a.status, api.control.calls_with("sendMessage")), (200, sends + 2), "{}", a.body);
    api.set(Trouble::Unauthorized(2));
    let a = run(&app, &conn, "send_message", json!({"chat_id": telegram::CHAT, "text": "hi"}), None).await;
    assert_eq!((a.status, a.code()), (409, "needs_reauth"), "{}", a.body);
    // Nothing of the token in what was answered.
    assert!(!a.body.to_string().contains(telegram::TOKEN));
}

#[tokio::test]
async fn discord_send_message_as_the_bot_and_through_a_webhook() {
    let api = discord::start().await;
    let app = api.app().await;
    let bot = app
        .connect(
            json!({"provider": "discord", "auth_mode": "bot_token", "credentials": {"bot_token": discord::BOT_TOKEN}}),
        )
        .await;
    let a = run(
        &app,
        &bot,
        "send_message",
        json!({"guild": "Acme HQ", "channel": "deploys", "content": "v2.3 is out"}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"]["channel_id"], "1091000000000000012");
    assert_eq!(a.body["output"]["id"], "1092000000000000777");
    assert_eq!(api.control.last_json("/channels/1091000000000000012/messages"), json!({"content": "v2.3 is out"}));
    // A message over Discord's limit is caught before it is sent.
    let a = run(
        &app,
        &bot,
        "send_message",
        json!({"guild": discord::HQ, "channel": "deploys", "content": "x".repeat(2001)}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input/content"]);
    // "General" is the voice channel (the text one is "general"): Discord's refusal, with its reason.
    let a = run(&app, &bot, "send_message", json!({"guild": discord::HQ, "channel": "General", "content": "hi"}), None)
        .await;
    assert_eq!((a.status, a.code()), (422, "provider_refused"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("non-text channel"), "{}", a.body);
    assert_eq!(api.control.calls_with("/channels/1091000000000000013/messages"), 1);
    api.set(Trouble::RateLimited);
    let a = run(&app, &bot, "send_message", json!({"guild": discord::HQ, "channel": "deploys", "content": "hi"}), None)
        .await;
    assert_eq!((a.status, a.headers["retry-after"].to_str().unwrap()), (429, "2"), "{}", a.body);
    api.set(Trouble::None);

    // Through a webhook URL: the same action name, the webhook's own inputs, no Authorization.
    let hook = format!("https://discord.com/api/webhooks/1234567890123456789/{}", discord::WEBHOOK_TOKEN);
    let webhook =
        app.connect(json!({"provider": "discord", "auth_mode": "webhook", "credentials": {"webhook_url": hook}})).await;
    let listed = app.get(&format!("/v1/connections/{webhook}/actions")).await;
    let actions = listed.body["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{}", listed.body);
    assert_eq!(actions[0]["name"], "send_message");
    assert!(actions[0]["input_schema"]["properties"].get("guild").is_none());
    let a =
        run(&app, &webhook, "send_message", json!({"content": "Deploy finished", "username": "CI"}), Some("deploy-77"))
            .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"]["channel_id"], "1091000000000000012");
    assert_eq!(api.control.last_json("/api/webhooks/"), json!({"content": "Deploy finished", "username": "CI"}));
    let executed = api.control.calls_with("POST /api/webhooks/");
    let again =
        run(&app, &webhook, "send_message", json!({"content": "Deploy finished", "username": "CI"}), Some("deploy-77"))
            .await;
    assert_eq!((again.status, again.headers["idempotent-replayed"].to_str().unwrap()), (200, "true"));
    assert_eq!(api.control.calls_with("POST /api/webhooks/"), executed, "the repeat posts nothing");
    let other = run(&app, &webhook, "send_message", json!({"content": "Something else"}), Some("deploy-77")).await;
    assert_eq!(other.status, 409, "{}", other.body);
    assert!(
        !a.body.to_string().contains(discord::WEBHOOK_TOKEN)
            && !other.body.to_string().contains(discord::WEBHOOK_TOKEN)
    );
}

/// What a receiver saw: each request's content type and body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A webhook receiver at `origin`: records each body and answers `status` with `answer`.
async fn receiver(origin: &str, status: u16, answer: Value) -> (Fake, Received) {
    let seen: Received = Arc::default();
    let log = seen.clone();
    let fake = Fake::start(origin, move |s| {
        log.lock().unwrap().push((s.header("content-type").unwrap_or_default().to_owned(), s.body.clone()));
        if s.header("authorization").is_some() {
            return shape(400, json!({"error": "no Authorization expected"}));
        }
        shape(status, answer.clone())
    })
    .await;
    (fake, seen)
}

#[tokio::test]
async fn webhook_and_zapier_send_the_payload_as_the_body() {
    let (hooks, hooks_seen) = receiver("https://hooks.acme.example", 200, json!({"received": true})).await;
    let zapier_answer = json!({"attempt": "0194c1f5-2b4e-7a3d-9e21-4f3a5b6c7d8e", "id": "0194c1f5-2b4e-7a3d-9e21-4f3a5b6c7d8f", "request_id": "0194c1f52b4e7a3d", "status": "success"});
    let (zapier, zapier_seen) = receiver("https://hooks.zapier.com", 200, zapier_answer.clone()).await;
    let (gone, _) = receiver("https://gone.acme.example", 410, json!({"error": "this hook was deleted"})).await;
    let app = crate::support::spawn_app_with(
        TestDb::sqlite().await,
        &[("outbound_overrides", &crate::support::fakes::overrides(&[&hooks, &zapier, &gone])), ("jobs", "false")],
    )
    .await;
    let hook = app
        .connect(json!({"provider": "webhook", "credentials": {"webhook_url": "https://hooks.acme.example/in/4f1c"}}))
        .await;
    let zap = app.connect(json!({"provider": "zapier", "credentials": {"webhook_url": "https://hooks.zapier.com/hooks/catch/123456/abcdef/"}})).await;
    let dead = app
        .connect(json!({"provider": "webhook", "credentials": {"webhook_url": "https://gone.acme.example/in/1"}}))
        .await;

    let payload = json!({"order": {"id": 1042, "total": 99.5, "items": ["a", "b"]}, "paid": true, "note": null});
    let a = run(&app, &hook, "send", json!({"payload": payload}), None).await;
    assert_eq!((a.status, &a.body["output"]), (200, &json!({"received": true})), "{}", a.body);
    let (ctype, body) = hooks_seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(ctype, "application/json");
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), payload, "the payload is the body, as it is");

    let a = run(&app, &zap, "send", json!({"payload": {"email": "ada@acme.example"}}), Some("signup-9")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"]["status"], "success");
    assert_eq!(a.body["output"]["request_id"], zapier_answer["request_id"]);
    let again = run(&app, &zap, "send", json!({"payload": {"email": "ada@acme.example"}}), Some("signup-9")).await;
    assert_eq!(again.status, 200);
    assert_eq!(zapier_seen.lock().unwrap().len(), 1, "the repeat does not start the Zap again");

    let a = run(&app, &hook, "send", json!({"payload": [1, 2]}), None).await;
    assert_eq!(pointers(&a), ["/input/payload"]);
    // A receiver that is gone says so.
    let a = run(&app, &dead, "send", json!({"payload": {}}), None).await;
    assert_eq!((a.status, a.code()), (404, "not_found"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("this hook was deleted"), "{}", a.body);
    assert!(!a.body.to_string().contains("gone.acme.example/in/1"), "the secret URL is never echoed: {}", a.body);
}

#[tokio::test]
async fn whatsapp_sends_text_and_templates() {
    let api = meta::start().await;
    let app = api.app().await;
    let conn = app
        .connect(json!({"provider": "whatsapp", "credentials": {"access_token": meta::SYSTEM_TOKEN, "phone_number_id": meta::PHONE_ID}}))
        .await;
    let a = run(&app, &conn, "send_message", json!({"to": "+15551234567", "text": "Your order shipped"}), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["output"],
        json!({"message_id": "wamid.HBgLMTU1NTAxMjM0NTYVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA", "wa_id": "15551234567"})
    );
    assert_eq!(
        api.control.last_json("/messages"),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+15551234567", "type": "text", "text": {"body": "Your order shipped"}}),
        "the documented body, the type defaulted"
    );
    let template = json!({"name": "order_shipped", "language": {"code": "en_US"}, "components": [{"type": "body", "parameters": [{"type": "text", "text": "#1042"}]}]});
    let a = run(
        &app,
        &conn,
        "send_message",
        json!({"to": meta::QUIET_RECIPIENT, "type": "template", "template": template}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        api.control.last_json("/messages"),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": meta::QUIET_RECIPIENT, "type": "template", "template": template})
    );
    // What each type needs, and the number's shape, before anything is sent.
    let before = api.calls();
    let a = run(&app, &conn, "send_message", json!({"to": "call me", "type": "template"}), None).await;
    assert_eq!(pointers(&a), ["/input", "/input/to"], "{}", a.body);
    assert_eq!(api.calls(), before);
    // Outside the 24-hour window free text is refused, with WhatsApp's reason.
    let a = run(&app, &conn, "send_message", json!({"to": meta::QUIET_RECIPIENT, "text": "hello?"}), None).await;
    assert_eq!((a.status, a.code()), (422, "provider_refused"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("24 hours"), "{}", a.body);
    // Graph's throttling code is a rate limit; its expired-token code a refused credential.
    api.set(Trouble::RateLimited);
    let a = run(&app, &conn, "send_message", json!({"to": "15551234567", "text": "hi"}), None).await;
    assert_eq!(a.status, 429, "{}", a.body);
    api.set(Trouble::Unauthorized(2));
    let a = run(&app, &conn, "send_message", json!({"to": "15551234567", "text": "hi"}), None).await;
    assert_eq!((a.status, a.code()), (409, "needs_reauth"), "{}", a.body);
    assert!(!a.body.to_string().contains(meta::SYSTEM_TOKEN));
}

#[tokio::test]
async fn shopify_creates_products_through_graphql() {
    let api = shopify::start().await;
    let app = api.app().await;
    let conn = app
        .connect(json!({"provider": "shopify", "auth_mode": "api_key", "credentials": {"shop": "acme", "access_token": shopify::TOKEN}}))
        .await;
    let a = run(
        &app,
        &conn,
        "create_product",
        json!({"title": "Classic Hoodie", "vendor": "Acme", "tags": ["winter", "merch"]}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["output"],
        json!({"id": "gid://shopify/Product/1072481062", "title": "Classic Hoodie", "handle": "classic-hoodie", "status": "DRAFT"})
    );
    let sent = api.control.last_json("/graphql.json");
    assert_eq!(
        sent["variables"],
        json!({"product": {"title": "Classic Hoodie", "vendor": "Acme", "tags": ["winter", "merch"], "status": "DRAFT"}}),
        "absent inputs are left out; the status defaults to DRAFT"
    );
    assert!(sent["query"].as_str().unwrap().contains("userErrors { field message }"), "{sent}");
    // userErrors in a 200 are a refusal, with Shopify's message.
    let a = run(&app, &conn, "create_product", json!({"title": "   "}), None).await;
    assert_eq!((a.status, a.code()), (422, "provider_refused"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("Title can't be blank"), "{}", a.body);
    // A top-level GraphQL error is too (a missing scope), and THROTTLED in a 200 is a rate limit.
    api.set(Trouble::Forbidden);
    let a = run(&app, &conn, "create_product", json!({"title": "Cap"}), None).await;
    assert_eq!((a.status, a.code()), (422, "provider_refused"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("write_products"), "{}", a.body);
    api.set(Trouble::RateLimited);
    let a = run(&app, &conn, "create_product", json!({"title": "Cap"}), Some("cap-1")).await;
    assert_eq!(a.status, 429, "{}", a.body);
    api.set(Trouble::None);
    let a = run(&app, &conn, "create_product", json!({"title": "Cap"}), Some("cap-1")).await;
    assert_eq!(a.status, 200, "the throttled run gave its key back: {}", a.body);
    let a = run(&app, &conn, "create_product", json!({"title": "Cap", "status": "LIVE"}), None).await;
    assert_eq!(pointers(&a), ["/input/status"]);
}

#[tokio::test]
async fn facebook_page_actions_run_with_the_pages_own_token() {
    let api = meta::start().await;
    let app = api.app().await;
    assert_eq!(app.create_integration("meta", "facebook", "meta-secret").await.status, 201);
    let conn = crate::support::apis::connect_oauth(&app, json!({"integration": "meta"})).await;

    let a = run(
        &app,
        &conn,
        "reply_to_comment",
        json!({"page": "Acme Support", "comment_id": "101500000000001_777", "message": "Thanks, we're on it!"}),
        None,
    )
    .await;
    assert_eq!((a.status, &a.body["output"]), (200, &json!({"id": "101500000000001_777_5551234"})), "{}", a.body);
    // The Page's token was fetched with the user's, and the reply went with the Page's.
    let log = api.control.log();
    let n = log.len();
    assert!(log[n - 2].starts_with("GET /v26.0/101500000000001?fields=access_token"), "{log:?}");
    assert!(log[n - 1].starts_with("POST /v26.0/101500000000001_777/comments"), "{log:?}");
    assert_eq!(api.control.last_json("/comments"), json!({"message": "Thanks, we're on it!"}));

    let a = run(
        &app,
        &conn,
        "send_page_message",
        json!({"page": "101500000000001", "recipient_id": "24019876543210987", "text": "Your order shipped."}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"]["recipient_id"], "24019876543210987");
    assert_eq!(
        api.control.last_json("/messages"),
        json!({"recipient": {"id": "24019876543210987"}, "messaging_type": "RESPONSE", "message": {"text": "Your order shipped."}})
    );
    // Facebook's refusals, with their reasons; a tag is required outside the window.
    let a = run(
        &app,
        &conn,
        "send_page_message",
        json!({"page": "101500000000001", "recipient_id": meta::UNREACHABLE_PSID, "text": "hi"}),
        None,
    )
    .await;
    assert_eq!((a.status, a.code()), (422, "provider_refused"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("isn't available"), "{}", a.body);
    let a = run(
        &app,
        &conn,
        "reply_to_comment",
        json!({"page": "Acme Support", "comment_id": meta::GONE_COMMENT, "message": "hi"}),
        None,
    )
    .await;
    assert_eq!((a.status, a.code()), (422, "provider_refused"), "{}", a.body);
    let a = run(
        &app,
        &conn,
        "send_page_message",
        json!({"page": "Acme Support", "recipient_id": "1", "text": "hi", "messaging_type": "MESSAGE_TAG"}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input"], "{}", a.body);
    // "Acme" names two Pages: the caller chooses.
    let a =
        run(&app, &conn, "reply_to_comment", json!({"page": "Acme", "comment_id": "1_2", "message": "hi"}), None).await;
    assert_eq!(pointers(&a), ["/input/page"]);
    // Nothing of either token in what comes back.
    for body in [a.body.to_string(), app.get(&format!("/v1/audit?connection={conn}")).await.body.to_string()] {
        assert!(!body.contains("EAAPage-") && !body.contains(meta::LONG_LIVED), "{body}");
    }
}
