//! Notion's API, version 2025-09-03 (https://developers.notion.com/reference/post-search,
//! database-retrieve, retrieve-a-data-source): a bearer token and `Notion-Version`, search as a
//! POST with a JSON body (`filter` on object = data_source, `page_size` a number up to 100,
//! `start_cursor`, `query` matching titles), answers `{"object": "list", "results", "next_cursor",
//! "has_more"}`, a database holding `data_sources`, a data source's `properties` keyed by name, and
//! errors as `{"object": "error", "status", "code", "message"}`. Creating a page
//! (https://developers.notion.com/reference/post-page) takes `parent` (a data source), `properties`
//! keyed by name, each a property value object of its type (page-property-values), and optional
//! `children` blocks; it answers the page.

use serde_json::{Value, json};

use super::{Api, Control, Trouble, window, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const TOKEN: &str = "ntn_4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b";
/// The Tasks database (32 hex digits, as in its URL) and its one data source.
pub const TASKS_DB: &str = "248104cd477e80fdb757e945d38000bd";
pub const TASKS: &str = "248104cd-477e-80af-bc30-000bd28de8f9";
/// The Customers data source, with a property of most types.
pub const CUSTOMERS: &str = "1a2b3c4d-0000-4000-8000-000000000004";
/// The page that creating one answers.
pub const NEW_PAGE: &str = "59833787-2cf9-4fdf-8782-e53db20768a5";

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

fn customers_properties() -> Value {
    let options = |names: &[&str]| -> Value {
        names.iter().enumerate().map(|(i, n)| json!({"id": format!("o{i}"), "name": n, "color": "default"})).collect()
    };
    json!({
        "Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
        "Company": {"id": "c%3Ao", "name": "Company", "type": "rich_text", "rich_text": {}},
        "Seats": {"id": "s%3Ae", "name": "Seats", "type": "number", "number": {"format": "number"}},
        "Active": {"id": "a%3Ac", "name": "Active", "type": "checkbox", "checkbox": {}},
        "Plan": {"id": "p%3Al", "name": "Plan", "type": "select", "select": {"options": options(&["Free", "Pro"])}},
        "Regions": {"id": "r%3Ae", "name": "Regions", "type": "multi_select", "multi_select": {"options": options(&["EU", "US"])}},
        "Stage": {"id": "s%3At", "name": "Stage", "type": "status", "status": {"options": options(&["Lead", "Customer", "Churned"]), "groups": []}},
        "Since": {"id": "s%3Ai", "name": "Since", "type": "date", "date": {}},
        "Website": {"id": "w%3Ae", "name": "Website", "type": "url", "url": {}},
        "Email": {"id": "e%3Am", "name": "Email", "type": "email", "email": {}},
        "Phone": {"id": "p%3Ah", "name": "Phone", "type": "phone_number", "phone_number": {}},
        "Owner": {"id": "o%3Aw", "name": "Owner", "type": "people", "people": {}},
        "ARR": {"id": "a%3Ar", "name": "ARR", "type": "formula", "formula": {"expression": "prop(\"Seats\") * 120"}},
        "Created": {"id": "c%3Ar", "name": "Created", "type": "created_time", "created_time": {}}
    })
}

/// Rich text as we send it: text objects with string content.
fn is_text(v: &Value) -> bool {
    v.as_array().is_some_and(|a| {
        a.iter().all(|t| {
            t["type"] == "text"
                && t["text"]["content"].as_str().is_some_and(|c| c.chars().count() <= 2000)
                && t.as_object().unwrap().len() == 2
        })
    })
}

fn iso_date(v: &Value) -> bool {
    v.as_str().is_some_and(|d| {
        let b = d.as_bytes();
        b.len() >= 10
            && b[4] == b'-'
            && b[7] == b'-'
            && d[..4].bytes().chain(d[5..7].bytes()).all(|c| c.is_ascii_digit())
    })
}

fn create_page(s: &Seen) -> Shape {
    if s.header("content-type") != Some("application/json") {
        return wrong(s, &format!("content-type {:?}, documented application/json", s.header("content-type")));
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&s.body) else {
        return error(400, "invalid_json", "Error parsing JSON body.");
    };
    if let Some(k) = body.keys().find(|k| !["parent", "properties", "children"].contains(&k.as_str())) {
        return wrong(s, &format!("unexpected body key {k:?}"));
    }
    let parent = &body["parent"];
    if parent.as_object().map(|p| p.len()) != Some(2) || parent["type"] != "data_source_id" {
        return wrong(s, &format!("parent {parent} is not a data source parent"));
    }
    let source = parent["data_source_id"].as_str().unwrap_or_default();
    let schema = match source {
        CUSTOMERS => customers_properties(),
        TASKS => tasks_schema()["properties"].clone(),
        other => {
            return error(
                404,
                "object_not_found",
                &format!(
                    "Could not find data_source with ID: {other}. Make sure the relevant pages and databases are shared with your integration."
                ),
            );
        }
    };
    let Some(Value::Object(props)) = body.get("properties") else {
        return error(
            400,
            "validation_error",
            "body failed validation: body.properties should be defined, instead was `undefined`.",
        );
    };
    for (name, value) in props {
        let Some(kind) = schema[name]["type"].as_str() else {
            return error(400, "validation_error", &format!("{name} is not a property that exists."));
        };
        let invalid = |why: &str| {
            error(400, "validation_error", &format!("body failed validation: body.properties.{name}.{kind} {why}"))
        };
        let Some(obj) = value.as_object().filter(|o| o.len() == 1 && o.contains_key(kind)) else {
            return wrong(s, &format!("properties.{name} is {value}, not a {kind} property value"));
        };
        let v = &obj[kind];
        let option = |o: &Value| o.as_object().is_some_and(|o| o.len() == 1 && o["name"].is_string());
        let ok = match kind {
            "title" | "rich_text" => is_text(v),
            "number" => v.is_number(),
            "checkbox" => v.is_boolean(),
            "select" => option(v),
            "status" => {
                option(v)
                    && schema[name]["status"]["options"].as_array().unwrap().iter().any(|o| o["name"] == v["name"])
            }
            "multi_select" => v.as_array().is_some_and(|a| a.iter().all(option)),
            "date" => {
                if !(v.as_object().map(|o| o.len()) == Some(1) && v["start"].is_string()) {
                    false
                } else if !iso_date(&v["start"]) {
                    return invalid(&format!(
                        ".start should be a valid ISO 8601 date string, instead was `{}`.",
                        v["start"]
                    ));
                } else {
                    true
                }
            }
            "url" | "email" | "phone_number" => v.is_string(),
            _ => return invalid("should be not present: it cannot be set through the API."),
        };
        if !ok {
            return wrong(s, &format!("properties.{name}.{kind} is {v}, not its documented shape"));
        }
    }
    if let Some(children) = body.get("children") {
        let paragraphs = children.as_array().is_some_and(|a| {
            a.len() <= 100
                && a.iter().all(|b| {
                    b["object"] == "block"
                        && b["type"] == "paragraph"
                        && b.as_object().unwrap().len() == 3
                        && b["paragraph"].as_object().map(|p| p.len()) == Some(1)
                        && is_text(&b["paragraph"]["rich_text"])
                })
        });
        if !paragraphs {
            return wrong(s, "children are not paragraph blocks");
        }
    }
    shape(
        200,
        json!({
            "object": "page", "id": NEW_PAGE, "created_time": "2026-12-01T09:30:00.000Z",
            "last_edited_time": "2026-12-01T09:30:00.000Z", "archived": false, "in_trash": false,
            "parent": {"type": "data_source_id", "data_source_id": source},
            "url": format!("https://www.notion.so/New-customer-{}", NEW_PAGE.replace('-', "")),
            "public_url": null, "properties": props
        }),
    )
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
        ("POST", "/v1/pages") => create_page(s),
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
                Some(CUSTOMERS) => {
                    let mut d = data_sources().into_iter().find(|d| d["id"] == CUSTOMERS).unwrap();
                    d["properties"] = customers_properties();
                    shape(200, d)
                }
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
