//! Slack's Web API (https://docs.slack.dev/reference/methods/conversations.list, users.list,
//! conversations.info, chat.postMessage, auth.test): a bot token in `Authorization: Bearer`, answers with HTTP 200
//! and `ok`, errors as `{"ok": false, "error"}` (missing_scope naming the scope `needed`), 429 with
//! Retry-After, and paging by `response_metadata.next_cursor`, empty on the last page.

use serde_json::{Value, json};

use super::{Api, Control, Trouble, expect_query, number, offset_of, token_for, window, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const BOT_TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";

fn channel(id: &str, name: &str, private: bool, members: u32) -> Value {
    json!({
        "id": id, "name": name, "is_channel": !private, "is_group": private, "is_im": false, "is_mpim": false,
        "is_private": private, "created": 1_449_252_889, "is_archived": false, "is_general": name == "general",
        "name_normalized": name, "is_shared": false, "is_member": true, "creator": "W012A3CDE",
        "topic": {"value": format!("All about {name}"), "creator": "W012A3CDE", "last_set": 1_449_252_889},
        "purpose": {"value": "", "creator": "", "last_set": 0}, "num_members": members
    })
}

/// Seven channels: three pages of two and one of one.
pub fn channels() -> Vec<Value> {
    vec![
        channel("C012AB3CD", "general", false, 42),
        channel("C061EG9SL", "random", false, 40),
        channel("C07SALES1", "sales", false, 12),
        channel("G07SALESE", "sales-emea", true, 5),
        channel("C08SUPPRT", "support", false, 9),
        channel("C08ENGNRG", "engineering", false, 20),
        channel("G09LEADS1", "leadership", true, 4),
    ]
}

fn user(id: &str, handle: &str, real: &str, bot: bool) -> Value {
    json!({
        "id": id, "team_id": "T012AB3C4", "name": handle, "deleted": false, "real_name": real,
        "tz": "Europe/London", "is_bot": bot, "is_admin": false,
        "profile": {"display_name": handle, "real_name": real, "email": format!("{handle}@acme.example")}
    })
}

/// Two people share a name, as people do.
pub fn users() -> Vec<Value> {
    vec![
        user("W012A3CDE", "ada", "Ada Lovelace", false),
        user("W07ALEXK1", "alex.kim", "Alex Kim", false),
        user("W07ALEXK2", "akim", "Alex Kim", false),
        user("B0DEPLOYB", "deploybot", "Deploy Bot", true),
    ]
}

fn ok(mut body: Value) -> Shape {
    body["ok"] = json!(true);
    shape(200, body)
}

fn error(code: &str) -> Shape {
    shape(200, json!({"ok": false, "error": code}))
}

fn trouble(t: Trouble) -> Option<Shape> {
    Some(match t {
        Trouble::None => return None,
        Trouble::Unauthorized(_) => error("invalid_auth"),
        Trouble::Forbidden => shape(
            200,
            json!({"ok": false, "error": "missing_scope", "needed": "channels:read", "provided": "chat:write"}),
        ),
        Trouble::RateLimited => shape(429, json!({"ok": false, "error": "ratelimited"})).header("retry-after", "30"),
        Trouble::Down => shape(503, Value::String("<html><body>Service Unavailable</body></html>".into())),
    })
}

/// A cursored page of `items` under `key`: `limit` under 1000, `cursor` from the last answer.
fn page(s: &Seen, items: &[Value], key: &str) -> Shape {
    let limit = match number(s, "limit", 100) {
        Ok(l) if (1..1000).contains(&l) => l,
        Ok(_) => return error("invalid_limit"),
        Err(e) => return e,
    };
    let start = match s.query("cursor") {
        None => 0,
        Some(c) => match offset_of(&c) {
            Some(o) => o,
            None => return error("invalid_cursor"),
        },
    };
    let (page, next) = window(items, start, limit);
    ok(json!({key: page, "response_metadata": {"next_cursor": next.map(token_for).unwrap_or_default()}}))
}

fn handle(c: &Control, s: &Seen) -> Shape {
    let t = c.enter(s);
    if s.bearer().as_deref() != Some(BOT_TOKEN) {
        return error("not_authed");
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    match (s.method.as_str(), s.path.as_str()) {
        ("POST", "/api/auth.test") => ok(json!({
            "url": "https://acme.slack.com/", "team": "Acme", "user": "deploybot", "team_id": "T012AB3C4",
            "user_id": "U0BOTUSER", "bot_id": "B0DEPLOYB", "is_enterprise_install": false
        })),
        ("GET", "/api/conversations.list") => {
            let q = [
                ("types", Some("public_channel,private_channel")),
                ("exclude_archived", Some("true")),
                ("limit", None),
            ];
            if let Err(e) = expect_query(s, &q, &["cursor"]) {
                return e;
            }
            page(s, &channels(), "channels")
        }
        ("GET", "/api/conversations.info") => {
            let Some(id) = s.query("channel") else { return wrong(s, "no channel") };
            // An archived channel is not listed (exclude_archived) but can still be looked up.
            let mut archived = channel("C05OLDNEW", "old-news", false, 3);
            archived["is_archived"] = json!(true);
            match channels().into_iter().chain([archived]).find(|c| c["id"] == id.as_str()) {
                Some(c) => ok(json!({"channel": c})),
                None => error("channel_not_found"),
            }
        }
        ("POST", "/api/chat.postMessage") => post_message(s),
        ("GET", "/api/users.list") => {
            if let Err(e) = expect_query(s, &[("limit", None)], &["cursor"]) {
                return e;
            }
            page(s, &users(), "members")
        }
        _ => error("unknown_method"),
    }
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://slack.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}

/// chat.postMessage with a JSON body (`Content-type: application/json`): `channel` an id, `text`;
/// an archived channel answers `is_archived`, an unknown one `channel_not_found`.
fn post_message(s: &Seen) -> Shape {
    if s.header("content-type") != Some("application/json") {
        return wrong(s, "JSON bodies must say Content-type: application/json");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&s.body) else { return wrong(s, "the body is not JSON") };
    let allowed = ["channel", "text", "thread_ts", "unfurl_links"];
    if let Some(k) = body.as_object().and_then(|o| o.keys().find(|k| !allowed.contains(&k.as_str()))) {
        return wrong(s, &format!("unexpected argument {k}"));
    }
    let (Some(channel), Some(text)) = (body["channel"].as_str(), body["text"].as_str()) else {
        return error("no_text");
    };
    if channel == "C05OLDNEW" {
        return error("is_archived");
    }
    if !channels().iter().any(|c| c["id"] == channel) {
        return error("channel_not_found");
    }
    ok(json!({
        "channel": channel, "ts": "1503435956.000247",
        "message": {"text": text, "username": "deploybot", "bot_id": "B0DEPLOYB", "type": "message", "subtype": "bot_message", "ts": "1503435956.000247"}
    }))
}
