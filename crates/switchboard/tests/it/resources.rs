//! Resource listings and name resolution through the API, against providers'
//! documented list endpoints: Google Sheets here (Drive files.list for
//! spreadsheets, spreadsheets.get for sheets, the header row for columns),
//! paging, searching, the cache, resolve, and the error mapping API.md fixes.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::google::{Google, Mode, SPREADSHEETS};
use crate::support::server::{Answer, TestApp};
use crate::support::{TestDb, spawn_app_with};

async fn app_for(g: &Google) -> TestApp {
    spawn_app_with(
        TestDb::sqlite().await,
        &[("outbound_overrides", &g.overrides()), ("allowed_redirects", "http://app.test/"), ("jobs", "false")],
    )
    .await
}

fn names(a: &Answer) -> Vec<String> {
    a.body["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lists_its_kinds() {
    let g = Google::start().await;
    let app = app_for(&g).await;
    let id = g.connect(&app, json!({})).await;
    let a = app.get(&format!("/v1/connections/{id}/resources")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let kinds: Vec<(&str, Value, bool)> = a.body["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kind"].as_str().unwrap(), k["parents"].clone(), k["searchable"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("column", json!(["spreadsheet", "sheet"]), false),
            ("sheet", json!(["spreadsheet"]), false),
            ("spreadsheet", json!([]), true)
        ]
    );
    assert!(a.body["kinds"].as_array().unwrap().iter().all(|k| k["missing_scopes"] == json!([])), "{}", a.body);
    // The catalog shows them too.
    let p = app.get("/v1/providers/google-sheets").await;
    assert!(p.body.to_string().contains("batchGetByDataFilter"), "{}", p.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spreadsheets_page_search_and_cache() {
    let g = Google::start().await;
    let app = app_for(&g).await;
    let id = g.connect(&app, json!({})).await;
    let path = format!("/v1/connections/{id}/resources/spreadsheet");

    // Three pages of three, three and one.
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0..3 {
        let url = match &cursor {
            Some(c) => format!("{path}?limit=3&cursor={c}"),
            None => format!("{path}?limit=3"),
        };
        let a = app.get(&url).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["stale"], false);
        all.extend(names(&a));
        cursor = a.body["next_cursor"].as_str().map(str::to_owned);
        assert_eq!(cursor.is_some(), page < 2, "page {page}: {}", a.body);
    }
    assert_eq!(all, SPREADSHEETS.iter().map(|(_, n)| (*n).to_owned()).collect::<Vec<_>>());
    let first = app.get(&format!("{path}?limit=3")).await;
    assert_eq!(
        first.body["items"][0]["url"],
        format!("https://docs.google.com/spreadsheets/d/{}/edit?usp=drivesdk", SPREADSHEETS[0].0)
    );
    assert!(first.body["items"][0]["modified_at"].is_string());

    // The same page again comes from the cache; fresh=true asks Google.
    let calls = g.api_calls();
    assert_eq!(names(&app.get(&format!("{path}?limit=3")).await), names(&first));
    assert_eq!(g.api_calls(), calls, "served from the cache");
    app.get(&format!("{path}?limit=3&fresh=true")).await;
    assert_eq!(g.api_calls(), calls + 1);

    // q searches at Drive, quoted for its query language.
    let a = app.get(&format!("{path}?q=sales")).await;
    assert_eq!(names(&a), ["Sales 2026", "Sales 2025"]);
    let a = app.get(&format!("{path}?q={}", urlencode("O'Brien's \\ plan"))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        g.calls.lock().unwrap().iter().any(|c| c.contains(r"name contains 'O\'Brien\'s \\ plan'")),
        "{:?}",
        g.calls.lock().unwrap()
    );

    // Bad input: a cursor we did not hand out, a limit that is not one, an unknown parameter.
    for (q, field) in [("cursor=bogus", "cursor"), ("limit=zero", "limit"), ("folder=x", "folder")] {
        let a = app.get(&format!("{path}?{q}")).await;
        assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some(field)), "{q}: {}", a.body);
    }
    let a = app.get(&format!("/v1/connections/{id}/resources/chart")).await;
    assert_eq!(a.status, 404);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("spreadsheet"), "{}", a.body);

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for outcome in ["cache_hit", "provider_call"] {
        assert!(
            metrics.lines().any(|l| l.starts_with("switchboard_resource_listings_total")
                && l.contains("provider=\"google-sheets\"")
                && l.contains("kind=\"spreadsheet\"")
                && l.contains(&format!("outcome=\"{outcome}\""))),
            "{outcome}: {metrics}"
        );
    }
    assert!(metrics.contains("switchboard_provider_call_duration_seconds"));
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheets_and_columns_need_their_parents() {
    let g = Google::start().await;
    let app = app_for(&g).await;
    let id = g.connect(&app, json!({})).await;
    let sales = SPREADSHEETS[0].0;
    let a = app.get(&format!("/v1/connections/{id}/resources/sheet?spreadsheet={sales}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(names(&a), ["Sheet1", "Q1 leads"]);
    assert_eq!(
        (a.body["items"][1]["id"].as_str(), a.body["items"][1]["index"].as_i64()),
        (Some("1846372910"), Some(1))
    );

    let a = app.get(&format!("/v1/connections/{id}/resources/column?spreadsheet={sales}&sheet=0")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let cols: Vec<(String, String, i64)> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["id"].as_str().unwrap().into(), c["name"].as_str().unwrap().into(), c["position"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(
        cols,
        [
            ("A".into(), "Name".into(), 0),
            ("B".into(), "Email".into(), 1),
            ("C".into(), "Amount".into(), 2),
            ("E".into(), "Notes".into(), 4)
        ]
    );

    let a = app.get(&format!("/v1/connections/{id}/resources/column?spreadsheet={sales}")).await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("sheet")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("?sheet="), "{}", a.body);
    // A parent the provider does not know is a 404 naming it.
    let a = app.get(&format!("/v1/connections/{id}/resources/sheet?spreadsheet=1NoSuchSpreadsheet")).await;
    assert_eq!((a.status, a.code()), (404, "not_found"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("spreadsheet"), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_ids_and_urls_resolve() {
    let g = Google::start().await;
    let app = app_for(&g).await;
    let id = g.connect(&app, json!({})).await;
    let resolve = |body: Value| {
        let app = &app;
        let id = id.clone();
        async move { app.post(&format!("/v1/connections/{id}/resolve"), body).await }
    };

    let a = resolve(json!({"path": [
        {"kind": "spreadsheet", "name": "Sales 2026"},
        {"kind": "sheet", "name": "sheet1"},
        {"kind": "column", "name": "Email"}
    ]}))
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "found", "{}", a.body);
    let ids: Vec<&str> = a.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [SPREADSHEETS[0].0, "0", "B"]);

    // Two names equal once case is folded, and no exact one: ambiguous, with both.
    let a = resolve(json!({"kind": "spreadsheet", "name": "BUDGET"})).await;
    assert_eq!((a.body["status"].as_str(), a.body["step"].as_u64()), (Some("ambiguous"), Some(0)), "{}", a.body);
    assert_eq!(a.body["candidates"].as_array().unwrap().len(), 2);

    // Not found: the closest names, never a guess.
    let a =
        resolve(json!({"path": [{"kind": "spreadsheet", "name": "Sales 2026"}, {"kind": "sheet", "name": "Q1 lead"}]}))
            .await;
    assert_eq!((a.body["status"].as_str(), a.body["step"].as_u64()), (Some("not_found"), Some(1)), "{}", a.body);
    assert_eq!(a.body["suggestions"][0]["name"], "Q1 leads");
    let a = resolve(json!({"kind": "spreadsheet", "name": "Sales 2027"})).await;
    assert_eq!(a.body["status"], "not_found");
    let suggested: Vec<&str> =
        a.body["suggestions"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(suggested.starts_with(&["Sales 2026"]) || suggested.starts_with(&["Sales 2025"]), "{suggested:?}");

    // An id, and the provider's URL, resolve to the item.
    let a = resolve(json!({"kind": "spreadsheet", "name": SPREADSHEETS[4].0})).await;
    assert_eq!(
        (a.body["status"].as_str(), a.body["items"][0]["name"].as_str()),
        (Some("found"), Some("Hiring plan")),
        "{}",
        a.body
    );
    let link = format!("https://docs.google.com/spreadsheets/d/{}/edit#gid=0", SPREADSHEETS[6].0);
    let a = resolve(json!({"kind": "spreadsheet", "name": link})).await;
    assert_eq!(a.body["items"][0]["name"], "Inventory", "{}", a.body);
    assert!(g.calls.lock().unwrap().iter().any(|c| c.contains(&format!("/drive/v3/files/{}", SPREADSHEETS[6].0))));
    let a = resolve(json!({"kind": "sheet", "name": "https://docs.google.com/spreadsheets/d/x/edit#gid=1846372910", "parents": {"spreadsheet": SPREADSHEETS[0].0}})).await;
    assert_eq!(a.body["items"][0]["name"], "Q1 leads", "{}", a.body);

    for (body, field) in [
        (json!({"kind": "sheet", "name": "Sheet1"}), "path.0.parents.spreadsheet"),
        (json!({"name": "x"}), "path"),
        (json!({"path": []}), "path"),
    ] {
        let a = resolve(body.clone()).await;
        assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some(field)), "{body}: {}", a.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_refreshes_once_and_twice_means_needs_reauth() {
    let g = Google::start().await;
    let app = app_for(&g).await;
    let id = g.connect(&app, json!({})).await;
    let path = format!("/v1/connections/{id}/resources/spreadsheet?fresh=true");

    // The token was revoked at Google: one refresh, one retry, and the listing works.
    g.set(Mode::RefuseFirstToken);
    let a = app.get(&path).await;
    assert_eq!((a.status, a.body["items"].as_array().map(Vec::len)), (200, Some(7)), "{}", a.body);
    let creds = app.get(&format!("/v1/connections/{id}/credentials")).await;
    assert_eq!(creds.body["access_token"], "ya29.refreshed-1");

    // Refused even after a refresh: the connection needs re-authorisation, and subscribers hear of it.
    g.set(Mode::RefuseAll);
    let a = app.get(&path).await;
    assert_eq!((a.status, a.code()), (409, "needs_reauth"), "{}", a.body);
    assert_eq!(app.get(&format!("/v1/connections/{id}")).await.body["status"], "needs_reauth");
    let events = app.get("/v1/events?type=connection.needs_reauth").await;
    assert_eq!(events.body["items"].as_array().unwrap().len(), 1, "{}", events.body);
    // Until then no call reaches Google.
    let calls = g.api_calls();
    assert_eq!(app.get(&path).await.status, 409);
    assert_eq!(g.api_calls(), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_scopes_rate_limits_and_outages_map_as_documented() {
    let g = Google::start().await;
    let app = app_for(&g).await;
    let id = g.connect(&app, json!({})).await;
    let path = format!("/v1/connections/{id}/resources/spreadsheet");

    let good = app.get(&path).await;
    assert_eq!(good.status, 200);

    // 429: the cached page is served, marked stale, with the provider's reason; an uncached page is a 429.
    g.set(Mode::RateLimited);
    let a = app.get(&format!("{path}?fresh=true")).await;
    assert_eq!((a.status, a.body["stale"].as_bool()), (200, Some(true)), "{}", a.body);
    assert_eq!(names(&a), names(&good));
    assert!(a.body["provider_error"].as_str().unwrap().contains("rate-limiting"), "{}", a.body);
    let a = app.get(&format!("{path}?limit=2")).await;
    assert_eq!((a.status, a.code()), (429, "rate_limited"), "{}", a.body);
    assert_eq!(a.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("30"));

    // An outage: stale where cached, 502 otherwise.
    g.set(Mode::Down);
    assert_eq!(app.get(&format!("{path}?fresh=true")).await.body["stale"], true);
    let a = app.get(&format!("{path}?limit=4")).await;
    assert_eq!((a.status, a.code()), (502, "provider_error"), "{}", a.body);

    // 403 for a missing scope names the scopes that would do.
    g.set(Mode::NoScope);
    let a = app.get(&format!("{path}?limit=5")).await;
    assert_eq!((a.status, a.code()), (403, "insufficient_scope"), "{}", a.body);
    let m = a.body["error"]["message"].as_str().unwrap();
    assert!(m.contains("drive.metadata.readonly"), "{m}");
    assert!(!a.body.to_string().contains("ya29."), "no token in an error: {}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_without_the_scope_is_told_which_one_it_needs() {
    let g = Google::start().await;
    let app = app_for(&g).await;
    let id = g.connect(&app, json!({"scopes": ["openid", "https://www.googleapis.com/auth/spreadsheets"]})).await;
    let a = app.get(&format!("/v1/connections/{id}/resources")).await;
    let spreadsheet = a.body["kinds"].as_array().unwrap().iter().find(|k| k["kind"] == "spreadsheet").unwrap().clone();
    assert!(
        spreadsheet["missing_scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("https://www.googleapis.com/auth/drive.metadata.readonly")),
        "{spreadsheet}"
    );
    let sheet = a.body["kinds"].as_array().unwrap().iter().find(|k| k["kind"] == "sheet").unwrap().clone();
    assert_eq!(sheet["missing_scopes"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_are_scoped_like_their_connection_and_forgotten_on_reauth() {
    let g = Google::start().await;
    let app = app_for(&g).await;
    let shared = g.connect(&app, json!({})).await;
    let private = g.connect(&app, json!({"shared": false, "user": "u1"})).await;
    let path = |id: &str| format!("/v1/connections/{id}/resources/spreadsheet");

    let owner = app.session("acme", "u1", "member").await;
    let other = app.session("acme", "u2", "member").await;
    let foreign = app.session("globex", "g1", "admin").await;
    assert_eq!(
        app.call(Method::GET, &path(&shared), &other, None).await.status,
        200,
        "a member uses shared connections"
    );
    assert_eq!(app.call(Method::GET, &path(&private), &owner, None).await.status, 200);
    for (token, id) in [(&other, &private), (&foreign, &shared)] {
        let a = app.call(Method::GET, &path(id), token, None).await;
        assert_eq!((a.status, a.code()), (404, "not_found"), "{}", a.body);
        let a = app
            .call(
                Method::POST,
                &format!("/v1/connections/{id}/resolve"),
                token,
                Some(json!({"kind": "spreadsheet", "name": "Budget"})),
            )
            .await;
        assert_eq!(a.status, 404);
    }

    // Re-authorising forgets what was listed: the next listing asks Google again.
    app.get(&path(&shared)).await;
    let calls = g.api_calls();
    app.get(&path(&shared)).await;
    assert_eq!(g.api_calls(), calls, "cached");
    g.connect(&app, json!({"connection": shared})).await;
    app.get(&path(&shared)).await;
    assert_eq!(g.api_calls(), calls + 1, "forgotten on re-authorisation");
    // Deleted: gone, and so are its listings.
    assert_eq!(app.delete(&format!("/v1/connections/{shared}")).await.status, 204);
    assert_eq!(app.get(&path(&shared)).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_listings_at_once_make_one_provider_call() {
    let g = Google::start().await;
    let app = app_for(&g).await;
    let id = g.connect(&app, json!({})).await;
    let path = format!("/v1/connections/{id}/resources/spreadsheet?limit=7");
    let calls = g.api_calls();
    let answers = futures::future::join_all((0..8).map(|_| app.get(&path))).await;
    assert!(answers.iter().all(|a| a.status == 200 && a.body["items"].as_array().unwrap().len() == 7));
    assert_eq!(g.api_calls(), calls + 1);
    app.clock.advance(Duration::from_secs(1));
}

/// Google's other list endpoints: Drive folders and files, Forms and their questions, the calendar
/// list (paged by nextPageToken until nextSyncToken), Gmail labels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_drive_forms_calendar_and_gmail_list_their_kinds() {
    let g = Google::start().await;
    let app = app_for(&g).await;
    let list = async |id: &str, kind: &str, query: &str| {
        let a = app.get(&format!("/v1/connections/{id}/resources/{kind}?{query}")).await;
        assert_eq!(a.status, 200, "{kind}: {}", a.body);
        a
    };

    let drive = g
        .connect(
            &app,
            json!({"provider": "google-drive", "scopes": ["openid", "https://www.googleapis.com/auth/drive.readonly"]}),
        )
        .await;
    assert_eq!(names(&list(&drive, "folder", "").await), ["Invoices 2026", "Team", "Archive"]);
    let files = list(&drive, "file", "limit=100").await;
    assert_eq!(
        files.body["items"].as_array().unwrap().len(),
        7 + 4,
        "spreadsheets, forms and other files, not folders"
    );
    assert!(
        files.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "report.pdf" && f["mime_type"] == "application/pdf")
    );
    assert_eq!(names(&list(&drive, "folder", "q=team").await), ["Team"]);
    let a = app.post(&format!("/v1/connections/{drive}/resolve"), json!({"kind": "folder", "name": "https://drive.google.com/drive/folders/1FolderArchiveaaaaaaaaaaaaaaaaaaaaa"})).await;
    assert_eq!(a.body["items"][0]["name"], "Archive", "{}", a.body);

    let forms = g.connect(&app, json!({"provider": "google-forms"})).await;
    assert_eq!(names(&list(&forms, "form", "").await), ["Customer survey", "Event sign-up"]);
    let survey = "1FAIpQLSfCustomerSurveyaaaaaaaaaaaaa";
    let q = list(&forms, "question", &format!("form={survey}")).await;
    assert_eq!(names(&q), ["Your name", "How did you hear about us?", "Comments"], "the page break is not a question");
    assert_eq!(
        (q.body["items"][0]["id"].as_str(), q.body["items"][1]["choice_type"].as_str()),
        (Some("4f5e6d7c"), Some("RADIO"))
    );
    let a = app
        .post(
            &format!("/v1/connections/{forms}/resolve"),
            json!({"path": [
                {"kind": "form", "name": format!("https://docs.google.com/forms/d/{survey}/edit")},
                {"kind": "question", "name": "comments"}
            ]}),
        )
        .await;
    assert_eq!(
        (a.body["status"].as_str(), a.body["items"][1]["id"].as_str()),
        (Some("found"), Some("0e1f2a3b")),
        "{}",
        a.body
    );
    let a = app.get(&format!("/v1/connections/{forms}/resources/question?form=1FAIpQLSfNoSuchForm")).await;
    assert_eq!(a.status, 404, "{}", a.body);

    // The calendar list, one per page: four pages, the last ending with nextSyncToken.
    let cal = g.connect(&app, json!({"provider": "google-calendar"})).await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let a = list(&cal, "calendar", &format!("limit=1&cursor={cursor}")).await;
        seen.extend(names(&a));
        match a.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, ["ada@acme.example", "Team", "On call", "Holidays in United Kingdom"]);
    let first = list(&cal, "calendar", "").await;
    assert_eq!(
        (first.body["items"][0]["primary"].as_bool(), first.body["items"][0]["time_zone"].as_str()),
        (Some(true), Some("Europe/London"))
    );

    let gmail = g.connect(&app, json!({"provider": "gmail"})).await;
    let labels = list(&gmail, "label", "").await;
    assert_eq!(names(&labels), ["INBOX", "Invoices", "Projects/Alpha"]);
    assert_eq!(labels.body["items"][1]["type"], "user");
    assert!(labels.body["next_cursor"].is_null());
}

/// Every Google provider's kinds meet refusals, missing scopes, rate limits and tenancy the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_drive_calendar_forms_and_gmail_share_the_error_behaviour() {
    let g = Google::start().await;
    let app = app_for(&g).await;
    let foreign = app.session("globex", "g1", "admin").await;
    for (provider, kind) in
        [("google-drive", "folder"), ("google-calendar", "calendar"), ("google-forms", "form"), ("gmail", "label")]
    {
        g.set(Mode::Normal);
        let id = g.connect(&app, json!({"provider": provider})).await;
        let path = format!("/v1/connections/{id}/resources/{kind}");
        let good = app.get(&path).await;
        assert_eq!(good.status, 200, "{provider}: {}", good.body);
        let calls = g.api_calls();
        assert_eq!(names(&app.get(&path).await), names(&good));
        assert_eq!(g.api_calls(), calls, "{provider}: cached");

        g.set(Mode::RefuseFirstToken);
        let a = app.get(&format!("{path}?fresh=true")).await;
        assert_eq!((a.status, names(&a)), (200, names(&good)), "{provider}: refreshed and retried: {}", a.body);
        g.set(Mode::RateLimited);
        let a = app.get(&format!("{path}?fresh=true")).await;
        assert_eq!((a.status, a.body["stale"].as_bool()), (200, Some(true)), "{provider}: {}", a.body);
        let a = app.get(&format!("{path}?limit=3")).await;
        assert_eq!((a.status, a.code()), (429, "rate_limited"), "{provider}: {}", a.body);
        g.set(Mode::NoScope);
        let a = app.get(&format!("{path}?limit=4")).await;
        assert_eq!((a.status, a.code()), (403, "insufficient_scope"), "{provider}: {}", a.body);
        g.set(Mode::Normal);
        assert_eq!(app.call(Method::GET, &path, &foreign, None).await.status, 404, "{provider}: another org");
        g.set(Mode::RefuseAll);
        let a = app.get(&format!("{path}?fresh=true")).await;
        assert_eq!((a.status, a.code()), (409, "needs_reauth"), "{provider}: {}", a.body);
    }
}
