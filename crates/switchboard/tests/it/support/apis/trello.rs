//! Trello's REST API (https://developer.atlassian.com/cloud/trello/rest/api-group-members/#api-members-id-boards-get,
//! api-group-boards: GET /1/boards/{id}, GET /1/boards/{id}/lists): `key` and `token` in the query
//! string, unpaged arrays, a board found by its id or its shortLink, and Trello's plain-text errors
//! ("invalid token", "invalid id", "The requested resource was not found.").
//!
//! Create a new card (https://developer.atlassian.com/cloud/trello/rest/api-group-cards/#api-cards-post):
//! `POST /1/cards`, its query parameters replaced by a JSON body of documented fields only, `idList`
//! required (the id of an open list; otherwise the plain-text 400 "invalid value for idList"),
//! answered with the card.

use serde_json::{Value, json};

use super::{Api, Control, Trouble, expect_query, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const KEY: &str = "0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "ATTA9d1e5a0c4b7f3e2d8c6a1b0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a60F1E2D3C4";
pub const ROADMAP: &str = "5abbe4b7ddc1b351ef961414";

fn board(id: &str, short: &str, name: &str, slug: &str, starred: bool) -> Value {
    json!({
        "id": id, "name": name, "url": format!("https://trello.com/b/{short}/{slug}"),
        "shortUrl": format!("https://trello.com/b/{short}"), "shortLink": short, "closed": false,
        "idOrganization": "5a5b5c5d5e5f606162636465", "starred": starred
    })
}

pub fn boards() -> Vec<Value> {
    vec![
        board(ROADMAP, "nC8QJJoZ", "Roadmap", "roadmap", true),
        board("5abbe4b7ddc1b351ef961415", "Xy12AbCd", "Hiring", "hiring", false),
        board("5abbe4b7ddc1b351ef961416", "Qw34ErTy", "Marketing", "marketing", false),
        board("5abbe4b7ddc1b351ef961417", "Zx56CvBn", "Roadmap 2025", "roadmap-2025", false),
    ]
}

fn lists() -> Vec<Value> {
    ["To Do", "Doing", "Done"]
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"id": format!("5abbe4b7ddc1b351ef9614a{i}"), "name": n, "closed": false, "pos": 16384 * (i + 1), "idBoard": ROADMAP}))
        .collect()
}

pub const HIRING: &str = "5abbe4b7ddc1b351ef961415";

/// A list of the Hiring board deleted in Trello after it was listed (listings are cached for
/// minutes): it is still offered, and Trello refuses cards for it.
pub const DELETED_LIST: &str = "5abbe4b7ddc1b351ef9614b1";

fn hiring_lists() -> Vec<Value> {
    [("5abbe4b7ddc1b351ef9614b0", "Applied"), (DELETED_LIST, "Withdrawn")]
        .iter()
        .enumerate()
        .map(|(i, (id, n))| json!({"id": id, "name": n, "closed": false, "pos": 16384 * (i + 1), "idBoard": HIRING}))
        .collect()
}

fn text(status: u16, t: &str) -> Shape {
    shape(status, Value::String(t.into()))
}

fn trouble(t: Trouble) -> Option<Shape> {
    Some(match t {
        Trouble::None => return None,
        Trouble::Unauthorized(_) => text(401, "invalid token"),
        Trouble::Forbidden => text(401, "unauthorized permission requested"),
        Trouble::RateLimited => {
            shape(429, json!({"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}))
        }
        Trouble::Down => text(503, "Service Unavailable"),
    })
}

fn fields(s: &Seen, documented: &str) -> Result<(), Shape> {
    expect_query(s, &[("key", Some(KEY)), ("token", Some(TOKEN)), ("fields", Some(documented))], &["filter"])
}

const BOARD_FIELDS: &str = "id,name,url,shortUrl,closed,idOrganization,starred";

fn handle(c: &Control, s: &Seen) -> Shape {
    let t = c.enter(s);
    if s.query("key").as_deref() != Some(KEY) {
        return text(401, "invalid key");
    }
    if s.query("token").as_deref() != Some(TOKEN) {
        return text(401, "invalid token");
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    if (s.method.as_str(), s.path.as_str()) == ("POST", "/1/cards") {
        return create_card(s);
    }
    if s.method != "GET" {
        return wrong(s, "only GET is used");
    }
    let rest = s.path.as_str();
    if rest == "/1/members/me" {
        return shape(
            200,
            json!({"id": "5abbe4b7ddc1b351ef961400", "username": "acmeops", "fullName": "Acme Ops", "url": "https://trello.com/u/acmeops"}),
        );
    }
    if rest == "/1/members/me/boards" {
        if let Err(e) = fields(s, BOARD_FIELDS) {
            return e;
        }
        if s.query("filter").as_deref() != Some("open") {
            return wrong(s, "filter=open expected");
        }
        return shape(200, Value::Array(boards().into_iter().map(asked).collect()));
    }
    let Some(tail) = rest.strip_prefix("/1/boards/") else { return wrong(s, "not a documented endpoint") };
    let (id, lists_of) = match tail.strip_suffix("/lists") {
        Some(id) => (id, true),
        None => (tail, false),
    };
    if !(id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit())
        || id.len() == 8 && id.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return text(400, "invalid id");
    }
    let Some(b) = boards().into_iter().find(|b| b["id"] == id || b["shortLink"] == id) else {
        return text(404, "The requested resource was not found.");
    };
    if lists_of {
        if let Err(e) = fields(s, "id,name,closed,pos,idBoard") {
            return e;
        }
        let of_board = match b["id"].as_str() {
            Some(ROADMAP) => lists(),
            Some(HIRING) => hiring_lists(),
            _ => Vec::new(),
        };
        return shape(200, Value::Array(of_board));
    }
    if let Err(e) = fields(s, BOARD_FIELDS) {
        return e;
    }
    shape(200, asked(b))
}

/// The documented fields of Create a new card.
const CARD_FIELDS: [&str; 17] = [
    "name",
    "desc",
    "pos",
    "due",
    "start",
    "dueComplete",
    "idList",
    "idMembers",
    "idLabels",
    "urlSource",
    "fileSource",
    "mimeType",
    "idCardSource",
    "keepFromSource",
    "address",
    "locationName",
    "coordinates",
];

fn create_card(s: &Seen) -> Shape {
    // Only the key and the token in the query: the card's fields are in the JSON body.
    if let Err(e) = expect_query(s, &[("key", Some(KEY)), ("token", Some(TOKEN))], &[]) {
        return e;
    }
    if s.header("content-type") != Some("application/json") {
        return wrong(s, "a JSON body must say Content-Type: application/json");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&s.body) else {
        return wrong(s, "the body is not a JSON object");
    };
    if let Some(k) = body.keys().find(|k| !CARD_FIELDS.contains(&k.as_str())) {
        return wrong(s, &format!("{k} is not a parameter of Create a new card"));
    }
    for k in ["name", "desc", "due"] {
        if body.get(k).is_some_and(|v| !v.is_string()) {
            return wrong(s, &format!("{k} is a string"));
        }
    }
    match body.get("pos") {
        None => {}
        Some(Value::String(p)) if p == "top" || p == "bottom" => {}
        Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f > 0.0) => {}
        Some(other) => return wrong(s, &format!("pos is top, bottom or a positive float, not {other}")),
    }
    let Some(list) = body
        .get("idList")
        .and_then(Value::as_str)
        .and_then(|id| lists().into_iter().chain(hiring_lists()).find(|l| l["id"] == id && id != DELETED_LIST))
    else {
        return text(400, "invalid value for idList");
    };
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    let slug: String = name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    shape(
        200,
        json!({
            "id": "5abbe4b7ddc1b351ef9614c7", "idShort": 42, "shortLink": "Hx7vXK2b", "name": name,
            "desc": body.get("desc").cloned().unwrap_or_else(|| json!("")),
            "due": body.get("due").cloned().unwrap_or(Value::Null), "dueComplete": false, "start": null,
            "idList": list["id"], "idBoard": list["idBoard"], "idMembers": [], "idLabels": [], "labels": [],
            "closed": false, "pos": 8192, "dateLastActivity": "2026-07-30T23:19:04.000Z",
            "url": format!("https://trello.com/c/Hx7vXK2b/42-{slug}"), "shortUrl": "https://trello.com/c/Hx7vXK2b",
            "badges": {"votes": 0, "comments": 0, "attachments": 0, "checkItems": 0, "checkItemsChecked": 0, "description": body.contains_key("desc")}
        }),
    )
}

/// A board with the fields asked for (shortLink is kept here only to find boards by it).
fn asked(mut b: Value) -> Value {
    b.as_object_mut().unwrap().remove("shortLink");
    b
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://api.trello.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
