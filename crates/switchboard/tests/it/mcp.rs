//! The MCP server at `/mcp`, spoken to by the real SDKs' clients (tests/peers/mcp_client.mjs with
//! `@modelcontextprotocol/sdk`, tests/peers/mcp_client.py with PyPI `mcp`) and, for the transport's
//! edges, by plain HTTP: tools per connection of the caller, calls as action runs against the
//! Google and Slack fakes, errors as `isError` results, a connect link for a provider not
//! connected, the token and Origin checks, sessions bound to their user and ended by DELETE.

use serde_json::{Value, json};

use crate::support::apis::Trouble;
use crate::support::google::Google;
use crate::support::peers::repo_path;
use crate::support::server::TestApp;

const ALLOWED_ORIGIN: &str = "https://agent.example";

/// The shared Google and Slack workspace, with MCP allowed from [`ALLOWED_ORIGIN`] and one more.
async fn workspace() -> (Google, crate::support::apis::Api, TestApp, [String; 3]) {
    let origins = format!("{ALLOWED_ORIGIN}, http://localhost:3000");
    crate::support::workspace::google_and_slack(&[("mcp_allowed_origins", &origins)]).await
}

/// Runs a client script; its JSON answer and whether it exited 0.
async fn client(program: &str, script: &str, app: &TestApp, args: &[String]) -> (bool, Value) {
    let path = repo_path(script);
    assert!(path.exists(), "{} is missing", path.display());
    let out = tokio::process::Command::new(program)
        .arg(&path)
        .arg("--url")
        .arg(app.url("/mcp"))
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program} {script} did not start: {e} (run ./scripts/test.sh)"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(line).unwrap_or_else(|_| {
        panic!("{script} printed no JSON: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr))
    });
    (out.status.success(), v)
}

async fn node(app: &TestApp, args: &[String]) -> (bool, Value) {
    client("node", "tests/peers/mcp_client.mjs", app, args).await
}

async fn python(app: &TestApp, args: &[String]) -> (bool, Value) {
    let py = repo_path("tests/peers/.venv/bin/python");
    assert!(py.exists(), "the Python test peers are not installed: run ./scripts/test.sh");
    client(&py.display().to_string(), "tests/peers/mcp_client.py", app, args).await
}

fn token_args(token: &str) -> Vec<String> {
    vec!["--token".into(), token.into()]
}

fn call(name: &str, arguments: Value) -> [String; 2] {
    ["--call".into(), json!({"name": name, "arguments": arguments}).to_string()]
}

fn names(out: &Value) -> Vec<String> {
    out["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
}

fn tool<'a>(out: &'a Value, name: &str) -> &'a Value {
    out["tools"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no tool {name}"))
}

fn valid_name(n: &str) -> bool {
    (1..=128).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn text_of(result: &Value) -> String {
    result["content"].as_array().unwrap().iter().filter_map(|c| c["text"].as_str()).collect::<Vec<_>>().join("\n")
}

fn append_input(key: &str) -> Value {
    json!({"spreadsheet": "Sales 2026", "sheet": "Sheet1", "values": {"Name": "Ada Lovelace", "Amount": 1200}, "idempotency_key": key})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_lists_the_users_tools_and_runs_actions() {
    let (g, s, app, [work, narrow, bot]) = workspace().await;
    let token = app.session("acme", "u1", "member").await;
    let mut args = token_args(&token);
    args.extend(call("slack__post_message", json!({"channel": "sales", "text": "Deal closed: *Acme*"})));
    args.extend(call("google_sheets__append_row", append_input("row-1")));
    args.extend(call("google_sheets__append_row", append_input("row-1")));
    args.extend(call("slack__post_message", json!({"channel": "no-such-channel", "text": 5})));
    args.extend(call("resolve", json!({"connection": "slack", "kind": "channel", "name": "Sales"})));
    args.extend(call("list_resources", json!({"connection": work, "kind": "spreadsheet", "limit": 2})));
    args.extend(call("connect", json!({"provider": "github"})));
    args.extend(call("github__create_issue", json!({"title": "x"})));
    let (ok, out) = node(&app, &args).await;
    assert!(ok, "{out}");
    assert_eq!(out["protocolVersion"], "2025-11-25", "{out}");
    assert!(out["sessionId"].as_str().is_some_and(|s| !s.is_empty()), "a session id is issued: {out}");
    assert!(out["pages"].as_u64().unwrap() >= 2, "tools/list is paged: {}", out["pages"]);

    // One tool per action of each connection; a second Google account's tools are told apart,
    // and every description names its account.
    let names = names(&out);
    assert!(names.iter().all(|n| valid_name(n)), "{names:?}");
    let unique: std::collections::BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "names are unique: {names:?}");
    for n in [
        "google_sheets__append_row",
        "google_sheets_2__append_row",
        "slack__post_message",
        "list_resources",
        "resolve",
        "connect",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    let first = tool(&out, "google_sheets__append_row");
    assert!(
        first["description"].as_str().unwrap().contains("\"Work\"")
            && first["description"].as_str().unwrap().contains(&work)
    );
    let second = tool(&out, "google_sheets_2__append_row")["description"].as_str().unwrap().to_owned();
    assert!(second.contains("\"Read-only\"") && second.contains(&narrow), "{second}");
    assert!(second.contains("lacks a scope"), "{second}");
    assert!(tool(&out, "slack__post_message")["description"].as_str().unwrap().contains(&bot));
    let schema = &tool(&out, "slack__post_message")["inputSchema"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["channel", "text"]));
    assert_eq!(schema["properties"]["idempotency_key"]["type"], "string");

    let calls = out["calls"].as_array().unwrap();
    // Slack: the channel resolved by name, the message posted.
    assert_ne!(calls[0]["isError"], true, "{}", calls[0]);
    assert_eq!(calls[0]["structuredContent"]["output"]["channel"], "C07SALES1", "{}", calls[0]);
    assert_eq!(s.control.last_json("chat.postMessage"), json!({"channel": "C07SALES1", "text": "Deal closed: *Acme*"}));
    // Sheets: a row appended once; the repeat under the same idempotency key is the first answer.
    assert_ne!(calls[1]["isError"], true, "{}", calls[1]);
    assert_eq!(calls[1]["structuredContent"]["output"]["updated_rows"], 1, "{}", calls[1]);
    assert_eq!(calls[2]["structuredContent"]["replayed"], true, "{}", calls[2]);
    assert_eq!(calls[2]["structuredContent"]["output"], calls[1]["structuredContent"]["output"]);
    let appends = g.values.lock().unwrap().iter().filter(|c| c.method == "POST").count();
    assert_eq!(appends, 1, "the repeat did not run again");
    // Bad input: an error result with each problem at its JSON pointer.
    assert_eq!(calls[3]["isError"], true, "{}", calls[3]);
    let err = &calls[3]["structuredContent"]["error"];
    assert_eq!(err["code"], "invalid_request", "{err}");
    let paths: Vec<&str> = err["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"/input/text"), "{err}");
    assert!(text_of(&calls[3]).contains("/input/text"), "{}", text_of(&calls[3]));
    // Listing and resolving, by tool prefix or connection id.
    assert_eq!(calls[4]["structuredContent"]["status"], "found", "{}", calls[4]);
    assert_eq!(calls[4]["structuredContent"]["items"][0]["id"], "C07SALES1");
    assert_eq!(calls[5]["structuredContent"]["items"].as_array().unwrap().len(), 2, "{}", calls[5]);
    assert!(calls[5]["structuredContent"]["next_cursor"].is_string(), "{}", calls[5]);
    // A provider the user has not connected: a link for the user.
    let link = calls[6]["structuredContent"]["connect_url"].as_str().unwrap();
    assert!(link.contains("/ui/connect/") && link.ends_with("provider=github"), "{link}");
    assert_eq!(calls[7]["isError"], true, "{}", calls[7]);
    let err = &calls[7]["structuredContent"]["error"];
    assert!(err["connect_url"].as_str().unwrap().contains("/ui/connect/"), "{err}");
    assert!(text_of(&calls[7]).contains("has not connected a GitHub account"), "{}", text_of(&calls[7]));

    // Each call was an action run: audited like the HTTP route's.
    let audit = app.get(&format!("/v1/audit?org=acme&action=connection.run_action&connection={bot}")).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert_eq!(
        audit.body["items"].as_array().unwrap().len(),
        1,
        "the post (bad input is refused before any run): {}",
        audit.body
    );

    // The provider refuses: an error result with its reason.
    s.control.set(Trouble::Forbidden);
    let mut args = token_args(&token);
    args.extend(call("slack__post_message", json!({"channel": "C07SALES1", "text": "again"})));
    let (ok, out) = node(&app, &args).await;
    assert!(ok, "{out}");
    let refused = &out["calls"][0];
    assert_eq!(refused["isError"], true, "{refused}");
    assert_eq!(refused["structuredContent"]["error"]["code"], "insufficient_scope", "{refused}");
    assert!(!text_of(refused).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_lists_and_calls_the_same_tools() {
    let (g, s, app, _) = workspace().await;
    let token = app.session("acme", "u1", "member").await;
    let mut args = token_args(&token);
    args.extend(["--origin".into(), ALLOWED_ORIGIN.into()]);
    args.extend(call("slack__post_message", json!({"channel": "general", "text": "from Python"})));
    args.extend(call("google_sheets__append_row", append_input("py-1")));
    args.extend(call("google_sheets__append_row", json!({"spreadsheet": "Sales 2026"})));
    let (ok, out) = python(&app, &args).await;
    assert!(ok, "{out}");
    assert_eq!(out["protocolVersion"], "2025-11-25", "{out}");
    assert!(out["pages"].as_u64().unwrap() >= 2);
    let names = names(&out);
    assert!(
        names.contains(&"google_sheets_2__append_row".to_owned()) && names.contains(&"slack__post_message".to_owned())
    );
    let calls = out["calls"].as_array().unwrap();
    assert_ne!(calls[0]["isError"], true, "{}", calls[0]);
    assert_eq!(calls[0]["structuredContent"]["output"]["channel"], "C012AB3CD");
    assert_eq!(s.control.last_json("chat.postMessage")["text"], "from Python");
    assert_ne!(calls[1]["isError"], true, "{}", calls[1]);
    assert_eq!(g.values.lock().unwrap().iter().filter(|c| c.method == "POST").count(), 1);
    assert_eq!(calls[2]["isError"], true, "{}", calls[2]);
    assert!(text_of(&calls[2]).contains("\"sheet\" is a required property"), "{}", text_of(&calls[2]));
    assert_eq!(calls[2]["structuredContent"]["error"]["details"].as_array().unwrap().len(), 2, "{}", calls[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_a_secret_key_or_a_foreign_origin_is_refused() {
    let (_g, _s, app, _) = workspace().await;
    let token = app.session("acme", "u1", "member").await;

    // The SDK's client without a token: 401.
    let (ok, out) = node(&app, &[]).await;
    assert!(!ok, "{out}");
    assert_eq!(out["error"]["code"], 401, "{out}");
    // From an origin not listed: 403, with the token.
    let mut args = token_args(&token);
    args.extend(["--origin".into(), "https://evil.example".into()]);
    let (ok, out) = node(&app, &args).await;
    assert!(!ok, "{out}");
    assert_eq!(out["error"]["code"], 403, "{out}");
    // A listed origin passes.
    let mut args = token_args(&token);
    args.extend(["--origin".into(), "http://localhost:3000".into()]);
    let (ok, out) = node(&app, &args).await;
    assert!(ok, "{out}");

    // A listed origin's browser pages get CORS, preflight included.
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/mcp"))
        .header("origin", ALLOWED_ORIGIN)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type, mcp-session-id")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["access-control-allow-origin"], ALLOWED_ORIGIN);
    assert!(res.headers()["access-control-allow-headers"].to_str().unwrap().contains("Mcp-Session-Id"));
    let res = post(&app, Some(&token), None, &initialize_body("2025-11-25"), Some(ALLOWED_ORIGIN)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], ALLOWED_ORIGIN);
    assert!(res.headers()["access-control-expose-headers"].to_str().unwrap().contains("Mcp-Session-Id"));
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/mcp"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let init = initialize_body("2025-11-25");
    let res = post(&app, None, None, &init, None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    // A secret key acts for no one user.
    let res = post(&app, Some(&app.key), None, &init, None).await;
    assert_eq!(res.status(), 403);
    let res = post(&app, Some(&token), None, &init, Some("null")).await;
    assert_eq!(res.status(), 403);
    let res = post(&app, Some("st_not-a-session"), None, &init, None).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sees_only_their_own_and_shared_connections() {
    let (_g, s, app, [_, _, bot]) = workspace().await;
    let token = app.session("acme", "u2", "member").await;
    let mut args = token_args(&token);
    args.extend(call("slack__post_message", json!({"channel": "sales", "text": "not mine"})));
    args.extend(call("list_resources", json!({"connection": bot, "kind": "channel"})));
    let posts = s.control.calls_with("chat.postMessage");
    let (ok, out) = node(&app, &args).await;
    assert!(ok, "{out}");
    let names = names(&out);
    assert!(names.contains(&"google_sheets__append_row".to_owned()), "shared accounts are listed: {names:?}");
    assert!(!names.iter().any(|n| n.starts_with("slack")), "u1's private bot is not: {names:?}");
    let text = out["tools"].to_string();
    assert!(!text.contains(&bot), "nor named");
    let calls = out["calls"].as_array().unwrap();
    assert_eq!(calls[0]["isError"], true, "{}", calls[0]);
    assert!(calls[0]["structuredContent"]["error"]["connect_url"].is_string(), "{}", calls[0]);
    assert_eq!(calls[1]["isError"], true, "{}", calls[1]);
    assert_eq!(calls[1]["structuredContent"]["error"]["code"], "not_found", "{}", calls[1]);
    assert_eq!(s.control.calls_with("chat.postMessage"), posts, "nothing was posted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_issued_bound_to_their_user_and_ended_by_delete() {
    let (_g, _s, app, _) = workspace().await;
    let token = app.session("acme", "u1", "member").await;

    // The SDK ends its session with DELETE; the id is then unknown.
    let mut args = token_args(&token);
    args.push("--delete".into());
    let (ok, out) = node(&app, &args).await;
    assert!(ok, "{out}");
    assert_eq!(out["afterDeleteStatus"], 404, "{out}");

    // An older client negotiates 2025-06-18; an unknown revision is answered with ours.
    let res = post(&app, Some(&token), None, &initialize_body("2025-06-18"), None).await;
    assert_eq!(res.status(), 200);
    let session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let answer = rpc_answer(res).await;
    assert_eq!(answer["result"]["protocolVersion"], "2025-06-18", "{answer}");
    assert_eq!(answer["result"]["serverInfo"]["name"], "switchboard");
    let res = post(&app, Some(&token), None, &initialize_body("2024-01-01"), None).await;
    assert_eq!(rpc_answer(res).await["result"]["protocolVersion"], "2025-11-25");

    // The session is honoured, and for its own user only.
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let res = post(&app, Some(&token), Some(&session), &initialized, None).await;
    assert!(res.status().is_success(), "{}", res.status());
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
    let res = post(&app, Some(&token), Some(&session), &list, None).await;
    assert_eq!(res.status(), 200);
    let page = rpc_answer(res).await;
    assert!(page["result"]["tools"].as_array().is_some_and(|t| !t.is_empty()), "{page}");
    let other = app.session("acme", "u2", "member").await;
    let res = post(&app, Some(&other), Some(&session), &list, None).await;
    let answer = rpc_answer(res).await;
    assert!(answer["error"]["message"].as_str().unwrap().contains("another user"), "{answer}");

    // DELETE ends it.
    let res = app
        .client
        .delete(app.url("/mcp"))
        .bearer_auth(&token)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let res = post(&app, Some(&token), Some(&session), &list, None).await;
    assert_eq!(res.status(), 404);
}

/// Every tool name of the session, page by page (bounded).
async fn all_tool_names(app: &TestApp, token: &str, session: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0..50 {
        let params = cursor.as_ref().map_or_else(|| json!({}), |c| json!({"cursor": c}));
        let list = json!({"jsonrpc": "2.0", "id": 100 + page, "method": "tools/list", "params": params});
        let answer = rpc_answer(post(app, Some(token), Some(session), &list, None).await).await;
        for t in answer["result"]["tools"].as_array().unwrap() {
            names.push(t["name"].as_str().unwrap().to_owned());
        }
        match answer["result"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return names,
        }
    }
    panic!("more than 50 pages of tools");
}

#[tokio::test]
async fn tools_follow_connections_made_and_deleted_on_the_instance_at_once() {
    let (_google, _api, app, [_, _, bot]) = workspace().await;
    let token = app.session("acme", "u1", "admin").await;
    let res = post(&app, Some(&token), None, &initialize_body("2025-11-25"), None).await;
    let session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert!(post(&app, Some(&token), Some(&session), &initialized, None).await.status().is_success());

    let before = all_tool_names(&app, &token, &session).await;
    assert!(before.iter().any(|n| n.starts_with("slack__")), "{before:?}");
    // Listed again within the cache time, the same tools.
    assert_eq!(all_tool_names(&app, &token, &session).await, before);

    assert_eq!(app.delete(&format!("/v1/connections/{bot}")).await.status, 204);
    let after_delete = all_tool_names(&app, &token, &session).await;
    assert!(!after_delete.iter().any(|n| n.starts_with("slack__")), "{after_delete:?}");
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "slack__post_message", "arguments": {"channel": "C1", "text": "hi"}}});
    let answer = rpc_answer(post(&app, Some(&token), Some(&session), &call, None).await).await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");

    app.connect(json!({"provider": "webhook", "credentials": {"webhook_url": "https://hooks.acme.example/in/4f1c"}}))
        .await;
    let after_create = all_tool_names(&app, &token, &session).await;
    assert!(after_create.iter().any(|n| n == "webhook__send"), "{after_create:?}");
}

fn initialize_body(version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
}

async fn post(
    app: &TestApp,
    token: Option<&str>,
    session: Option<&str>,
    body: &Value,
    origin: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(s) = session {
        req = req.header("mcp-session-id", s).header("mcp-protocol-version", "2025-06-18");
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.unwrap()
}

/// The JSON-RPC answer of a response, as JSON or as the first `data:` event of its stream.
async fn rpc_answer(res: reqwest::Response) -> Value {
    let json = res.headers().get("content-type").is_some_and(|c| c.to_str().unwrap().starts_with("application/json"));
    if json {
        return res.json().await.unwrap();
    }
    let mut res = res;
    let mut text = String::new();
    while let Some(chunk) = res.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(v) = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|v| v.get("id").is_some())
        {
            return v;
        }
    }
    panic!("no answer in {text}");
}
