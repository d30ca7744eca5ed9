//! Catalog actions of GitHub (`create_issue`), Trello (`create_card`), Twilio (`send_sms`) and
//! OpenAI (`chat_completion`) against the fakes of their APIs (`support/apis`), which refuse any
//! request that is not the documented one. For each: the listing with its input schema, a run with
//! its inputs resolved and the exact request checked, every input error at once, the provider's
//! refusal (422 with its reason), a rate limit (429), a refused credential sent again once and, refused
//! twice, `needs_reauth`; and `Idempotency-Key` replays and conflicts.

use serde_json::{Value, json};

use crate::support::actions::{pointers, run};
use crate::support::apis::{Api, Trouble, github, openai, trello, twilio};
use crate::support::server::{Answer, TestApp};

/// The names of a 400's first detail's candidates.
fn candidates(a: &Answer) -> Vec<String> {
    a.body["error"]["details"][0]["candidates"]
        .as_array()
        .unwrap_or_else(|| panic!("no candidates: {}", a.body))
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The action as the connection's listing shows it.
async fn listed(app: &TestApp, conn: &str, name: &str) -> Value {
    let a = app.get(&format!("/v1/connections/{conn}/actions")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not listed: {}", a.body))
}

fn code(a: &Answer) -> (u16, Option<&str>) {
    (a.status, a.body["error"]["code"].as_str())
}

/// A refused credential is sent again once and works; a rate limit is a 429 (with the provider's
/// wait where it gives one) and gives the key back; refused twice, the connection needs
/// re-authorisation. `input` must already have run once, so its names are cached.
async fn refusals_and_limits(app: &TestApp, api: &Api, conn: &str, action: &str, input: Value, endpoint: &str) {
    let before = api.control.calls_with(endpoint);
    api.set(Trouble::Unauthorized(1));
    let a = run(app, conn, action, input.clone(), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(api.control.calls_with(endpoint), before + 2, "refused once, sent again with the same credentials");

    api.set(Trouble::RateLimited);
    let a = run(app, conn, action, input.clone(), Some("limited-1")).await;
    assert_eq!(code(&a), (429, Some("rate_limited")), "{}", a.body);
    api.set(Trouble::None);
    let a = run(app, conn, action, input.clone(), Some("limited-1")).await;
    assert_eq!(a.status, 200, "the key was given back: {}", a.body);

    api.set(Trouble::Unauthorized(2));
    let a = run(app, conn, action, input, None).await;
    assert_eq!(code(&a), (409, Some("needs_reauth")), "{}", a.body);
    assert_eq!(app.get(&format!("/v1/connections/{conn}")).await.body["status"], "needs_reauth");
}

/// The same key and input answer the first output without calling again; another input under the
/// key is a 409.
async fn replays_once(app: &TestApp, api: &Api, conn: &str, action: &str, input: Value, other: Value, endpoint: &str) {
    let first = run(app, conn, action, input.clone(), Some("order-1042")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let calls = api.control.calls_with(endpoint);
    let again = run(app, conn, action, input, Some("order-1042")).await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(api.control.calls_with(endpoint), calls, "the repeat does not reach the provider");
    let a = run(app, conn, action, other, Some("order-1042")).await;
    assert_eq!(code(&a), (409, Some("conflict")), "{}", a.body);
    assert_eq!(api.control.calls_with(endpoint), calls);
}

// ---- GitHub: create_issue ----

const ISSUES: &str = "POST /repos/octocat/Hello-World/issues";

async fn github_app() -> (Api, TestApp, String) {
    let api = github::start().await;
    let app = api.app().await;
    let conn = app
        .connect(json!({"provider": "github", "auth_mode": "api_key", "credentials": {"token": github::TOKEN}}))
        .await;
    (api, app, conn)
}

#[tokio::test]
async fn github_create_issue_by_repository_name_url_or_id() {
    let (api, app, conn) = github_app().await;
    let listed = listed(&app, &conn, "create_issue").await;
    assert_eq!(listed["input_schema"]["properties"]["repository"]["x-resource"], "repository");
    assert_eq!(listed["input_schema"]["required"], json!(["repository", "title"]));
    assert_eq!(listed["input_schema"]["properties"]["labels"]["items"]["type"], "string");
    assert_eq!((listed["retry_safe"].as_bool(), &listed["missing_scopes"]), (Some(false), &json!([])));
    assert_eq!(listed["output_schema"]["required"], json!(["number", "id", "html_url", "state"]));

    let input = |repository: &str| {
        json!({"repository": repository, "title": "Found a bug", "body": "I'm having a problem with this.",
               "labels": ["bug"], "assignees": ["octocat"]})
    };
    for given in ["octocat/Hello-World", "https://github.com/octocat/Hello-World", "Hello-World"] {
        let a = run(&app, &conn, "create_issue", input(given), None).await;
        assert_eq!(a.status, 200, "{given}: {}", a.body);
        assert_eq!(
            a.body["output"],
            json!({"number": 1347, "id": 1_296_269_001_347_u64, "html_url": "https://github.com/octocat/Hello-World/issues/1347", "state": "open"})
        );
        // The documented request: owner and name in the path, the parameters in the JSON body.
        assert_eq!(
            api.control.last_json(ISSUES),
            json!({"title": "Found a bug", "body": "I'm having a problem with this.", "labels": ["bug"], "assignees": ["octocat"]})
        );
    }
    // Only what was given goes out.
    let a = run(&app, &conn, "create_issue", json!({"repository": "acme/web", "title": "Docs typo"}), None).await;
    assert_eq!(a.body["output"]["html_url"], "https://github.com/acme/web/issues/1347", "{}", a.body);
    assert_eq!(api.control.last_json("POST /repos/acme/web/issues"), json!({"title": "Docs typo"}));
}

#[tokio::test]
async fn github_create_issue_input_errors_come_all_at_once() {
    let (api, app, conn) = github_app().await;
    let a = run(
        &app,
        &conn,
        "create_issue",
        json!({"repository": 42, "labels": "bug", "assignees": [""], "milestone": 3}),
        None,
    )
    .await;
    // The missing title, the unknown milestone, the number for a repository, a label that is not a
    // list, an empty login.
    assert_eq!(pointers(&a), ["/input", "/input", "/input/assignees/0", "/input/labels", "/input/repository"]);
    assert!(a.body.to_string().contains("milestone"), "{}", a.body);
    // A name two repositories have: the candidates, nothing created.
    let a = run(&app, &conn, "create_issue", json!({"repository": "api", "title": "x"}), None).await;
    assert_eq!(pointers(&a), ["/input/repository"]);
    assert_eq!(candidates(&a), ["api", "api"]);
    let a = run(&app, &conn, "create_issue", json!({"repository": "hello-wrld", "title": "x"}), None).await;
    assert_eq!(pointers(&a), ["/input/repository"]);
    assert_eq!(candidates(&a).first().map(String::as_str), Some("Hello-World"), "{}", a.body);
    assert_eq!(api.control.calls_with("/issues"), 0);
}

#[tokio::test]
async fn github_create_issue_refusals_rate_limits_and_retries() {
    let (api, app, conn) = github_app().await;
    // GitHub's own refusal: an assignee who cannot be assigned, 422 Validation Failed.
    let a = run(
        &app,
        &conn,
        "create_issue",
        json!({"repository": "octocat/Hello-World", "title": "x", "assignees": ["nobody"]}),
        None,
    )
    .await;
    assert_eq!(code(&a), (422, Some("provider_refused")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("Validation Failed"), "{}", a.body);
    let input = json!({"repository": "octocat/Hello-World", "title": "Found a bug"});
    assert_eq!(run(&app, &conn, "create_issue", input.clone(), None).await.status, 200);
    // Creating too quickly: the secondary rate limit's Retry-After passes through.
    api.set(Trouble::RateLimited);
    let a = run(&app, &conn, "create_issue", input.clone(), None).await;
    assert_eq!(
        (code(&a), a.headers.get("retry-after").and_then(|v| v.to_str().ok())),
        ((429, Some("rate_limited")), Some("60"))
    );
    // A token without the permission: which scope to connect with.
    api.set(Trouble::Forbidden);
    let a = run(&app, &conn, "create_issue", input.clone(), None).await;
    assert_eq!(code(&a), (403, Some("insufficient_scope")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("repo"), "{}", a.body);
    api.set(Trouble::None);
    refusals_and_limits(&app, &api, &conn, "create_issue", input, ISSUES).await;
}

#[tokio::test]
async fn github_create_issue_is_answered_once_per_idempotency_key() {
    let (api, app, conn) = github_app().await;
    let input = json!({"repository": "octocat/Hello-World", "title": "Found a bug"});
    let other = json!({"repository": "octocat/Hello-World", "title": "Found another bug"});
    replays_once(&app, &api, &conn, "create_issue", input, other, ISSUES).await;
}

// ---- Trello: create_card ----

const CARDS: &str = "POST /1/cards";

async fn trello_app() -> (Api, TestApp, String) {
    let api = trello::start().await;
    let app = api.app().await;
    let conn = app
        .connect(json!({"provider": "trello", "credentials": {"api_key": trello::KEY, "token": trello::TOKEN}}))
        .await;
    (api, app, conn)
}

#[tokio::test]
async fn trello_create_card_in_a_list_named_on_its_board() {
    let (api, app, conn) = trello_app().await;
    let listed = listed(&app, &conn, "create_card").await;
    let props = &listed["input_schema"]["properties"];
    assert_eq!(
        (props["board"]["x-resource"].as_str(), props["list"]["x-resource"].as_str()),
        (Some("board"), Some("list"))
    );
    assert_eq!(listed["input_schema"]["required"], json!(["board", "list", "name"]));
    assert_eq!(listed["retry_safe"], false);

    let input = json!({"board": "Roadmap", "list": "Doing", "name": "Ship v2", "desc": "Release notes *first*",
                       "due": "2026-12-01T17:00:00Z", "pos": "top"});
    let a = run(&app, &conn, "create_card", input, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["output"],
        json!({"id": "5abbe4b7ddc1b351ef9614c7", "name": "Ship v2", "url": "https://trello.com/c/Hx7vXK2b/42-ship-v2", "short_url": "https://trello.com/c/Hx7vXK2b"})
    );
    // The list's id and the card's fields in the JSON body; the key and token in the query (the fake
    // refuses any other query parameter).
    assert_eq!(
        api.control.last_json(CARDS),
        json!({"idList": "5abbe4b7ddc1b351ef9614a1", "name": "Ship v2", "desc": "Release notes *first*", "due": "2026-12-01T17:00:00Z", "pos": "top"})
    );
    // A board by its URL (Trello finds it by its shortLink), a list by its id, a numeric position.
    let a = run(
        &app,
        &conn,
        "create_card",
        json!({"board": "https://trello.com/b/nC8QJJoZ/roadmap", "list": "5abbe4b7ddc1b351ef9614a2", "name": "Done it", "pos": 65536.5, "due": "2026-12-01"}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        api.control.last_json(CARDS),
        json!({"idList": "5abbe4b7ddc1b351ef9614a2", "name": "Done it", "pos": 65536.5, "due": "2026-12-01"})
    );
}

#[tokio::test]
async fn trello_create_card_input_errors_come_all_at_once() {
    let (api, app, conn) = trello_app().await;
    let a = run(
        &app,
        &conn,
        "create_card",
        json!({"board": "Roadmap", "list": "", "pos": "middle", "due": "tomorrow", "color": "red"}),
        None,
    )
    .await;
    // The missing name, the unknown color, the empty list, the position and the date.
    assert_eq!(pointers(&a), ["/input", "/input", "/input/due", "/input/list", "/input/pos"]);
    // A list name that is not on the board: the closest lists.
    let a = run(&app, &conn, "create_card", json!({"board": "Roadmap", "list": "Doign", "name": "x"}), None).await;
    assert_eq!(pointers(&a), ["/input/list"]);
    assert_eq!(candidates(&a).first().map(String::as_str), Some("Doing"), "{}", a.body);
    // A list of another board is not a list of this one.
    let a = run(&app, &conn, "create_card", json!({"board": "Roadmap", "list": "Applied", "name": "x"}), None).await;
    assert_eq!(pointers(&a), ["/input/list"]);
    assert_eq!(api.control.calls_with(CARDS), 0);
}

#[tokio::test]
async fn trello_create_card_refusals_rate_limits_and_retries() {
    let (api, app, conn) = trello_app().await;
    // A list deleted since it was listed: Trello's plain-text refusal is the reason.
    let a = run(&app, &conn, "create_card", json!({"board": "Hiring", "list": "Withdrawn", "name": "Ada"}), None).await;
    assert_eq!(code(&a), (422, Some("provider_refused")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("invalid value for idList"), "{}", a.body);
    assert_eq!(api.control.last_json(CARDS)["idList"], trello::DELETED_LIST);
    let input = json!({"board": "Hiring", "list": "Applied", "name": "Ada Lovelace"});
    assert_eq!(run(&app, &conn, "create_card", input.clone(), None).await.status, 200);
    refusals_and_limits(&app, &api, &conn, "create_card", input, CARDS).await;
}

#[tokio::test]
async fn trello_create_card_is_answered_once_per_idempotency_key() {
    let (api, app, conn) = trello_app().await;
    let input = json!({"board": "Roadmap", "list": "To Do", "name": "Ship v2"});
    let other = json!({"board": "Roadmap", "list": "To Do", "name": "Ship v3"});
    replays_once(&app, &api, &conn, "create_card", input, other, CARDS).await;
}

// ---- Twilio: send_sms ----

fn messages() -> String {
    format!("POST /2010-04-01/Accounts/{}/Messages.json", twilio::SID)
}

async fn twilio_app() -> (Api, TestApp, String) {
    let api = twilio::start().await;
    let app = api.app().await;
    let conn = app
        .connect(json!({"provider": "twilio", "credentials": {"account_sid": twilio::SID, "auth_token": twilio::AUTH_TOKEN}}))
        .await;
    (api, app, conn)
}

fn sorted(mut form: Vec<(String, String)>) -> Vec<(String, String)> {
    form.sort();
    form
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    sorted(p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

#[tokio::test]
async fn twilio_send_sms_from_a_number_named_or_a_messaging_service() {
    let (api, app, conn) = twilio_app().await;
    let listed = listed(&app, &conn, "send_sms").await;
    assert_eq!(listed["input_schema"]["properties"]["from"]["x-resource"], "phone_number");
    assert_eq!(listed["input_schema"]["required"], json!(["to", "body"]));
    assert_eq!(
        listed["input_schema"]["anyOf"],
        json!([{"required": ["from"]}, {"required": ["messaging_service_sid"]}])
    );
    assert_eq!(listed["retry_safe"], false);

    for given in ["Alerts", "+14155550102"] {
        let a = run(
            &app,
            &conn,
            "send_sms",
            json!({"to": "+14155550199", "from": given, "body": "Your code is 1234"}),
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{given}: {}", a.body);
        assert_eq!(
            a.body["output"],
            json!({"sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "status": "queued", "to": "+14155550199", "from": "+14155550102"})
        );
        // The documented form body, each parameter once.
        assert_eq!(
            sorted(twilio::last_form(&api.control, &messages())),
            pairs(&[("To", "+14155550199"), ("From", "+14155550102"), ("Body", "Your code is 1234")])
        );
    }
    // Through a Messaging Service, which picks the sender.
    let service = "MG9752274e9e519418a7406176694466fa";
    let a = run(
        &app,
        &conn,
        "send_sms",
        json!({"to": "+442071838750", "messaging_service_sid": service, "body": "Hi"}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"]["status"], "accepted");
    assert_eq!(
        sorted(twilio::last_form(&api.control, &messages())),
        pairs(&[("To", "+442071838750"), ("MessagingServiceSid", service), ("Body", "Hi")])
    );
}

#[tokio::test]
async fn twilio_send_sms_input_errors_come_all_at_once() {
    let (api, app, conn) = twilio_app().await;
    let a = run(&app, &conn, "send_sms", json!({"to": "415-555-0199", "body": "", "colour": 1}), None).await;
    // Neither a from nor a Messaging Service, the unknown colour, the number not in E.164, the empty body.
    assert_eq!(pointers(&a), ["/input", "/input", "/input/body", "/input/to"]);
    let a = run(
        &app,
        &conn,
        "send_sms",
        json!({"to": "+14155550199", "messaging_service_sid": "PN123", "body": "x".repeat(1601)}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input/body", "/input/messaging_service_sid"]);
    // A sender that is not one of the account's numbers; two numbers share a friendly name.
    let a = run(&app, &conn, "send_sms", json!({"to": "+14155550199", "from": "Sales lines", "body": "x"}), None).await;
    assert_eq!(pointers(&a), ["/input/from"]);
    assert_eq!(candidates(&a).first().map(String::as_str), Some("Sales line"), "{}", a.body);
    let a =
        run(&app, &conn, "send_sms", json!({"to": "+14155550199", "from": "Support line", "body": "x"}), None).await;
    assert_eq!(pointers(&a), ["/input/from"]);
    assert_eq!(candidates(&a).len(), 2, "{}", a.body);
    assert_eq!(api.control.calls_with("Messages.json"), 0);
}

#[tokio::test]
async fn twilio_send_sms_refusals_rate_limits_and_retries() {
    let (api, app, conn) = twilio_app().await;
    // E.164 in form but too short for +1: Twilio's error 21211, its message the reason.
    let a = run(&app, &conn, "send_sms", json!({"to": "+1415555", "from": "Alerts", "body": "x"}), None).await;
    assert_eq!(code(&a), (422, Some("provider_refused")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("is not a valid phone number"), "{}", a.body);
    let input = json!({"to": "+14155550199", "from": "Alerts", "body": "Your code is 1234"});
    assert_eq!(run(&app, &conn, "send_sms", input.clone(), None).await.status, 200);
    refusals_and_limits(&app, &api, &conn, "send_sms", input, &messages()).await;
}

#[tokio::test]
async fn twilio_send_sms_is_answered_once_per_idempotency_key() {
    let (api, app, conn) = twilio_app().await;
    let input = json!({"to": "+14155550199", "from": "Alerts", "body": "Your code is 1234"});
    let other = json!({"to": "+14155550199", "from": "Alerts", "body": "Your code is 5678"});
    replays_once(&app, &api, &conn, "send_sms", input, other, &messages()).await;
}

// ---- OpenAI: chat_completion ----

const COMPLETIONS: &str = "POST /v1/chat/completions";

async fn openai_app() -> (Api, TestApp, String) {
    let api = openai::start().await;
    let app = api.app().await;
    let conn = app.connect(json!({"provider": "openai", "credentials": {"api_key": openai::KEY}})).await;
    (api, app, conn)
}

#[tokio::test]
async fn openai_chat_completion_with_the_model_named() {
    let (api, app, conn) = openai_app().await;
    let listed = listed(&app, &conn, "chat_completion").await;
    let props = &listed["input_schema"]["properties"];
    assert_eq!(props["model"]["x-resource"], "model");
    assert_eq!(
        props["messages"]["items"]["properties"]["role"]["enum"],
        json!(["developer", "system", "user", "assistant"])
    );
    assert_eq!(listed["input_schema"]["required"], json!(["model", "messages"]));
    assert_eq!(listed["retry_safe"], false, "each run is a new, billed generation");

    let messages =
        json!([{"role": "developer", "content": "Answer in one word."}, {"role": "user", "content": "Greet me"}]);
    let a = run(
        &app,
        &conn,
        "chat_completion",
        json!({"model": "GPT-4o", "messages": messages, "temperature": 0.2, "max_completion_tokens": 50}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["output"],
        json!({"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "content": "You said: Greet me", "finish_reason": "stop",
               "usage": {"prompt_tokens": 13, "completion_tokens": 5, "total_tokens": 18}})
    );
    // The model's id as listed, the messages as given, the numbers as numbers.
    assert_eq!(
        api.control.last_json(COMPLETIONS),
        json!({"model": "gpt-4o", "messages": messages, "temperature": 0.2, "max_completion_tokens": 50})
    );
    // Cut short by the cap: finish_reason says so.
    let a = run(
        &app,
        &conn,
        "chat_completion",
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Tell me a long story"}], "max_completion_tokens": 2}),
        None,
    )
    .await;
    assert_eq!(
        (a.body["output"]["finish_reason"].as_str(), a.body["output"]["content"].as_str()),
        (Some("length"), Some("You said")),
        "{}",
        a.body
    );
    assert_eq!(
        api.control.last_json(COMPLETIONS),
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Tell me a long story"}], "max_completion_tokens": 2})
    );
}

#[tokio::test]
async fn openai_chat_completion_input_errors_come_all_at_once() {
    let (api, app, conn) = openai_app().await;
    let a = run(
        &app,
        &conn,
        "chat_completion",
        json!({"messages": [{"role": "robot", "content": 1}], "temperature": 3, "max_completion_tokens": 0, "top_p": 1}),
        None,
    )
    .await;
    // The missing model, the unknown top_p, the message's role and content, the two numbers.
    assert_eq!(
        pointers(&a),
        [
            "/input",
            "/input",
            "/input/max_completion_tokens",
            "/input/messages/0/content",
            "/input/messages/0/role",
            "/input/temperature"
        ]
    );
    let a = run(&app, &conn, "chat_completion", json!({"model": "gpt-4o", "messages": []}), None).await;
    assert_eq!(pointers(&a), ["/input/messages"]);
    let a = run(
        &app,
        &conn,
        "chat_completion",
        json!({"model": "gpt-4-o", "messages": [{"role": "user", "content": "hi"}]}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input/model"]);
    assert_eq!(candidates(&a).first().map(String::as_str), Some("gpt-4o"), "{}", a.body);
    assert_eq!(api.control.calls_with(COMPLETIONS), 0);
}

#[tokio::test]
async fn openai_chat_completion_refusals_rate_limits_and_retries() {
    let (api, app, conn) = openai_app().await;
    // More than the model's context: OpenAI's invalid_request_error, its message the reason.
    let long = "word ".repeat(1000);
    let a = run(
        &app,
        &conn,
        "chat_completion",
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": long}]}),
        None,
    )
    .await;
    assert_eq!(code(&a), (422, Some("provider_refused")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("maximum context length"), "{}", a.body);
    let input = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Greet me"}]});
    assert_eq!(run(&app, &conn, "chat_completion", input.clone(), None).await.status, 200);
    // OpenAI's Retry-After passes through.
    api.set(Trouble::RateLimited);
    let a = run(&app, &conn, "chat_completion", input.clone(), None).await;
    assert_eq!(
        (code(&a), a.headers.get("retry-after").and_then(|v| v.to_str().ok())),
        ((429, Some("rate_limited")), Some("20"))
    );
    api.set(Trouble::None);
    refusals_and_limits(&app, &api, &conn, "chat_completion", input, COMPLETIONS).await;
}

#[tokio::test]
async fn openai_chat_completion_is_answered_once_per_idempotency_key_outages_included() {
    let (api, app, conn) = openai_app().await;
    let input = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Greet me"}]});
    let other = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Greet me again"}]});
    replays_once(&app, &api, &conn, "chat_completion", input.clone(), other, COMPLETIONS).await;
    // Not retry-safe: an outage is sent once, and its answer is kept for the key, since OpenAI may
    // have generated (and billed) it.
    let calls = api.control.calls_with(COMPLETIONS);
    api.set(Trouble::Down);
    let a = run(&app, &conn, "chat_completion", input.clone(), Some("order-1043")).await;
    assert_eq!(code(&a), (502, Some("provider_error")), "{}", a.body);
    assert_eq!(api.control.calls_with(COMPLETIONS), calls + 1, "not sent again");
    api.set(Trouble::None);
    let a = run(&app, &conn, "chat_completion", input, Some("order-1043")).await;
    assert_eq!(code(&a), (502, Some("provider_error")), "{}", a.body);
    assert_eq!(api.control.calls_with(COMPLETIONS), calls + 1, "the kept answer, not a second generation");
}
