//! Every seed provider's resource kinds, each against a fake of its provider's list endpoints
//! (`support/apis`): a listing of each kind, paging across three pages or more, search, resolve
//! (chains, ids, URLs, ambiguous, not found with suggestions), and what every listing shares — the
//! cache, one refused call refreshed and retried, a rate limit or an outage serving the last good
//! page, a missing scope, tenancy, and a second refusal meaning `needs_reauth`. Google's kinds are
//! in `resources.rs`.

use serde_json::{Value, json};

use crate::support::apis::{
    Api, Trouble, airtable, connect_oauth, discord, github, meta, microsoft, notion, openai, shopify, slack, trello,
    twilio,
};
use crate::support::server::{Answer, TestApp};
use crate::support::{TestDb, spawn_app_with};

fn names(a: &Answer) -> Vec<String> {
    a.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {}", a.body))
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

/// One connection's listings and resolves.
struct Conn<'a> {
    app: &'a TestApp,
    id: String,
}

impl Conn<'_> {
    async fn list(&self, kind: &str, query: &str) -> Answer {
        let a = self.app.get(&format!("/v1/connections/{}/resources/{kind}?{query}", self.id)).await;
        assert_eq!(a.status, 200, "{kind}?{query}: {}", a.body);
        a
    }

    async fn names(&self, kind: &str, query: &str) -> Vec<String> {
        names(&self.list(kind, query).await)
    }

    /// Every page at `limit` per page: the names in order, and how many pages it took.
    async fn all_pages(&self, kind: &str, query: &str, limit: usize) -> (Vec<String>, usize) {
        let (mut all, mut cursor) = (Vec::new(), String::new());
        for page in 1..=20 {
            let a = self.list(kind, &format!("{query}&limit={limit}&cursor={}", urlencode(&cursor))).await;
            let got = names(&a);
            assert!(got.len() <= limit, "page {page} has {} items, limit {limit}: {}", got.len(), a.body);
            all.extend(got);
            match a.body["next_cursor"].as_str() {
                Some(c) => cursor = c.to_owned(),
                None => return (all, page),
            }
        }
        panic!("{kind}: more than 20 pages")
    }

    async fn resolve(&self, body: Value) -> Answer {
        let a = self.app.post(&format!("/v1/connections/{}/resolve", self.id), body.clone()).await;
        assert_eq!(a.status, 200, "{body}: {}", a.body);
        a
    }

    /// Resolves one name; the item's id, or panics with the answer.
    async fn id_of(&self, kind: &str, name: &str, parents: Value) -> String {
        let a = self.resolve(json!({"kind": kind, "name": name, "parents": parents})).await;
        assert_eq!(a.body["status"], "found", "{kind} {name:?}: {}", a.body);
        a.body["items"][0]["id"].as_str().unwrap().to_owned()
    }

    async fn status_of(&self, kind: &str, name: &str, parents: Value) -> (String, Vec<String>) {
        let a = self.resolve(json!({"kind": kind, "name": name, "parents": parents})).await;
        let status = a.body["status"].as_str().unwrap().to_owned();
        let key = if status == "ambiguous" { "candidates" } else { "suggestions" };
        let others = a.body[key].as_array().map(|v| v.iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect());
        (status, others.unwrap_or_default())
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What the last step of [`shared_behaviour`] expects of one refused call.
#[derive(PartialEq)]
enum Refused {
    /// Refreshed (or, for a key, sent again) and retried: the listing works.
    Retried,
    /// Nothing to refresh with (a token the provider does not refresh): re-authorise.
    NeedsReauth,
}

/// What every listing shares, on one kind (`query` holds its parents): a second listing comes from
/// the cache and `fresh` does not; a rate limit or an outage serves the cached page marked stale
/// and is an error where nothing is cached; a missing scope is a 403 naming `scope` where the kind
/// has scopes; another org, or another member once the connection is private, cannot see it; one
/// refusal is retried as `refused` says, and refused again after that the connection needs
/// re-authorisation. It ends with the connection in `needs_reauth`.
async fn shared_behaviour(
    app: &TestApp,
    api: &Api,
    conn: &str,
    kind: &str,
    query: &str,
    scope: Option<&str>,
    refused: Refused,
) {
    let path = format!("/v1/connections/{conn}/resources/{kind}?{query}");
    let good = app.get(&path).await;
    assert_eq!(good.status, 200, "{}", good.body);
    let calls = api.calls();
    assert_eq!(names(&app.get(&path).await), names(&good));
    assert_eq!(api.calls(), calls, "{kind}: the second listing comes from the cache");
    assert_eq!(app.get(&format!("{path}&fresh=true")).await.status, 200);
    assert_eq!(api.calls(), calls + 1, "{kind}: fresh asks the provider");

    api.set(Trouble::RateLimited);
    let a = app.get(&format!("{path}&fresh=true")).await;
    assert_eq!((a.status, a.body["stale"].as_bool()), (200, Some(true)), "{kind}: {}", a.body);
    assert_eq!(names(&a), names(&good));
    assert!(!a.body["provider_error"].as_str().unwrap_or_default().is_empty(), "{}", a.body);
    let a = app.get(&format!("{path}&limit=9")).await;
    assert_eq!((a.status, a.code()), (429, "rate_limited"), "{kind}: {}", a.body);

    api.set(Trouble::Down);
    assert_eq!(app.get(&format!("{path}&fresh=true")).await.body["stale"], true);
    let a = app.get(&format!("{path}&limit=8")).await;
    assert_eq!((a.status, a.code()), (502, "provider_error"), "{kind}: {}", a.body);

    if let Some(scope) = scope {
        api.set(Trouble::Forbidden);
        let a = app.get(&format!("{path}&limit=7")).await;
        assert_eq!((a.status, a.code()), (403, "insufficient_scope"), "{kind}: {}", a.body);
        assert!(a.body["error"]["message"].as_str().unwrap().contains(scope), "{kind}: {}", a.body);
    }
    api.set(Trouble::None);

    let foreign = app.session("globex", "g1", "admin").await;
    let a = app.call(reqwest::Method::GET, &path, &foreign, None).await;
    assert_eq!((a.status, a.code()), (404, "not_found"), "{kind}: another org's connection: {}", a.body);
    let owner = app.session("acme", "u1", "member").await;
    let a = app
        .call(reqwest::Method::PATCH, &format!("/v1/connections/{conn}"), &owner, Some(json!({"shared": false})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let stranger = app.session("acme", "u2", "member").await;
    let a = app.call(reqwest::Method::GET, &path, &stranger, None).await;
    assert_eq!(a.status, 404, "{kind}: another member's private connection: {}", a.body);
    assert_eq!(app.call(reqwest::Method::GET, &path, &owner, None).await.status, 200, "its owner still lists it");

    let calls = api.calls();
    api.set(Trouble::Unauthorized(1));
    let a = app.get(&format!("{path}&fresh=true")).await;
    if refused == Refused::Retried {
        assert_eq!((a.status, names(&a)), (200, names(&good)), "{kind}: refused once, retried: {}", a.body);
        assert_eq!(api.calls(), calls + 2, "{kind}: the refused call and its retry");
        api.set(Trouble::Unauthorized(u32::MAX));
        let a = app.get(&format!("{path}&fresh=true")).await;
        assert_eq!((a.status, a.code()), (409, "needs_reauth"), "{kind}: {}", a.body);
    } else {
        assert_eq!((a.status, a.code()), (409, "needs_reauth"), "{kind}: {}", a.body);
    }
    assert_eq!(app.get(&format!("/v1/connections/{conn}")).await.body["status"], "needs_reauth");
    let calls = api.calls();
    assert_eq!(app.get(&format!("{path}&fresh=true")).await.status, 409);
    assert_eq!(api.calls(), calls, "{kind}: no call reaches the provider until it is connected again");
    api.set(Trouble::None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_channels_and_users() {
    let api = slack::start().await;
    let app = api.app().await;
    let id = app
        .connect(json!({"provider": "slack", "auth_mode": "bot_token", "credentials": {"bot_token": slack::BOT_TOKEN}}))
        .await;
    let c = Conn { app: &app, id: id.clone() };

    let (all, pages) = c.all_pages("channel", "", 2).await;
    assert_eq!(all, ["general", "random", "sales", "sales-emea", "support", "engineering", "leadership"]);
    assert_eq!((pages, api.control.calls_with("cursor=")), (4, 3), "each next page asked with the cursor");
    let first = c.list("channel", "limit=4").await;
    let emea = &first.body["items"][3];
    assert_eq!((emea["is_private"].as_bool(), emea["topic"].as_str()), (Some(true), Some("All about sales-emea")));
    assert_eq!(c.names("channel", "q=SALES").await, ["sales", "sales-emea"], "filtered here: Slack cannot search");

    let users = c.list("user", "").await;
    assert_eq!(names(&users), ["Ada Lovelace", "Alex Kim", "Alex Kim", "Deploy Bot"]);
    assert_eq!(
        (users.body["items"][0]["email"].as_str(), users.body["items"][3]["is_bot"].as_bool()),
        (Some("ada@acme.example"), Some(true))
    );
    assert_eq!(c.all_pages("user", "", 1).await.1, 4);

    assert_eq!(c.id_of("channel", "Sales", json!({})).await, "C07SALES1");
    assert_eq!(
        c.id_of("channel", "https://acme.slack.com/archives/G07SALESE/p1700000000000100", json!({})).await,
        "G07SALESE"
    );
    assert_eq!(c.id_of("channel", "C08SUPPRT", json!({})).await, "C08SUPPRT");
    let before = api.control.calls_with("conversations.info");
    assert_eq!(c.id_of("channel", "C05OLDNEW", json!({})).await, "C05OLDNEW", "an archived channel, by its id");
    assert_eq!(api.control.calls_with("conversations.info"), before + 1, "looked up with conversations.info");
    assert_eq!(c.status_of("channel", "C0NOSUCH1", json!({})).await.0, "not_found");
    assert_eq!(
        c.status_of("user", "alex kim", json!({})).await,
        ("ambiguous".into(), vec!["Alex Kim".into(), "Alex Kim".into()])
    );
    let (status, suggestions) = c.status_of("channel", "enginering", json!({})).await;
    assert_eq!((status.as_str(), suggestions.first().map(String::as_str)), ("not_found", Some("engineering")));

    shared_behaviour(&app, &api, &id, "channel", "", Some("channels:read"), Refused::Retried).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_guilds_page_by_last_id_and_channels_resolve_in_a_chain() {
    let api = discord::start().await;
    let app = api.app().await;
    let id = app
        .connect(
            json!({"provider": "discord", "auth_mode": "bot_token", "credentials": {"bot_token": discord::BOT_TOKEN}}),
        )
        .await;
    let c = Conn { app: &app, id: id.clone() };

    let (all, pages) = c.all_pages("guild", "", 2).await;
    assert_eq!(all, ["Acme HQ", "Acme Support", "Gaming Night", "Open Source", "Acme Partners"]);
    assert_eq!(pages, 3);
    assert_eq!(api.control.calls_with("after=1090000000000000002"), 1, "the next page starts after the last id seen");
    assert_eq!(api.control.calls_with("after=1090000000000000004"), 1);

    let channels = c.list("channel", &format!("guild={}", discord::HQ)).await;
    assert_eq!(names(&channels), ["Text Channels", "general", "deploys", "General"]);
    assert_eq!(
        (channels.body["items"][1]["type"].as_u64(), channels.body["items"][1]["parent_id"].as_str()),
        (Some(0), Some("1091000000000000010"))
    );

    let a = c
        .resolve(json!({"path": [{"kind": "guild", "name": "acme hq"}, {"kind": "channel", "name": "deploys"}]}))
        .await;
    assert_eq!(
        (a.body["status"].as_str(), a.body["items"][1]["id"].as_str()),
        (Some("found"), Some("1091000000000000012")),
        "{}",
        a.body
    );
    // "general" is one channel's exact name; "GENERAL" matches two once case is folded.
    assert_eq!(c.id_of("channel", "general", json!({"guild": discord::HQ})).await, "1091000000000000011");
    assert_eq!(c.status_of("channel", "GENERAL", json!({"guild": discord::HQ})).await.0, "ambiguous");
    let link = format!("https://discord.com/channels/{}/1091000000000000012", discord::HQ);
    assert_eq!(c.id_of("channel", &link, json!({"guild": discord::HQ})).await, "1091000000000000012");
    assert_eq!(
        c.id_of("guild", &format!("https://discord.com/channels/{}", discord::HQ), json!({})).await,
        discord::HQ
    );
    let (status, suggestions) = c.status_of("guild", "Acme Suport", json!({})).await;
    assert_eq!((status.as_str(), suggestions.first().map(String::as_str)), ("not_found", Some("Acme Support")));
    let a = app.get(&format!("/v1/connections/{id}/resources/channel?guild=1090000000000009999")).await;
    assert_eq!((a.status, a.code()), (404, "not_found"), "Unknown Guild: {}", a.body);

    // A channel-webhook connection holds no token to list with: it has no kinds.
    assert_eq!(app.get(&format!("/v1/connections/{id}/resources")).await.body["kinds"].as_array().unwrap().len(), 2);
    let hook = format!("https://discord.com/api/webhooks/1234567890123456789/{}", "t".repeat(68));
    let hooked =
        app.connect(json!({"provider": "discord", "auth_mode": "webhook", "credentials": {"webhook_url": hook}})).await;
    assert_eq!(app.get(&format!("/v1/connections/{hooked}/resources")).await.body["kinds"], json!([]));
    let a = app.get(&format!("/v1/connections/{hooked}/resources/guild")).await;
    assert_eq!((a.status, a.code()), (404, "not_found"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("no resource kinds"), "{}", a.body);

    shared_behaviour(&app, &api, &id, "guild", "", None, Refused::Retried).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trello_boards_by_url_and_their_lists() {
    let api = trello::start().await;
    let app = api.app().await;
    let id = app
        .connect(json!({"provider": "trello", "credentials": {"api_key": trello::KEY, "token": trello::TOKEN}}))
        .await;
    let c = Conn { app: &app, id: id.clone() };

    let boards = c.list("board", "").await;
    assert_eq!(names(&boards), ["Roadmap", "Hiring", "Marketing", "Roadmap 2025"]);
    assert_eq!(
        (boards.body["items"][0]["short_url"].as_str(), boards.body["items"][0]["starred"].as_bool()),
        (Some("https://trello.com/b/nC8QJJoZ"), Some(true))
    );
    assert!(boards.body["next_cursor"].is_null(), "one answer, no paging");
    assert_eq!(c.names("list", &format!("board={}", trello::ROADMAP)).await, ["To Do", "Doing", "Done"]);

    // A board URL carries the shortLink; Trello finds the board by it.
    assert_eq!(c.id_of("board", "https://trello.com/b/Xy12AbCd/hiring", json!({})).await, "5abbe4b7ddc1b351ef961415");
    assert_eq!(api.control.calls_with("/1/boards/Xy12AbCd"), 1);
    let a = c.resolve(json!({"path": [{"kind": "board", "name": "roadmap"}, {"kind": "list", "name": "Done"}]})).await;
    assert_eq!(
        (a.body["status"].as_str(), a.body["items"][1]["id"].as_str()),
        (Some("found"), Some("5abbe4b7ddc1b351ef9614a2")),
        "{}",
        a.body
    );
    let (status, suggestions) = c.status_of("list", "Doign", json!({"board": trello::ROADMAP})).await;
    assert_eq!((status.as_str(), suggestions.first().map(String::as_str)), ("not_found", Some("Doing")));
    assert_eq!(c.status_of("board", "https://trello.com/b/Gone0000/old", json!({})).await.0, "not_found");

    shared_behaviour(&app, &api, &id, "board", "", None, Refused::Retried).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airtable_bases_tables_and_fields() {
    let api = airtable::start().await;
    let app = api.app().await;
    let id = app
        .connect(json!({"provider": "airtable", "auth_mode": "api_key", "credentials": {"api_key": airtable::TOKEN}}))
        .await;
    let c = Conn { app: &app, id: id.clone() };

    // Airtable pages by its own size (three here) and takes no page size: a page is what it sent.
    let (all, pages) = c.all_pages("base", "", 3).await;
    assert_eq!(all, ["CRM", "Content calendar", "Hiring", "Inventory", "Inventory 2025", "Product launch", "Events"]);
    assert_eq!(pages, 3);
    assert_eq!(api.control.calls_with("offset=itr23sEjsdfEr3282/"), 2, "the answer's offset, passed back");
    assert_eq!(c.list("base", "").await.body["items"][0]["permission_level"], "create");

    let tables = c.list("table", &format!("base={}", airtable::CRM)).await;
    assert_eq!(names(&tables), ["Deals", "Companies"]);
    assert_eq!(tables.body["items"][0]["primary_field_id"], "fldDealName000001");
    let fields = c.list("field", &format!("base={}&table={}", airtable::CRM, airtable::DEALS)).await;
    assert_eq!(names(&fields), ["Name", "Stage", "Amount", "Company"]);
    assert_eq!(fields.body["items"][1]["choices"][1]["name"], "Won");
    assert_eq!(fields.body["items"][3]["linked_table_id"], "tblCompanies00001");
    let a =
        app.get(&format!("/v1/connections/{id}/resources/field?base={}&table=tblNoSuchTable01", airtable::CRM)).await;
    assert_eq!((a.status, a.code()), (404, "not_found"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("tblNoSuchTable01"), "{}", a.body);

    let a = c.resolve(json!({"path": [{"kind": "base", "name": "CRM"}, {"kind": "table", "name": "deals"}, {"kind": "field", "name": "Stage"}]})).await;
    let ids: Vec<&str> = a.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [airtable::CRM, airtable::DEALS, "fldDealStage00001"], "{}", a.body);
    let url = format!("https://airtable.com/{}/{}/viwDealsGrid00001", airtable::CRM, airtable::DEALS);
    assert_eq!(c.id_of("base", &url, json!({})).await, airtable::CRM);
    assert_eq!(c.id_of("table", &url, json!({"base": airtable::CRM})).await, airtable::DEALS);
    let (status, suggestions) = c.status_of("base", "Inventroy", json!({})).await;
    assert_eq!((status.as_str(), suggestions.first().map(String::as_str)), ("not_found", Some("Inventory")));
    assert_eq!(c.status_of("base", "inventory 2025", json!({})).await.0, "found", "case-folded, one match");

    shared_behaviour(&app, &api, &id, "base", "", Some("schema.bases:read"), Refused::Retried).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_data_sources_search_and_properties() {
    let api = notion::start().await;
    let app = api.app().await;
    let id = app
        .connect(json!({"provider": "notion", "auth_mode": "api_key", "credentials": {"api_key": notion::TOKEN}}))
        .await;
    let c = Conn { app: &app, id: id.clone() };

    let (all, pages) = c.all_pages("database", "", 2).await;
    assert_eq!(all, ["Tasks", "Meeting notes", "Tasks", "Customers", "Reading list"]);
    assert_eq!(pages, 3, "has_more and next_cursor, page_size sent as a number");
    assert_eq!(c.names("database", "q=task").await, ["Tasks", "Tasks"], "searched at Notion");
    let first = c.list("database", "limit=1").await;
    assert_eq!(first.body["items"][0]["database_id"], notion::TASKS_DB);

    // `properties` is an object: its entries, by name.
    let props = c.list("property", &format!("database={}", notion::TASKS)).await;
    assert_eq!(names(&props), ["Due", "Name", "Status", "Tags"]);
    assert_eq!(
        (props.body["items"][2]["type"].as_str(), props.body["items"][2]["status_options"][1]["name"].as_str()),
        (Some("status"), Some("Done"))
    );
    assert_eq!(props.body["items"][1]["id"], "title");

    // Two data sources are called Tasks: by name it is ambiguous; the database's link picks one.
    assert_eq!(c.status_of("database", "Tasks", json!({})).await.0, "ambiguous");
    let link = format!("https://www.notion.so/acme/Tasks-{}?v=1f2e3d4c5b6a79888776655443322110", notion::TASKS_DB);
    let a =
        c.resolve(json!({"path": [{"kind": "database", "name": link}, {"kind": "property", "name": "status"}]})).await;
    assert_eq!(a.body["status"], "found", "{}", a.body);
    assert_eq!(
        (a.body["items"][0]["id"].as_str(), a.body["items"][0]["name"].as_str()),
        (Some(notion::TASKS), Some("Tasks"))
    );
    assert_eq!(a.body["items"][1]["id"], "%5EOE%40");
    let (status, suggestions) = c.status_of("database", "Custmers", json!({})).await;
    assert_eq!((status.as_str(), suggestions.first().map(String::as_str)), ("not_found", Some("Customers")));
    let a = app
        .get(&format!("/v1/connections/{id}/resources/property?database=00000000-0000-4000-8000-000000000000"))
        .await;
    assert_eq!((a.status, a.code()), (404, "not_found"), "{}", a.body);

    shared_behaviour(&app, &api, &id, "database", "", None, Refused::Retried).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_repositories_follow_the_link_header() {
    let api = github::start().await;
    let app = api.app().await;
    let id = app
        .connect(json!({"provider": "github", "auth_mode": "api_key", "credentials": {"token": github::TOKEN}}))
        .await;
    let c = Conn { app: &app, id: id.clone() };

    let (all, pages) = c.all_pages("repository", "", 3).await;
    assert_eq!(all, ["api", "docs", "infra", "web", "api", "Hello-World", "Spoon-Knife"]);
    assert_eq!(pages, 3);
    assert_eq!(api.control.calls_with("&page=3"), 1, "the Link header's next URL");
    let first = c.list("repository", "limit=1").await;
    assert_eq!(
        (first.body["items"][0]["id"].as_str(), first.body["items"][0]["private"].as_bool()),
        (Some("acme/api"), Some(true))
    );

    assert_eq!(
        c.status_of("repository", "api", json!({})).await,
        ("ambiguous".into(), vec!["api".into(), "api".into()])
    );
    assert_eq!(c.id_of("repository", "globex/api", json!({})).await, "globex/api", "owner/name is the id");
    assert_eq!(
        c.id_of("repository", "https://github.com/octocat/Spoon-Knife.git", json!({})).await,
        "octocat/Spoon-Knife"
    );
    assert_eq!(c.id_of("repository", "https://github.com/acme/web/pull/12", json!({})).await, "acme/web");
    let (status, suggestions) = c.status_of("repository", "hello-wrld", json!({})).await;
    assert_eq!((status.as_str(), suggestions.first().map(String::as_str)), ("not_found", Some("Hello-World")));

    shared_behaviour(&app, &api, &id, "repository", "", Some("repo"), Refused::Retried).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_phone_numbers_follow_the_relative_next_page_uri() {
    let api = twilio::start().await;
    let app = api.app().await;
    let id = app.connect(
        json!({"provider": "twilio", "credentials": {"account_sid": twilio::SID, "auth_token": twilio::AUTH_TOKEN}}),
    )
    .await;
    let c = Conn { app: &app, id: id.clone() };

    let (all, pages) = c.all_pages("phone_number", "", 2).await;
    assert_eq!(all, ["Support line", "Sales line", "Alerts", "Two-factor codes", "Support line"]);
    assert_eq!(pages, 3);
    assert_eq!(api.control.calls_with("PageToken=PA"), 2);
    let first = c.list("phone_number", "limit=1").await;
    assert_eq!(
        (first.body["items"][0]["id"].as_str(), first.body["items"][0]["capabilities"]["sms"].as_bool()),
        (Some("+14155550100"), Some(true))
    );

    assert_eq!(c.status_of("phone_number", "support line", json!({})).await.0, "ambiguous");
    assert_eq!(c.id_of("phone_number", "+14155550104", json!({})).await, "+14155550104", "an E.164 number is the id");
    assert_eq!(c.id_of("phone_number", "Alerts", json!({})).await, "+14155550102");
    let (status, suggestions) = c.status_of("phone_number", "Sales lines", json!({})).await;
    assert_eq!((status.as_str(), suggestions.first().map(String::as_str)), ("not_found", Some("Sales line")));

    shared_behaviour(&app, &api, &id, "phone_number", "", None, Refused::Retried).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_phone_numbers_need_the_business_account() {
    let api = meta::start().await;
    let app = api.app().await;
    let id = app.connect(json!({"provider": "whatsapp", "credentials": {"access_token": meta::SYSTEM_TOKEN, "phone_number_id": meta::PHONE_ID, "business_account_id": meta::WABA}})).await;
    let c = Conn { app: &app, id: id.clone() };

    let (all, pages) = c.all_pages("phone_number", "", 1).await;
    assert_eq!(all, ["+1 555-010-0000", "+1 555-010-0001", "+44 20 7946 0000"]);
    assert_eq!(pages, 3, "paging.next, a full URL at graph.facebook.com");
    assert_eq!(c.list("phone_number", "").await.body["items"][0]["quality_rating"], "GREEN");
    assert_eq!(c.id_of("phone_number", "+44 20 7946 0000", json!({})).await, "106540352242924");

    // Without the business account id there is nothing to list them by: said, not sent.
    let calls = api.calls();
    let bare = app.connect(json!({"provider": "whatsapp", "credentials": {"access_token": meta::SYSTEM_TOKEN, "phone_number_id": meta::PHONE_ID}})).await;
    let a = app.get(&format!("/v1/connections/{bare}/resources/phone_number")).await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("business_account_id"), "{}", a.body);
    assert_eq!(api.calls(), calls + 1, "only the connection's own test reached Meta");

    shared_behaviour(&app, &api, &id, "phone_number", "", Some("whatsapp_business_management"), Refused::Retried).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facebook_pages_through_facebook_login() {
    let api = meta::start().await;
    let app = api.app().await;
    assert_eq!(app.create_integration("meta", "facebook", "meta-secret").await.status, 201);
    let id = connect_oauth(&app, json!({"integration": "meta"})).await;
    let c = Conn { app: &app, id: id.clone() };

    let (all, pages) = c.all_pages("page", "", 2).await;
    assert_eq!(all, ["Acme", "Acme Support", "Acme Careers", "Acme Labs", "Acme"]);
    assert_eq!(pages, 3);
    let first = c.list("page", "limit=1").await;
    assert_eq!(first.body["items"][0]["category"], "Software");
    assert!(!first.body.to_string().contains("access_token"), "no Page token is asked for or shown");
    assert_eq!(c.status_of("page", "Acme", json!({})).await.0, "ambiguous");
    assert_eq!(c.id_of("page", "acme labs", json!({})).await, "101500000000003");
    let (status, suggestions) = c.status_of("page", "Acme Carers", json!({})).await;
    assert_eq!((status.as_str(), suggestions.first().map(String::as_str)), ("not_found", Some("Acme Careers")));

    // A Graph 400 with code 190 is a refused token; Facebook issues no refresh token.
    shared_behaviour(&app, &api, &id, "page", "", Some("pages_show_list"), Refused::NeedsReauth).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_products_and_locations_follow_page_info() {
    let api = shopify::start().await;
    let app = api.app().await;
    let id = app.connect(json!({"provider": "shopify", "auth_mode": "api_key", "credentials": {"shop": "acme", "access_token": shopify::TOKEN}})).await;
    let c = Conn { app: &app, id: id.clone() };

    let (all, pages) = c.all_pages("product", "", 3).await;
    assert_eq!(all, ["Classic Tee", "Hoodie", "Cap", "Mug", "Sticker pack", "Tote bag", "Classic Tee"]);
    assert_eq!(pages, 3);
    assert_eq!(api.control.calls_with("page_info="), 2, "the Link header's URL, with nothing added to it");
    assert_eq!(c.list("product", "").await.body["items"][1]["handle"], "hoodie");
    assert_eq!(c.names("location", "").await, ["Warehouse", "Shop front"]);

    assert_eq!(c.status_of("product", "classic tee", json!({})).await.0, "ambiguous");
    assert_eq!(c.id_of("product", "632910394", json!({})).await, "632910394");
    assert_eq!(c.id_of("location", "shop front", json!({})).await, "655441492");
    let (status, suggestions) = c.status_of("product", "Hoody", json!({})).await;
    assert_eq!((status.as_str(), suggestions.first().map(String::as_str)), ("not_found", Some("Hoodie")));

    // Retry-After "2.0" is two seconds.
    api.set(Trouble::RateLimited);
    let a = app.get(&format!("/v1/connections/{id}/resources/product?limit=11")).await;
    assert_eq!((a.status, a.headers.get("retry-after").and_then(|v| v.to_str().ok())), (429, Some("2")), "{}", a.body);
    api.set(Trouble::None);

    shared_behaviour(&app, &api, &id, "product", "", None, Refused::Retried).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_models() {
    let api = openai::start().await;
    let app = api.app().await;
    let id = app.connect(json!({"provider": "openai", "credentials": {"api_key": openai::KEY}})).await;
    let c = Conn { app: &app, id: id.clone() };

    let models = c.list("model", "").await;
    assert_eq!(names(&models), ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "ft:gpt-4o-mini:acme::9xYzAbCd"]);
    assert_eq!(models.body["items"][3]["owned_by"], "org-acme");
    assert_eq!(c.names("model", "q=mini").await, ["gpt-4o-mini", "ft:gpt-4o-mini:acme::9xYzAbCd"]);
    assert_eq!(c.id_of("model", "GPT-4o", json!({})).await, "gpt-4o");
    let (status, suggestions) = c.status_of("model", "gpt-4-o", json!({})).await;
    assert_eq!((status.as_str(), suggestions.first().map(String::as_str)), ("not_found", Some("gpt-4o")));

    shared_behaviour(&app, &api, &id, "model", "", None, Refused::Retried).await;
}

/// Outlook, Outlook Calendar and Teams: one Microsoft app, three providers, Graph's nextLink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_mail_folders_calendars_teams_and_channels() {
    let api = microsoft::start().await;
    let app = api.app().await;
    let a = app.post("/v1/integrations", json!({"id": "m365", "provider": "outlook", "client_id": "ms-client", "client_secret": "ms-secret", "settings": {"tenant": "contoso.onmicrosoft.com"}})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let scopes = |s: &[&str]| json!(["offline_access", "User.Read"].iter().chain(s).collect::<Vec<_>>());
    let mail = connect_oauth(&app, json!({"integration": "m365", "scopes": scopes(&["Mail.ReadBasic"])})).await;
    let calendar = connect_oauth(
        &app,
        json!({"integration": "m365", "provider": "outlook-calendar", "scopes": scopes(&["Calendars.ReadBasic"])}),
    )
    .await;
    let teams = connect_oauth(&app, json!({"integration": "m365", "provider": "microsoft-teams", "scopes": scopes(&["Team.ReadBasic.All", "Channel.ReadBasic.All"])})).await;

    let c = Conn { app: &app, id: mail.clone() };
    let (all, pages) = c.all_pages("mail_folder", "", 3).await;
    assert_eq!(
        all,
        ["Archive", "Conversation History", "Deleted Items", "Drafts", "Inbox", "Junk Email", "Outbox", "Sent Items"]
    );
    assert_eq!(pages, 3);
    assert_eq!(api.control.calls_with("$skip=6"), 1, "@odata.nextLink, followed as given");
    let inbox = c.list("mail_folder", "q=inbox").await;
    assert_eq!(inbox.body["items"][0]["unread_item_count"], 7);
    let (status, suggestions) = c.status_of("mail_folder", "Sent", json!({})).await;
    assert_eq!((status.as_str(), suggestions.first().map(String::as_str)), ("not_found", Some("Sent Items")));

    let c = Conn { app: &app, id: calendar.clone() };
    let (all, pages) = c.all_pages("calendar", "", 2).await;
    assert_eq!((all.len(), pages), (4, 2));
    let cals = c.list("calendar", "").await;
    assert_eq!(
        (cals.body["items"][0]["is_default"].as_bool(), cals.body["items"][0]["owner_email"].as_str()),
        (Some(true), Some("AdeleV@contoso.com"))
    );
    assert_eq!(c.id_of("calendar", "team rota", json!({})).await, "AAMkAGI2TGuLAAA3=");

    let c = Conn { app: &app, id: teams.clone() };
    assert_eq!(c.names("team", "").await, ["Contoso Team", "Finance"]);
    let channels = c.list("channel", &format!("team={}", microsoft::TEAM)).await;
    assert_eq!(names(&channels), ["General", "Launch", "Support"]);
    assert_eq!(channels.body["items"][1]["membership_type"], "private");
    let a = c
        .resolve(json!({"path": [{"kind": "team", "name": "contoso team"}, {"kind": "channel", "name": "Support"}]}))
        .await;
    assert_eq!(a.body["items"][1]["id"], "19:b0a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5@thread.tacv2", "{}", a.body);
    let a =
        app.get(&format!("/v1/connections/{teams}/resources/channel?team=00000000-0000-0000-0000-000000000000")).await;
    assert_eq!((a.status, a.code()), (404, "not_found"), "{}", a.body);
    // A connection made without a kind's scopes is told which to add.
    let kinds = app.get(&format!("/v1/connections/{mail}/resources")).await;
    assert_eq!(kinds.body["kinds"][0]["missing_scopes"], json!([]), "{}", kinds.body);

    // Refused once: the token is refreshed at the tenant and the listing retried.
    shared_behaviour(&app, &api, &mail, "mail_folder", "", Some("Mail.ReadBasic"), Refused::Retried).await;
    assert!(api.fakes[1].hits() > 3, "three code exchanges, then refreshes at the tenant's token endpoint");
}

/// A resolve reads at most SWITCHBOARD_LISTING_MAX_PAGES pages: past them it says the answer may be
/// incomplete rather than scanning on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolve_stops_at_its_bound_and_says_so() {
    let api = slack::start().await;
    let app = spawn_app_with(
        TestDb::sqlite().await,
        &[
            ("outbound_overrides", &api.overrides()),
            ("jobs", "false"),
            ("listing_max_limit", "2"),
            ("listing_max_pages", "2"),
        ],
    )
    .await;
    let id = app
        .connect(json!({"provider": "slack", "auth_mode": "bot_token", "credentials": {"bot_token": slack::BOT_TOKEN}}))
        .await;
    let c = Conn { app: &app, id };

    // An id on the first page ends the scan there; a name found within the bound is still marked, as
    // another item of that name may lie past it.
    let a = c.resolve(json!({"kind": "channel", "name": "C061EG9SL"})).await;
    assert_eq!((a.body["status"].as_str(), a.body["truncated"].as_bool()), (Some("found"), Some(false)), "{}", a.body);
    let a = c.resolve(json!({"kind": "channel", "name": "random"})).await;
    assert_eq!((a.body["status"].as_str(), a.body["truncated"].as_bool()), (Some("found"), Some(true)), "{}", a.body);
    let calls = api.control.calls_with("conversations.list");
    let a = c.resolve(json!({"kind": "channel", "name": "leadership"})).await;
    assert_eq!(
        (a.body["status"].as_str(), a.body["truncated"].as_bool()),
        (Some("not_found"), Some(true)),
        "{}",
        a.body
    );
    assert!(api.control.calls_with("conversations.list") <= calls + 2, "two pages at most: {:?}", api.control.log());
    // The listing itself still pages to the end.
    assert_eq!(c.all_pages("channel", "", 2).await.1, 4);
}
