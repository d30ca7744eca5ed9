//! Calendar, forms and team-chat actions against their providers' fakes (`support/google.rs`,
//! `support/apis/microsoft.rs`), each fake checking that the request is the documented one:
//! Google Calendar's and Outlook Calendar's `list_events` and `create_event`, Google Forms'
//! `list_responses` and Microsoft Teams' `post_message` — listed, run with names resolved, every
//! input error at once, the provider's refusal with its reason, a rate limit, a refused token
//! refreshed and retried, and `Idempotency-Key` replays of the creates.

use serde_json::{Value, json};

use crate::support::actions::{pointers, run};
use crate::support::apis::microsoft::{self, TEAM};
use crate::support::apis::{Api, Trouble, connect_oauth};
use crate::support::google::{ApiCall, FILES, Google, Mode};
use crate::support::server::{Answer, TestApp};
use crate::support::{TestDb, spawn_app_with};

/// The connection's actions: their names, and the listing.
async fn listed(app: &TestApp, conn: &str) -> (Vec<String>, Value) {
    let a = app.get(&format!("/v1/connections/{conn}/actions")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let names = a.body["actions"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_owned()).collect();
    (names, a.body)
}

fn action<'a>(listing: &'a Value, name: &str) -> &'a Value {
    listing["actions"].as_array().unwrap().iter().find(|x| x["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

fn assert_refused(a: &Answer, reason: &str) {
    assert_eq!((a.status, a.code()), (422, "provider_refused"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains(reason), "{}", a.body);
}

fn assert_rate_limited(a: &Answer, wait: &str) {
    assert_eq!((a.status, a.code()), (429, "rate_limited"), "{}", a.body);
    assert_eq!(a.headers["retry-after"], wait);
}

fn assert_replayed(a: &Answer, first: &Answer) {
    assert_eq!((a.status, &a.body), (200, &first.body));
    assert_eq!(a.headers["idempotent-replayed"], "true");
}

async fn google(provider: &str) -> (Google, TestApp, String) {
    let g = Google::start().await;
    let app = spawn_app_with(
        TestDb::sqlite().await,
        &[("outbound_overrides", &g.overrides()), ("allowed_redirects", "http://app.test/"), ("jobs", "false")],
    )
    .await;
    let conn = g.connect(&app, json!({ "provider": provider })).await;
    (g, app, conn)
}

/// The last Calendar-events or Forms-responses call the Google fake saw.
fn last(g: &Google) -> ApiCall {
    g.workspace.lock().unwrap().last().cloned().expect("a call")
}

fn query(c: &ApiCall) -> Vec<(&str, &str)> {
    let mut q: Vec<(&str, &str)> = c.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    q.sort_unstable();
    q
}

/// Calls the Google fake saw with this method and a path containing `part`.
fn count(g: &Google, method: &str, part: &str) -> usize {
    g.workspace.lock().unwrap().iter().filter(|c| c.method == method && c.path.contains(part)).count()
}

async fn microsoft(provider: &str) -> (Api, TestApp, String) {
    let api = microsoft::start().await;
    let app = api.app().await;
    let a = app.post("/v1/integrations", json!({"id": "m365", "provider": "outlook", "client_id": "ms-client", "client_secret": "ms-secret", "settings": {"tenant": "contoso.onmicrosoft.com"}})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let conn = connect_oauth(&app, json!({"integration": "m365", "provider": provider})).await;
    (api, app, conn)
}

const PRIMARY: &str = "ada@acme.example";
const EVENTS_FIELDS: &str = "items(id,summary,start,end,htmlLink),nextPageToken";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_calendar_lists_events_in_a_window() {
    let (g, app, conn) = google("google-calendar").await;
    let (names, listing) = listed(&app, &conn).await;
    assert_eq!(names, ["create_event", "list_events"]);
    let list = action(&listing, "list_events");
    assert_eq!(list["input_schema"]["properties"]["calendar"]["x-resource"], "calendar");
    assert_eq!(list["input_schema"]["properties"]["time_min"]["format"], "date-time");
    assert_eq!(list["input_schema"]["required"], json!(["calendar", "time_min", "time_max"]));
    assert_eq!((list["retry_safe"].as_bool(), &list["missing_scopes"]), (Some(true), &json!([])));
    let create = action(&listing, "create_event");
    assert_eq!((create["retry_safe"].as_bool(), &create["missing_scopes"]), (Some(false), &json!([])));

    let window =
        json!({"calendar": PRIMARY, "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-04T00:00:00+01:00"});
    let a = run(&app, &conn, "list_events", window.clone(), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let events = a.body["output"]["events"].as_array().unwrap();
    let summaries: Vec<&str> = events.iter().map(|e| e["summary"].as_str().unwrap()).collect();
    assert_eq!(summaries, ["Stand-up", "Company offsite", "Stand-up", "Quarterly review"]);
    // Only the fields asked for; an all-day event has dates.
    assert_eq!(
        events[1],
        json!({"id": "1l2c0m9m7e5vbbjv5pld2ia1v8", "summary": "Company offsite", "start": {"date": "2026-12-02"}, "end": {"date": "2026-12-03"}, "htmlLink": "https://www.google.com/calendar/event?eid=1l2c0m9m7e5vbbjv5pld2ia1v8"})
    );
    assert_eq!(events[0]["start"], json!({"dateTime": "2026-12-01T09:00:00Z", "timeZone": "Europe/London"}));
    assert!(a.body["output"].get("next_page_token").is_none(), "{}", a.body);
    // The documented request: the calendar in the path, the window, single events by start time.
    let call = last(&g);
    assert_eq!((call.method.as_str(), call.path.as_str()), ("GET", "/calendar/v3/calendars/ada@acme.example/events"));
    assert_eq!(
        query(&call),
        [
            ("fields", EVENTS_FIELDS),
            ("orderBy", "startTime"),
            ("singleEvents", "true"),
            ("timeMax", "2026-12-04T00:00:00+01:00"),
            ("timeMin", "2026-12-01T00:00:00Z")
        ]
    );
    assert_eq!((call.body.clone(), call.content_type.clone()), (Value::Null, None));

    // A calendar by its name; one whose id needs escaping in the path.
    let a = run(
        &app,
        &conn,
        "list_events",
        json!({"calendar": "team", "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-08T00:00:00Z"}),
        None,
    )
    .await;
    assert_eq!(a.body["output"]["events"][0]["summary"], "Team lunch", "{}", a.body);
    assert_eq!(last(&g).path, "/calendar/v3/calendars/c_team@group.calendar.google.com/events");
    let a = run(
        &app,
        &conn,
        "list_events",
        json!({"calendar": "Holidays in United Kingdom", "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-31T00:00:00Z"}),
        None,
    )
    .await;
    assert_eq!((a.status, &a.body["output"]), (200, &json!({"events": []})), "{}", a.body);
    assert_eq!(last(&g).path, "/calendar/v3/calendars/en.uk#holiday@group.v.calendar.google.com/events");

    // A search, a page at a time.
    let mut page = window.clone();
    page["q"] = json!("stand-up");
    page["max_results"] = json!(1);
    let a = run(&app, &conn, "list_events", page.clone(), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"]["events"][0]["id"], "4h7ttgqdl0o3tbsb2nqkhce8pl_20261201T090000Z");
    let token = a.body["output"]["next_page_token"].as_str().expect("a next page").to_owned();
    let q = query(&last(&g)).into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect::<Vec<_>>();
    assert!(q.contains(&("q".into(), "stand-up".into())) && q.contains(&("maxResults".into(), "1".into())), "{q:?}");
    page["page_token"] = json!(token);
    let a = run(&app, &conn, "list_events", page, None).await;
    assert_eq!(a.body["output"]["events"][0]["id"], "4h7ttgqdl0o3tbsb2nqkhce8pl_20261203T090000Z", "{}", a.body);
    assert!(a.body["output"].get("next_page_token").is_none(), "{}", a.body);
    assert!(last(&g).query.contains(&("pageToken".to_owned(), token)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_calendar_creates_timed_and_all_day_events() {
    let (g, app, conn) = google("google-calendar").await;
    let a = run(
        &app,
        &conn,
        "create_event",
        json!({
            "calendar": "Team", "summary": "Design review", "description": "<b>Bring sketches</b>", "location": "Room 4",
            "start": {"date_time": "2026-12-02T10:00:00+01:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-12-02T11:00:00+01:00", "time_zone": "Europe/Berlin"},
            "attendees": [{"email": "grace@acme.example"}, {"email": "alan@acme.example", "displayName": "Alan", "optional": true}],
            "send_updates": "all"
        }),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["output"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        a.body["output"],
        json!({"id": id, "html_link": format!("https://www.google.com/calendar/event?eid={id}"), "status": "confirmed"})
    );
    let call = last(&g);
    assert_eq!(
        (call.method.as_str(), call.path.as_str()),
        ("POST", "/calendar/v3/calendars/c_team@group.calendar.google.com/events")
    );
    assert_eq!(call.content_type.as_deref(), Some("application/json"));
    assert_eq!(query(&call), [("sendUpdates", "all")]);
    assert_eq!(
        call.body,
        json!({
            "summary": "Design review", "description": "<b>Bring sketches</b>", "location": "Room 4",
            "start": {"dateTime": "2026-12-02T10:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-02T11:00:00+01:00", "timeZone": "Europe/Berlin"},
            "attendees": [{"email": "grace@acme.example"}, {"email": "alan@acme.example", "displayName": "Alan", "optional": true}]
        })
    );
    // All day: dates only, and nothing for what was left out.
    let a = run(
        &app,
        &conn,
        "create_event",
        json!({"calendar": PRIMARY, "summary": "Offsite", "start": {"date": "2026-12-10"}, "end": {"date": "2026-12-12"}}),
        None,
    )
    .await;
    assert_eq!((a.status, &a.body["output"]["status"]), (200, &json!("confirmed")), "{}", a.body);
    let call = last(&g);
    assert_eq!(
        call.body,
        json!({"summary": "Offsite", "start": {"date": "2026-12-10"}, "end": {"date": "2026-12-12"}})
    );
    assert!(call.query.is_empty(), "{:?}", call.query);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_calendar_input_errors_come_at_once_and_refusals_carry_the_reason() {
    let (g, app, conn) = google("google-calendar").await;
    let before = g.api_calls();
    let a = run(
        &app,
        &conn,
        "list_events",
        json!({"calendar": 7, "time_min": "yesterday", "time_max": "2026-12-01", "max_results": 0, "colour": "red"}),
        None,
    )
    .await;
    assert_eq!(
        pointers(&a),
        ["/input", "/input/calendar", "/input/max_results", "/input/time_max", "/input/time_min"],
        "{}",
        a.body
    );
    assert!(a.body.to_string().contains("colour"), "{}", a.body);
    let a = run(
        &app,
        &conn,
        "create_event",
        json!({
            "start": {}, "end": {"date": "2026-12-02", "date_time": "2026-12-02T10:00:00Z"},
            "attendees": [{"email": "grace"}], "send_updates": "everyone"
        }),
        None,
    )
    .await;
    assert_eq!(
        pointers(&a),
        ["/input", "/input/attendees/0/email", "/input/end", "/input/send_updates", "/input/start"],
        "{}",
        a.body
    );
    // A date-time needs its offset.
    let a = run(
        &app,
        &conn,
        "create_event",
        json!({"calendar": PRIMARY, "start": {"date_time": "2026-12-02T10:00:00"}, "end": {"date_time": "2026-12-02T11:00:00Z"}}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input/start/date_time"], "{}", a.body);
    assert_eq!(g.api_calls(), before, "nothing reaches Google");
    // A calendar name that matches none: its pointer, with the closest.
    let a = run(
        &app,
        &conn,
        "list_events",
        json!({"calendar": "Tema", "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-02T00:00:00Z"}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input/calendar"], "{}", a.body);
    assert_eq!(count(&g, "GET", "/events"), 0);

    // Google's own refusal, with its reason: an empty window, an event ending before it starts.
    let a = run(
        &app,
        &conn,
        "list_events",
        json!({"calendar": PRIMARY, "time_min": "2026-12-02T00:00:00Z", "time_max": "2026-12-01T00:00:00Z"}),
        None,
    )
    .await;
    assert_refused(&a, "The specified time range is empty");
    let a = run(
        &app,
        &conn,
        "create_event",
        json!({"calendar": PRIMARY, "start": {"date_time": "2026-12-02T11:00:00Z"}, "end": {"date_time": "2026-12-02T10:00:00Z"}}),
        None,
    )
    .await;
    assert_refused(&a, "The specified time range is empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_calendar_replays_limits_and_refreshes() {
    let (g, app, conn) = google("google-calendar").await;
    let input = json!({"calendar": PRIMARY, "summary": "1:1", "start": {"date_time": "2026-12-05T10:00:00Z"}, "end": {"date_time": "2026-12-05T10:30:00Z"}});
    let first = run(&app, &conn, "create_event", input.clone(), Some("evt-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let inserts = count(&g, "POST", "/events");
    let again = run(&app, &conn, "create_event", input.clone(), Some("evt-1")).await;
    assert_replayed(&again, &first);
    assert_eq!(count(&g, "POST", "/events"), inserts, "the repeat creates nothing");
    let mut other = input.clone();
    other["summary"] = json!("2:2");
    let a = run(&app, &conn, "create_event", other.clone(), Some("evt-1")).await;
    assert_eq!((a.status, a.code()), (409, "conflict"), "{}", a.body);

    // Rate limited: a 429 with Google's wait; the key is given back for the same request later.
    g.set(Mode::RateLimited);
    let a = run(&app, &conn, "create_event", other.clone(), Some("evt-2")).await;
    assert_rate_limited(&a, "30");
    assert_eq!(count(&g, "POST", "/events"), inserts + 1, "the action's own call was limited");
    g.set(Mode::Normal);
    let a = run(&app, &conn, "create_event", other, Some("evt-2")).await;
    assert_eq!((a.status, a.headers.get("idempotent-replayed")), (200, None), "{}", a.body);

    // The token refused once: refreshed, and the call sent again.
    g.set(Mode::RefuseFirstToken);
    let lists = count(&g, "GET", "/events");
    let a = run(
        &app,
        &conn,
        "list_events",
        json!({"calendar": PRIMARY, "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-02T00:00:00Z"}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(count(&g, "GET", "/events"), lists + 2, "the refused call and its retry");
    assert_eq!(app.get(&format!("/v1/connections/{conn}/credentials")).await.body["access_token"], "ya29.refreshed-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_forms_lists_responses() {
    let (g, app, conn) = google("google-forms").await;
    let (names, listing) = listed(&app, &conn).await;
    assert_eq!(names, ["list_responses"]);
    let list = action(&listing, "list_responses");
    assert_eq!(list["input_schema"]["properties"]["form"]["x-resource"], "form");
    assert_eq!((list["retry_safe"].as_bool(), &list["missing_scopes"]), (Some(true), &json!([])));

    let survey = FILES[3].0;
    let a = run(&app, &conn, "list_responses", json!({"form": "Customer survey"}), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let responses = a.body["output"]["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 3);
    assert_eq!(responses[0]["answers"]["4f5e6d7c"]["textAnswers"]["answers"][0]["value"], "Ada Lovelace");
    assert_eq!(responses[1]["respondentEmail"], "grace@acme.example");
    assert!(a.body["output"].get("next_page_token").is_none(), "{}", a.body);
    let call = last(&g);
    assert_eq!((call.method.as_str(), call.path.clone()), ("GET", format!("/v1/forms/{survey}/responses")));
    assert!(call.query.is_empty() && call.body.is_null(), "{call:?}");

    // Submitted after a moment, one a page, the form by its editor URL.
    let url = format!("https://docs.google.com/forms/d/{survey}/edit");
    let filter = "timestamp > 2026-11-29T00:00:00Z";
    let a = run(&app, &conn, "list_responses", json!({"form": url, "filter": filter, "page_size": 1}), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"]["responses"][0]["responseId"], "ACYDBNj_second");
    assert_eq!(query(&last(&g)), [("filter", filter), ("pageSize", "1")]);
    let token = a.body["output"]["next_page_token"].as_str().expect("a next page").to_owned();
    let a = run(
        &app,
        &conn,
        "list_responses",
        json!({"form": survey, "filter": filter, "page_size": 1, "page_token": token}),
        None,
    )
    .await;
    assert_eq!(a.body["output"]["responses"][0]["responseId"], "ACYDBNj_third", "{}", a.body);
    assert!(a.body["output"].get("next_page_token").is_none(), "{}", a.body);
    assert_eq!(query(&last(&g)), [("filter", filter), ("pageSize", "1"), ("pageToken", token.as_str())]);
    // At or after a moment; after it only: nothing, which Google answers with an empty object.
    let a = run(
        &app,
        &conn,
        "list_responses",
        json!({"form": survey, "filter": "timestamp >= 2026-12-01T08:00:00Z"}),
        None,
    )
    .await;
    assert_eq!(a.body["output"]["responses"].as_array().map(Vec::len), Some(1), "{}", a.body);
    let a =
        run(&app, &conn, "list_responses", json!({"form": survey, "filter": "timestamp > 2026-12-01T08:00:00Z"}), None)
            .await;
    assert_eq!((a.status, &a.body["output"]), (200, &json!({})), "{}", a.body);
    let a = run(&app, &conn, "list_responses", json!({"form": "Event sign-up"}), None).await;
    assert_eq!((a.status, &a.body["output"]), (200, &json!({})), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_forms_input_errors_refusals_limits_and_refreshes() {
    let (g, app, conn) = google("google-forms").await;
    let survey = FILES[3].0;
    let before = g.api_calls();
    let a = run(
        &app,
        &conn,
        "list_responses",
        json!({"form": 5, "filter": "after yesterday", "page_size": 0, "sort": "asc"}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input", "/input/filter", "/input/form", "/input/page_size"], "{}", a.body);
    // The timestamp must be UTC ("Zulu").
    let a = run(
        &app,
        &conn,
        "list_responses",
        json!({"form": survey, "filter": "timestamp > 2026-11-29T00:00:00+01:00"}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input/filter"], "{}", a.body);
    assert_eq!(g.api_calls(), before, "nothing reaches Google");

    // A page token given with another filter than its own: Google's refusal, with its reason.
    let a = run(
        &app,
        &conn,
        "list_responses",
        json!({"form": survey, "page_token": "resp-1|timestamp > 2026-01-01T00:00:00Z"}),
        None,
    )
    .await;
    assert_refused(&a, "page token is not valid");

    // By name, so the form is resolved from the cached listing and the action's own call meets
    // the trouble (an id or URL is fetched from Drive each time).
    let by_name = json!({"form": "Customer survey"});
    assert_eq!(run(&app, &conn, "list_responses", by_name.clone(), None).await.status, 200);
    let lists = count(&g, "GET", "/responses");
    g.set(Mode::RateLimited);
    let a = run(&app, &conn, "list_responses", by_name.clone(), None).await;
    assert_rate_limited(&a, "30");
    assert_eq!(count(&g, "GET", "/responses"), lists + 1, "the action's own call was limited");
    g.set(Mode::RefuseFirstToken);
    let lists = count(&g, "GET", "/responses");
    let a = run(&app, &conn, "list_responses", by_name, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(count(&g, "GET", "/responses"), lists + 2, "the refused call and its retry");
    assert_eq!(app.get(&format!("/v1/connections/{conn}/credentials")).await.body["access_token"], "ya29.refreshed-1");
}

const DEFAULT_CALENDAR: &str = "AAMkAGI2TGuLAAA0%3D";
const CALENDAR_VIEW_SELECT: &str = "id,subject,start,end,location,isAllDay,webLink";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_calendar_lists_the_calendar_view() {
    let (api, app, conn) = microsoft("outlook-calendar").await;
    let (names, listing) = listed(&app, &conn).await;
    assert_eq!(names, ["create_event", "list_events"]);
    let list = action(&listing, "list_events");
    assert_eq!(list["input_schema"]["properties"]["calendar"]["x-resource"], "calendar");
    assert_eq!(list["input_schema"]["required"], json!(["calendar", "time_min", "time_max"]));
    assert_eq!((list["retry_safe"].as_bool(), &list["missing_scopes"]), (Some(true), &json!([])));
    assert_eq!(action(&listing, "create_event")["missing_scopes"], json!([]));

    let a = run(
        &app,
        &conn,
        "list_events",
        json!({"calendar": "Calendar", "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-02T00:00:00Z"}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let events = a.body["output"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{}", a.body);
    assert_eq!(events[0]["subject"], "Weekly sync");
    // Without a zone the times come in UTC, as the Prefer header asked.
    assert_eq!(events[0]["start"], json!({"dateTime": "2026-12-01T09:00:00.0000000", "timeZone": "UTC"}));
    assert!(events[0].get("organizer").is_none(), "only the selected properties: {}", a.body);
    assert!(a.body["output"].get("next_link").is_none(), "{}", a.body);
    assert_eq!(
        api.control.log().last().unwrap(),
        &format!(
            "GET /v1.0/me/calendars/{DEFAULT_CALENDAR}/calendarView?$select={CALENDAR_VIEW_SELECT}&endDateTime=2026-12-02T00:00:00Z&startDateTime=2026-12-01T00:00:00Z"
        )
    );

    // Another zone, one event a page: the times in that zone, and the next page's link.
    let a = run(
        &app,
        &conn,
        "list_events",
        json!({"calendar": "Calendar", "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-31T00:00:00Z", "time_zone": "Pacific Standard Time", "max_results": 1}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["output"]["events"][0]["start"],
        json!({"dateTime": "2026-12-01T01:00:00.0000000", "timeZone": "Pacific Standard Time"})
    );
    let next = a.body["output"]["next_link"].as_str().expect("a next page");
    assert!(next.starts_with("https://graph.microsoft.com/v1.0/me/calendars/") && next.contains("%24skip=1"), "{next}");
    assert!(api.control.log().last().unwrap().contains("$top=1"));
    // A calendar by id, with no events in the window.
    let a = run(
        &app,
        &conn,
        "list_events",
        json!({"calendar": "AAMkAGI2TGuLAAA3=", "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-02T00:00:00Z"}),
        None,
    )
    .await;
    assert_eq!((a.status, &a.body["output"]), (200, &json!({"events": []})), "{}", a.body);
    assert!(api.control.log().last().unwrap().starts_with("GET /v1.0/me/calendars/AAMkAGI2TGuLAAA3%3D/calendarView?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_calendar_list_errors_refusals_limits_and_refreshes() {
    let (api, app, conn) = microsoft("outlook-calendar").await;
    let before = api.calls();
    let a = run(
        &app,
        &conn,
        "list_events",
        json!({"calendar": "Calendar", "time_min": "2026-12-01", "time_zone": "UTC\"; x", "max_results": 1001}),
        None,
    )
    .await;
    assert_eq!(pointers(&a), ["/input", "/input/max_results", "/input/time_min", "/input/time_zone"], "{}", a.body);
    assert_eq!(api.calls(), before, "nothing reaches Graph");

    let window =
        json!({"calendar": "Calendar", "time_min": "2026-12-01T00:00:00Z", "time_max": "2026-12-02T00:00:00Z"});
    let a = run(
        &app,
        &conn,
        "list_events",
        json!({"calendar": "Calendar", "time_min": "2026-12-02T00:00:00Z", "time_max": "2026-12-01T00:00:00Z"}),
        None,
    )
    .await;
    assert_refused(&a, "EndDateTime must be later than StartDateTime");
    let views = api.control.calls_with("/calendarView");
    api.set(Trouble::RateLimited);
    let a = run(&app, &conn, "list_events", window.clone(), None).await;
    assert_rate_limited(&a, "10");
    assert_eq!(api.control.calls_with("/calendarView"), views + 1, "the action's own call was limited");
    api.set(Trouble::Unauthorized(1));
    let views = api.control.calls_with("/calendarView");
    let a = run(&app, &conn, "list_events", window, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(api.control.calls_with("/calendarView"), views + 2, "the refused call and its retry");
    assert!(
        app.get(&format!("/v1/connections/{conn}/credentials")).await.body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("EwB-refreshed-")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_calendar_creates_events() {
    let (api, app, conn) = microsoft("outlook-calendar").await;
    let input = json!({
        "calendar": "Calendar", "subject": "Let's go for lunch", "body": {"content": "Does noon work for you?", "content_type": "html"},
        "start": {"date_time": "2026-12-02T12:00:00", "time_zone": "Pacific Standard Time"},
        "end": {"date_time": "2026-12-02T14:00:00", "time_zone": "Pacific Standard Time"},
        "location": "Harry's Bar",
        "attendees": [{"emailAddress": {"address": "adelev@contoso.com", "name": "Adele Vance"}, "type": "required"}]
    });
    let first = run(&app, &conn, "create_event", input.clone(), Some("lunch-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let id = first.body["output"]["id"].as_str().unwrap();
    assert!(id.starts_with("AAMkAGI2TGuLAAA0=-new"), "{}", first.body);
    assert!(first.body["output"]["web_link"].as_str().unwrap().contains(id), "{}", first.body);
    let path = format!("POST /v1.0/me/calendars/{DEFAULT_CALENDAR}/events?");
    assert_eq!(
        api.control.last_json(&path),
        json!({
            "subject": "Let's go for lunch", "body": {"contentType": "html", "content": "Does noon work for you?"},
            "start": {"dateTime": "2026-12-02T12:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2026-12-02T14:00:00", "timeZone": "Pacific Standard Time"},
            "location": {"displayName": "Harry's Bar"},
            "attendees": [{"emailAddress": {"address": "adelev@contoso.com", "name": "Adele Vance"}, "type": "required"}]
        })
    );
    // Replayed for its key, another input under it refused.
    let posts = api.control.calls_with("POST /v1.0/me/calendars/");
    let again = run(&app, &conn, "create_event", input.clone(), Some("lunch-1")).await;
    assert_replayed(&again, &first);
    assert_eq!(api.control.calls_with("POST /v1.0/me/calendars/"), posts, "the repeat creates nothing");
    let mut other = input.clone();
    other["subject"] = json!("Let's go for dinner");
    let a = run(&app, &conn, "create_event", other, Some("lunch-1")).await;
    assert_eq!((a.status, a.code()), (409, "conflict"), "{}", a.body);

    // Only what is given goes out; a calendar by its id.
    let a = run(
        &app,
        &conn,
        "create_event",
        json!({"calendar": "AAMkAGI2TGuLAAA3=", "subject": "Rota swap", "start": {"date_time": "2026-12-03T08:00:00", "time_zone": "UTC"}, "end": {"date_time": "2026-12-03T09:00:00", "time_zone": "UTC"}}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        api.control.last_json("POST /v1.0/me/calendars/AAMkAGI2TGuLAAA3%3D/events?"),
        json!({"subject": "Rota swap", "start": {"dateTime": "2026-12-03T08:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-12-03T09:00:00", "timeZone": "UTC"}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_calendar_create_errors_refusals_limits_and_refreshes() {
    let (api, app, conn) = microsoft("outlook-calendar").await;
    let before = api.calls();
    let a = run(
        &app,
        &conn,
        "create_event",
        json!({
            "calendar": "Calendar", "start": {"date_time": "2026-12-02T12:00:00Z", "time_zone": "UTC"},
            "end": {"date_time": "2026-12-02T13:00:00"}, "body": {"content_type": "md"},
            "attendees": [{"emailAddress": {"address": "adele"}, "type": "chair"}]
        }),
        None,
    )
    .await;
    assert_eq!(
        pointers(&a),
        [
            "/input",
            "/input/attendees/0/emailAddress/address",
            "/input/attendees/0/type",
            "/input/body",
            "/input/body/content_type",
            "/input/end",
            "/input/start/date_time"
        ],
        "{}",
        a.body
    );
    assert_eq!(api.calls(), before, "nothing reaches Graph");

    let at = |zone: &str| json!({"calendar": "Calendar", "subject": "Launch", "start": {"date_time": "2026-12-04T09:00:00", "time_zone": zone}, "end": {"date_time": "2026-12-04T10:00:00", "time_zone": zone}});
    let a = run(&app, &conn, "create_event", at("Mars/Olympus_Mons"), None).await;
    assert_refused(&a, "The following TimeZone value is not supported: 'Mars/Olympus_Mons'");
    let posts = api.control.calls_with("POST /v1.0/me/calendars/");
    api.set(Trouble::RateLimited);
    let a = run(&app, &conn, "create_event", at("UTC"), Some("launch-1")).await;
    assert_rate_limited(&a, "10");
    assert_eq!(api.control.calls_with("POST /v1.0/me/calendars/"), posts + 1, "the action's own call was limited");
    api.set(Trouble::Unauthorized(1));
    let posts = api.control.calls_with("POST /v1.0/me/calendars/");
    let a = run(&app, &conn, "create_event", at("UTC"), Some("launch-1")).await;
    assert_eq!((a.status, a.headers.get("idempotent-replayed")), (200, None), "{}", a.body);
    assert_eq!(api.control.calls_with("POST /v1.0/me/calendars/"), posts + 2, "the refused call and its retry");
}

const GENERAL: &str = "19:561fbdbbfca848a484f0a6f00ce9dbbd@thread.tacv2";
const SUPPORT: &str = "19:b0a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5@thread.tacv2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_post_message_to_a_channel() {
    let (api, app, conn) = microsoft("microsoft-teams").await;
    let (names, listing) = listed(&app, &conn).await;
    assert_eq!(names, ["post_message"]);
    let post = action(&listing, "post_message");
    assert_eq!(post["input_schema"]["properties"]["team"]["x-resource"], "team");
    assert_eq!(post["input_schema"]["properties"]["channel"]["x-resource"], "channel");
    assert_eq!(post["input_schema"]["required"], json!(["team", "channel", "text"]));
    assert_eq!((post["retry_safe"].as_bool(), &post["missing_scopes"]), (Some(false), &json!([])));
    // A Workflows webhook connection holds nothing to name a team or channel with.
    let hook = app
        .connect(json!({"provider": "microsoft-teams", "auth_mode": "webhook", "credentials": {"webhook_url": "https://prod-42.westeurope.logic.azure.com/workflows/0a1b2c3d/triggers/manual/paths/invoke?sig=abc"}}))
        .await;
    assert_eq!(listed(&app, &hook).await.0, Vec::<String>::new());

    let a = run(
        &app,
        &conn,
        "post_message",
        json!({"team": "contoso team", "channel": "General", "text": "Deploy finished"}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["output"]["id"].as_str().unwrap().to_owned();
    assert_eq!(a.body["output"]["created_date_time"], "2026-12-01T10:00:00.123Z");
    assert!(
        a.body["output"]["web_url"].as_str().unwrap().starts_with("https://teams.microsoft.com/l/message/"),
        "{}",
        a.body
    );
    assert!(a.body["output"]["web_url"].as_str().unwrap().contains(&id));
    let path = format!("POST /v1.0/teams/{TEAM}/channels/{GENERAL}/messages?");
    assert_eq!(api.control.log().last().unwrap(), &path);
    assert_eq!(api.control.last_json(&path), json!({"body": {"content": "Deploy finished"}}));
    // HTML, the team and channel by id.
    let a = run(
        &app,
        &conn,
        "post_message",
        json!({"team": TEAM, "channel": SUPPORT, "text": "<b>v2.3</b> is out", "content_type": "html"}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        api.control.last_json(&format!("POST /v1.0/teams/{TEAM}/channels/{SUPPORT}/messages?")),
        json!({"body": {"contentType": "html", "content": "<b>v2.3</b> is out"}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_post_message_errors_refusals_limits_refreshes_and_replays() {
    let (api, app, conn) = microsoft("microsoft-teams").await;
    let before = api.calls();
    let a =
        run(&app, &conn, "post_message", json!({"channel": "General", "text": "", "content_type": "markdown"}), None)
            .await;
    assert_eq!(pointers(&a), ["/input", "/input/content_type", "/input/text"], "{}", a.body);
    assert_eq!(api.calls(), before, "nothing reaches Graph");
    let a = run(&app, &conn, "post_message", json!({"team": "Contoso Team", "channel": "Random", "text": "hi"}), None)
        .await;
    assert_eq!(pointers(&a), ["/input/channel"], "{}", a.body);
    assert_eq!(api.control.calls_with("/messages"), 0);

    // Graph's own refusal, with its reason: a mention without its mentions entry.
    let a = run(
        &app,
        &conn,
        "post_message",
        json!({"team": TEAM, "channel": GENERAL, "text": "<at id=\"0\">Adele</at> please look", "content_type": "html"}),
        None,
    )
    .await;
    assert_refused(&a, "Invalid mention");

    let input = json!({"team": TEAM, "channel": GENERAL, "text": "Release 2.3 is live"});
    let first = run(&app, &conn, "post_message", input.clone(), Some("release-2.3")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let posts = api.control.calls_with("/messages");
    let again = run(&app, &conn, "post_message", input.clone(), Some("release-2.3")).await;
    assert_replayed(&again, &first);
    assert_eq!(api.control.calls_with("/messages"), posts, "the repeat posts nothing");
    let a = run(
        &app,
        &conn,
        "post_message",
        json!({"team": TEAM, "channel": GENERAL, "text": "Release 2.4"}),
        Some("release-2.3"),
    )
    .await;
    assert_eq!((a.status, a.code()), (409, "conflict"), "{}", a.body);

    api.set(Trouble::RateLimited);
    let a = run(&app, &conn, "post_message", json!({"team": TEAM, "channel": GENERAL, "text": "again"}), None).await;
    assert_rate_limited(&a, "10");
    assert_eq!(api.control.calls_with("/messages"), posts + 1, "the action's own call was limited");
    api.set(Trouble::Unauthorized(1));
    let posts = api.control.calls_with("/messages");
    let a = run(&app, &conn, "post_message", json!({"team": TEAM, "channel": GENERAL, "text": "again"}), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(api.control.calls_with("/messages"), posts + 2, "the refused call and its retry");
    // Refused again after the refresh: the connection needs re-authorisation.
    api.set(Trouble::Unauthorized(2));
    let a =
        run(&app, &conn, "post_message", json!({"team": TEAM, "channel": GENERAL, "text": "once more"}), None).await;
    assert_eq!((a.status, a.code()), (409, "needs_reauth"), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_drive_uploads_a_file_in_one_multipart_request() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let (g, app, conn) = google("google-drive").await;
    let (names, _) = listed(&app, &conn).await;
    assert_eq!(names, ["upload_file"]);
    let pdf = b"%PDF-1.7\r\n--switchboard-not-a-boundary\r\n\x00\x01\x02binary\xff".repeat(30);
    let a = run(
        &app,
        &conn,
        "upload_file",
        json!({"name": "Q3 report.pdf", "mime_type": "application/pdf", "folder": "Invoices 2026",
            "content_base64": base64::engine::general_purpose::STANDARD.encode(&pdf)}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["output"]["name"], "Q3 report.pdf");
    assert_eq!(a.body["output"]["size"], pdf.len().to_string());
    assert!(a.body["output"]["web_view_link"].as_str().unwrap().starts_with("https://drive.google.com/file/d/"));
    let call = last(&g);
    assert_eq!(call.path, "/upload/drive/v3/files");
    assert!(call.query.contains(&("uploadType".into(), "multipart".into())), "{:?}", call.query);
    assert_eq!(
        call.body,
        json!({"metadata": {"name": "Q3 report.pdf", "mimeType": "application/pdf", "parents": ["1FolderInvoices2026aaaaaaaaaaaaaaaa"]},
            "media_type": "application/pdf", "media_sha256": hex::encode(sha2::Sha256::digest(&pdf)), "media_size": pdf.len()}),
        "the metadata, then the very bytes"
    );
    // No folder: My Drive's root; bad base64 is caught before anything is sent.
    let a = run(
        &app,
        &conn,
        "upload_file",
        json!({"name": "notes.txt", "mime_type": "text/plain", "content_base64": "aGk="}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(last(&g).body["metadata"].get("parents").is_none());
    let before = count(&g, "POST", "/upload/");
    let a = run(&app, &conn, "upload_file", json!({"name": "x", "content_base64": "not base64!"}), None).await;
    assert_eq!(a.body["error"]["details"][0]["path"], "/input/content_base64", "{}", a.body);
    let a = run(
        &app,
        &conn,
        "upload_file",
        json!({"name": "x", "content_base64": "aGk=", "folder": "Invoices 2062"}),
        None,
    )
    .await;
    assert_eq!(a.body["error"]["details"][0]["path"], "/input/folder", "{}", a.body);
    assert_eq!(count(&g, "POST", "/upload/"), before, "nothing was uploaded");
    // A refused token is refreshed and the upload sent again.
    let uploads = || g.calls.lock().unwrap().iter().filter(|c| c.starts_with("POST /upload/drive/v3/files")).count();
    let sent = uploads();
    g.set(Mode::RefuseFirstToken);
    let a = run(&app, &conn, "upload_file", json!({"name": "again.txt", "content_base64": "aGk="}), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(uploads(), sent + 2, "refused once, sent again");
}
