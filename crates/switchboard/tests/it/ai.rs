//! For AI workflow builders: `GET /v1/context` (one user's connections, actions, kinds and item
//! names, JSON or Markdown, within a byte budget) and `POST /v1/workflows/validate` (steps checked
//! against the live accounts: names resolved, candidates and closest names, scopes, schemas, and
//! references to earlier steps), against the Google and Slack fakes.

use serde_json::{Value, json};

use crate::support::apis::slack;
use crate::support::google::{Google, SPREADSHEETS};
use crate::support::server::TestApp;

async fn workspace() -> (Google, crate::support::apis::Api, TestApp, [String; 3]) {
    crate::support::workspace::google_and_slack(&[]).await
}

fn connection<'a>(ctx: &'a Value, id: &str) -> &'a Value {
    ctx["connections"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} not in {ctx}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_lists_what_a_users_connections_can_do_and_stays_within_its_budget() {
    let (_g, _s, app, [work, narrow, bot]) = workspace().await;
    let a = app.get("/v1/context?org=acme&user=u1").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let ctx = &a.body;
    assert_eq!(ctx["connections"].as_array().unwrap().len(), 3, "{ctx}");
    let w = connection(ctx, &work);
    assert_eq!(
        (w["provider"].as_str(), w["label"].as_str(), w["usable"].as_bool()),
        (Some("google-sheets"), Some("Work"), Some(true))
    );
    assert_eq!(w["account"]["email"], "ada@acme.example");
    let append = w["actions"].as_array().unwrap().iter().find(|x| x["name"] == "append_row").expect("append_row");
    assert_eq!(append["resource_inputs"], json!({"sheet": "sheet", "spreadsheet": "spreadsheet"}));
    assert_eq!(append["input_schema"]["properties"]["spreadsheet"]["x-resource"], "spreadsheet");
    let sheet = w["kinds"].as_array().unwrap().iter().find(|k| k["kind"] == "sheet").unwrap();
    assert_eq!(sheet["parents"], json!(["spreadsheet"]));
    // The narrow account says which scope its actions lack.
    let n = connection(ctx, &narrow);
    let append = n["actions"].as_array().unwrap().iter().find(|x| x["name"] == "append_row").unwrap();
    assert!(!append["missing_scopes"].as_array().unwrap().is_empty(), "{append}");
    assert!(connection(ctx, &bot)["actions"].as_array().unwrap().iter().any(|x| x["name"] == "post_message"));

    // Item names per top-level kind, from the listing (and its cache).
    let a = app.get("/v1/context?org=acme&user=u1&resources=true&limit=3").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let kinds = connection(&a.body, &work)["kinds"].clone();
    let sheets = kinds.as_array().unwrap().iter().find(|k| k["kind"] == "spreadsheet").unwrap();
    let names: Vec<&str> = sheets["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, [SPREADSHEETS[0].1, SPREADSHEETS[1].1, SPREADSHEETS[2].1]);
    assert_eq!(sheets["more"], true);
    assert!(
        kinds.as_array().unwrap().iter().find(|k| k["kind"] == "sheet").unwrap().get("items").is_none(),
        "child kinds take a parent"
    );
    let channels =
        connection(&a.body, &bot)["kinds"].as_array().unwrap().iter().find(|k| k["kind"] == "channel").unwrap().clone();
    assert_eq!(channels["items"][0], json!({"id": "C012AB3CD", "name": "general"}));

    // Markdown for a prompt: the same facts, compact.
    let res = app
        .client
        .get(app.url("/v1/context?org=acme&user=u1&resources=true&limit=3&format=markdown"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/markdown; charset=utf-8");
    let md = res.text().await.unwrap();
    assert!(md.contains("# Connections of user u1 in org acme"), "{md}");
    assert!(md.contains("`append_row`(spreadsheet*: spreadsheet, sheet*: sheet, values*"), "{md}");
    assert!(md.contains("\"Sales 2026\" (1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms)"), "{md}");
    assert!(md.contains(&format!("connection `{bot}`")), "{md}");
    assert!(!md.contains(slack::BOT_TOKEN) && !md.contains("access_token"), "no secret");

    // A budget: what does not fit is left out, and named.
    for (format, budget) in [("json", 4000), ("markdown", 1500), ("json", 600)] {
        let res = app
            .client
            .get(app.url(&format!("/v1/context?org=acme&user=u1&resources=true&format={format}&max_bytes={budget}")))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert!(text.len() <= budget, "{format}: {} bytes over a budget of {budget}", text.len());
        if format == "json" {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert!(!v["omitted"].as_array().unwrap().is_empty(), "{v}");
        } else {
            assert!(text.contains("left out to fit"), "{text}");
        }
    }

    // Another member sees the shared accounts only; a session sees its own view.
    let a = app.get("/v1/context?org=acme&user=u2").await;
    let ids: Vec<&str> = a.body["connections"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&work.as_str()) && !ids.contains(&bot.as_str()), "{ids:?}");
    let token = app.session("acme", "u1", "member").await;
    let a = app.call(reqwest::Method::GET, "/v1/context", &token, None).await;
    assert_eq!(a.body["connections"].as_array().unwrap().len(), 3);
    let a = app.call(reqwest::Method::GET, "/v1/context?org=other", &token, None).await;
    assert_eq!(a.status, 404, "{}", a.body);
    for (query, field) in [
        ("user=u1", "org"),
        ("org=acme&user=u1&limit=0", "limit"),
        ("org=acme&user=u1&max_bytes=10", "max_bytes"),
        ("org=acme&user=u1&format=yaml", "format"),
    ] {
        let a = app.get(&format!("/v1/context?{query}")).await;
        assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some(field)), "{query}: {}", a.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_needing_reauth_is_listed_as_unusable_with_why() {
    let idp = crate::support::idp::Idp::start(&[]).await;
    let id = idp.connection_id("alice").await;
    crate::support::consoles::make_needs_reauth(&idp, &id).await;
    let a = idp.app.get("/v1/context?org=acme&user=u1&resources=true").await;
    let c = connection(&a.body, &id);
    assert_eq!((c["usable"].as_bool(), c["status"].as_str()), (Some(false), Some("needs_reauth")));
    assert!(c["unusable_reason"].as_str().unwrap().contains("reconnect"), "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_resolves_names_suggests_the_closest_and_names_every_problem() {
    let (g, _s, app, [work, narrow, bot]) = workspace().await;
    let writes = g.values.lock().unwrap().len();
    let steps = json!([
        {"connection": work, "action": "append_row", "input": {"spreadsheet": "Sals 2026", "sheet": "Sheet1", "values": {"Name": "x"}}},
        {"connection": work, "action": "append_row", "input": {"spreadsheet": "BUDGET", "sheet": "Sheet1", "values": {"Name": "x"}}},
        {"connection": bot, "action": "post_message", "input": {"channel": "sales", "text": 5}},
        {"connection": narrow, "action": "append_row", "input": {"spreadsheet": "Sales 2026", "sheet": "Sheet1", "values": {"Name": "x"}}},
        {"connection": work, "action": "append_row", "input": {"spreadsheet": "Sales 2026", "sheet": "Q1 leads", "values": {"Email": "{{steps.2.output.ts}}"}}},
        {"connection": bot, "action": "post_message", "input": {"channel": "{{steps.9.output.channel}}", "text": "x"}},
        {"connection": work, "action": "append_rows", "input": {}},
        {"connection": "conn_nothing", "action": "post_message", "input": {}},
    ]);
    let a = app.post("/v1/workflows/validate", json!({"org": "acme", "user": "u1", "steps": steps})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v = &a.body;
    assert_eq!(v["ok"], false);
    let step = |i: usize| &v["steps"][i];
    let paths = |i: usize| -> Vec<String> {
        step(i)["problems"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap().to_owned()).collect()
    };
    // A misspelled spreadsheet: the closest names.
    assert_eq!(paths(0), ["/input/spreadsheet"]);
    assert_eq!(step(0)["problems"][0]["candidates"][0]["name"], "Sales 2026", "{}", step(0));
    // A name that is two spreadsheets: both, to choose from.
    assert_eq!(paths(1), ["/input/spreadsheet"]);
    assert_eq!(step(1)["problems"][0]["candidates"].as_array().unwrap().len(), 2);
    // A schema violation, with the channel still resolved.
    assert_eq!(paths(2), ["/input/text"]);
    assert_eq!(step(2)["resolved"]["channel"], json!({"id": "C07SALES1", "name": "sales"}));
    // The scope the narrow account lacks.
    assert_eq!(paths(3), ["/connection"]);
    assert!(step(3)["problems"][0]["message"].as_str().unwrap().contains("spreadsheets"), "{}", step(3));
    // Valid, with a value from an earlier step: the names resolved to ids.
    assert_eq!(step(4)["ok"], true, "{}", step(4));
    assert_eq!(step(4)["resolved"]["spreadsheet"]["id"], SPREADSHEETS[0].0);
    assert_eq!(step(4)["resolved"]["sheet"], json!({"id": "1846372910", "name": "Q1 leads"}));
    assert_eq!(step(4)["from_steps"], json!({"/input/values/Email": 2}));
    // A reference to a later step; an unknown action; an unknown connection.
    assert_eq!(paths(5), ["/input/channel"]);
    assert!(step(5)["problems"][0]["message"].as_str().unwrap().contains("steps 0 to 4"));
    assert_eq!(paths(6), ["/action"]);
    assert!(step(6)["problems"][0]["message"].as_str().unwrap().contains("append_row"), "the actions it has");
    assert_eq!(paths(7), ["/connection"]);
    // One line per problem, to give back to a model as it is.
    let problems: usize = (0..8).map(|i| paths(i).len()).sum();
    let feedback = v["feedback"].as_array().unwrap();
    assert_eq!(feedback.len(), problems);
    assert!(feedback[0].as_str().unwrap().starts_with("step 0 (append_row on "), "{}", feedback[0]);
    assert!(feedback[0].as_str().unwrap().contains("use one of: \"Sales 2026\""), "{}", feedback[0]);
    assert_eq!(g.values.lock().unwrap().len(), writes, "nothing was written");

    // A fully valid workflow.
    let steps = json!([
        {"connection": work, "action": "append_row", "input": {"spreadsheet": format!("https://docs.google.com/spreadsheets/d/{}/edit", SPREADSHEETS[0].0), "sheet": "Sheet1", "values": {"Name": "Ada"}}},
        {"connection": bot, "action": "post_message", "input": {"channel": "sales", "text": "Row added: {{steps.0.output.updated_range}}"}},
    ]);
    let a = app.post("/v1/workflows/validate", json!({"org": "acme", "user": "u1", "steps": steps})).await;
    assert_eq!((a.status, &a.body["ok"]), (200, &json!(true)), "{}", a.body);
    assert_eq!(a.body["steps"][0]["resolved"]["spreadsheet"]["name"], "Sales 2026");
    assert_eq!(a.body["steps"][1]["resolved"]["channel"]["id"], "C07SALES1");
    assert_eq!(a.body["feedback"], json!([]));

    // Wrong requests are named.
    let a = app.post("/v1/workflows/validate", json!({"org": "acme", "user": "u1", "steps": []})).await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("steps")), "{}", a.body);
    let a = app.post("/v1/workflows/validate", json!({"steps": [{"connection": work, "action": "append_row"}]})).await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("org")), "{}", a.body);
    // Another user cannot validate against a private connection.
    let a = app.post("/v1/workflows/validate", json!({"org": "acme", "user": "u2", "steps": [{"connection": bot, "action": "post_message", "input": {"channel": "sales", "text": "x"}}]})).await;
    assert_eq!(a.body["steps"][0]["problems"][0]["path"], "/connection", "{}", a.body);
}
