//! Notion's API, version 2025-09-03 (https://developers.notion.com/reference/post-search,
//! database-retrieve, retrieve-a-data-source): a bearer token and `Notion-Version`, search as a
//! POST with a JSON body (`filter` on object = data_source, `page_size` a number up to 100,
//! `start_cursor`, `query` matching titles), answers `{"object": "list", "results", "next_cursor",
//! "has_more"}`, a database holding `data_sources`, a data source's `properties` keyed by name, and
//! errors as `{"object": "error", "status", "code", "message"}`.

use serde_json::{Value, json};

use super::{Api, Control, Trouble, window, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const TOKEN: &str = "ntn_4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b";
/// The Tasks database (32 hex digits, as in its URL) and its one data source.
pub const TASKS_DB: &str = "248104cd477e80fdb757e945d38000bd";
pub const TASKS: &str = "248104cd-477e-80af-bc30-000bd28de8f9";

fn data_source(id: &str, title: &str, database: &str) -> Value {
    json!({
        "object": "data_source", "id": id, "created_time": "2026-03-01T09:00:00.000Z",
        "last_edited_time": "2026-11-20T16:30:00.000Z",
        "title": [{"type": "text", "text": {"content": title, "link": null}, "plain_text": title, "href": null}],
        "parent": {"type": "database_id", "database_id": database},
        "url": format!("https://www.notion.so/{}", database.replace('-', "")), "archived": false, "in_trash": false
    })
}

/// Five data sources, two called Tasks (in different databases).
pub fn data_sources() -> Vec<Value> {
    vec![
        data_source(TASKS, "Tasks", TASKS_DB),
        data_source("1a2b3c4d-0000-4000-8000-000000000002", "Meeting notes", "1a2b3c4d000040008000000000000102"),
        data_source("1a2b3c4d-0000-4000-8000-000000000003", "Tasks", "1a2b3c4d000040008000000000000103"),
        data_source("1a2b3c4d-0000-4000-8000-000000000004", "Customers", "1a2b3c4d000040008000000000000104"),
        data_source("1a2b3c4d-0000-4000-8000-000000000005", "Reading list", "1a2b3c4d000040008000000000000105"),
    ]
}

fn tasks_schema() -> Value {
    json!({
        "object": "data_source", "id": TASKS,
        "title": [{"type": "text", "text": {"content": "Tasks"}, "plain_text": "Tasks"}],
        "parent": {"type": "database_id", "database_id": TASKS_DB},
        "properties": {
            "Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
            "Status": {"id": "%5EOE%40", "name": "Status", "type": "status", "status": {
                "options": [{"id": "1", "name": "Not started", "color": "default"}, {"id": "2", "name": "Done", "color": "green"}],
                "groups": [{"id": "g1", "name": "To-do", "color": "gray", "option_ids": ["1"]}]
            }},
            "Tags": {"id": "flsb", "name": "Tags", "type": "multi_select", "multi_select": {"options": [{"id": "t1", "name": "urgent", "color": "red"}]}},
            "Due": {"id": "AJP%7D", "name": "Due", "type": "date", "date": {}}
        }
    })
}

fn error(status: u16, code: &str, message: &str) -> Shape {
    shape(
        status,
        json!({"object": "error", "status": status, "code": code, "message": message, "request_id": "d0c1e2f3-aaaa-4bbb-8ccc-000000000000"}),
    )
}

fn trouble(t: Trouble) -> Option<Shape> {
    Some(match t {
        Trouble::None => return None,
        Trouble::Unauthorized(_) => error(401, "unauthorized", "API token is invalid."),
        Trouble::Forbidden => error(403, "restricted_resource", "API token does not have access to this resource."),
        Trouble::RateLimited => {
            error(429, "rate_limited", "You have been rate limited. Please try again in a few minutes.")
                .header("retry-after", "12")
        }
        Trouble::Down => error(503, "service_unavailable", "Notion is unavailable, please try again later."),
    })
}

fn title_of(d: &Value) -> String {
    d["title"][0]["plain_text"].as_str().unwrap_or_default().to_lowercase()
}

fn search(s: &Seen) -> Shape {
    let Ok(body) = serde_json::from_slice::<Value>(&s.body) else {
        return error(400, "invalid_json", "Error parsing JSON body.");
    };
    if body["filter"] != json!({"property": "object", "value": "data_source"}) {
        return wrong(s, &format!("filter {} is not the data source filter", body["filter"]));
    }
    if let Some(k) = body
        .as_object()
        .unwrap()
        .keys()
        .find(|k| !["filter", "page_size", "start_cursor", "query", "sort"].contains(&k.as_str()))
    {
        return error(400, "validation_error", &format!("body failed validation: body.{k} should be not present"));
    }
    let size = match &body["page_size"] {
        Value::Null => 100,
        Value::Number(n) if n.as_u64().is_some_and(|n| (1..=100).contains(&n)) => n.as_u64().unwrap() as usize,
        other => {
            return error(
                400,
                "validation_error",
                &format!(
                    "body failed validation: body.page_size should be a number between 1 and 100, instead was `{other}`."
                ),
            );
        }
    };
    let q = body["query"].as_str().unwrap_or_default().to_lowercase();
    let matching: Vec<Value> = data_sources().into_iter().filter(|d| title_of(d).contains(&q)).collect();
    // A cursor is the id of the first result of the next page.
    let start = match body["start_cursor"].as_str() {
        None => 0,
        Some(c) => match matching.iter().position(|d| d["id"] == c) {
            Some(i) => i,
            None => {
                return error(
                    400,
                    "validation_error",
                    "body failed validation: body.start_cursor should be a valid cursor.",
                );
            }
        },
    };
    let (page, next) = window(&matching, start, size);
    shape(
        200,
        json!({
            "object": "list", "results": page, "next_cursor": next.map(|n| matching[n]["id"].clone()),
            "has_more": next.is_some(), "type": "page_or_data_source", "page_or_data_source": {}
        }),
    )
}

fn handle(c: &Control, s: &Seen) -> Shape {
    let t = c.enter(s);
    if s.header("notion-version") != Some("2025-09-03") {
        return error(
            400,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
        );
    }
    if s.bearer().as_deref() != Some(TOKEN) {
        return error(401, "unauthorized", "API token is invalid.");
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    let not_found = |what: &str, id: &str| {
        error(
            404,
            "object_not_found",
            &format!(
                "Could not find {what} with ID: {id}. Make sure the relevant pages and databases are shared with your integration."
            ),
        )
    };
    match (s.method.as_str(), s.path.as_str()) {
        ("GET", "/v1/users/me") => shape(
            200,
            json!({"object": "user", "id": "9188c6a5-7381-452f-b3dc-d4865aa89bdf", "name": "Acme Sync", "type": "bot", "bot": {"owner": {"type": "workspace", "workspace": true}, "workspace_name": "Acme"}}),
        ),
        ("POST", "/v1/search") => search(s),
        ("GET", p) => {
            if let Some(id) = p.strip_prefix("/v1/databases/") {
                let normalized = id.replace('-', "");
                return match data_sources().into_iter().find(|d| d["parent"]["database_id"] == normalized.as_str()) {
                    Some(d) => shape(
                        200,
                        json!({
                            "object": "database", "id": id, "title": d["title"].clone(),
                            "data_sources": [{"id": d["id"].clone(), "name": d["title"][0]["plain_text"].clone()}]
                        }),
                    ),
                    None => not_found("database", id),
                };
            }
            match p.strip_prefix("/v1/data_sources/") {
                Some(TASKS) => shape(200, tasks_schema()),
                Some(id) => match data_sources().into_iter().find(|d| d["id"] == id) {
                    Some(mut d) => {
                        d["properties"] =
                            json!({"Name": {"id": "title", "name": "Name", "type": "title", "title": {}}});
                        shape(200, d)
                    }
                    None => not_found("data_source", id),
                },
                None => error(400, "invalid_request_url", "Invalid request URL."),
            }
        }
        _ => error(400, "invalid_request_url", "Invalid request URL."),
    }
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://api.notion.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
