//! Discord's HTTP API v10 (https://discord.com/developers/docs/resources/user#get-current-user-guilds,
//! https://discord.com/developers/docs/resources/guild#get-guild-channels): `Authorization: Bot …`,
//! guilds by id ascending and paged with `after` = the last id seen (`limit` 1-200), a guild's
//! channels in one array, errors as `{"message", "code"}` (10004 Unknown Guild, 50001 Missing
//! Access) and 429 with `retry_after` and Retry-After.

use serde_json::{Value, json};

use super::{Api, Control, Trouble, expect_query, number, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const BOT_TOKEN: &str = "MTA5MDAwMDAwMDAwMDAwMDA5OQ.GhJkLm.Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE";
pub const HQ: &str = "1090000000000000001";

fn guild(id: &str, name: &str, owner: bool) -> Value {
    json!({"id": id, "name": name, "icon": null, "banner": null, "owner": owner, "permissions": "2147483647", "features": ["COMMUNITY"]})
}

/// Five servers, by id: pages of two, two and one.
pub fn guilds() -> Vec<Value> {
    vec![
        guild(HQ, "Acme HQ", true),
        guild("1090000000000000002", "Acme Support", false),
        guild("1090000000000000003", "Gaming Night", false),
        guild("1090000000000000004", "Open Source", false),
        guild("1090000000000000005", "Acme Partners", false),
    ]
}

fn channel(id: &str, kind: u8, name: &str, position: u32, parent: Option<&str>) -> Value {
    json!({
        "id": id, "type": kind, "guild_id": HQ, "position": position, "permission_overwrites": [],
        "name": name, "topic": if kind == 0 { json!(format!("{name} talk")) } else { Value::Null },
        "nsfw": false, "parent_id": parent
    })
}

/// Acme HQ's channels: a category, text channels, and a voice channel also called General.
pub fn channels() -> Vec<Value> {
    vec![
        channel("1091000000000000010", 4, "Text Channels", 0, None),
        channel("1091000000000000011", 0, "general", 0, Some("1091000000000000010")),
        channel("1091000000000000012", 0, "deploys", 1, Some("1091000000000000010")),
        channel("1091000000000000013", 2, "General", 2, None),
    ]
}

fn error(status: u16, message: &str, code: u32) -> Shape {
    shape(status, json!({"message": message, "code": code}))
}

fn trouble(t: Trouble) -> Option<Shape> {
    Some(match t {
        Trouble::None => return None,
        Trouble::Unauthorized(_) => error(401, "401: Unauthorized", 0),
        Trouble::Forbidden => error(403, "Missing Access", 50001),
        Trouble::RateLimited => {
            shape(429, json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false}))
                .header("retry-after", "2")
                .header("x-ratelimit-scope", "user")
        }
        Trouble::Down => shape(502, Value::String("<html><body>502 Bad Gateway</body></html>".into())),
    })
}

fn handle(c: &Control, s: &Seen) -> Shape {
    let t = c.enter(s);
    // Execute Webhook: the webhook's own URL, no Authorization; `wait=true` answers the message.
    if s.method == "POST"
        && let Some(token) = s.path.strip_prefix("/api/webhooks/1234567890123456789/")
    {
        if token != WEBHOOK_TOKEN {
            return error(401, "Invalid Webhook Token", 50027);
        }
        if s.header("authorization").is_some() {
            return wrong(s, "a webhook URL needs no Authorization");
        }
        if s.query("wait").as_deref() != Some("true") {
            return wrong(s, "without wait=true Discord answers 204 and no message");
        }
        if let Some(answer) = trouble(t) {
            return answer;
        }
        return create_message(s, "1091000000000000012", &["content", "username", "avatar_url"]);
    }
    // Get Webhook with Token: the webhook's own URL, no Authorization.
    if let Some(rest) = s.path.strip_prefix("/api/webhooks/1234567890123456789/") {
        return shape(
            200,
            json!({"type": 1, "id": "1234567890123456789", "name": "Deploy alerts", "channel_id": "1091000000000000012", "guild_id": HQ, "application_id": null, "token": rest}),
        );
    }
    if s.header("authorization") != Some(&format!("Bot {BOT_TOKEN}")) {
        return error(401, "401: Unauthorized", 0);
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    if s.method == "POST"
        && let Some(channel) = s.path.strip_prefix("/api/v10/channels/").and_then(|r| r.strip_suffix("/messages"))
    {
        return match channels().iter().find(|c| c["id"] == channel) {
            Some(c) if c["type"] == 0 => create_message(s, channel, &["content", "tts"]),
            Some(_) => error(400, "Cannot send messages in a non-text channel", 50008),
            None => error(404, "Unknown Channel", 10003),
        };
    }
    if s.method != "GET" {
        return error(405, "405: Method Not Allowed", 0);
    }
    match s.path.as_str() {
        "/api/v10/users/@me" => shape(
            200,
            json!({"id": "1090000000000000099", "username": "Acme Bot", "discriminator": "0", "bot": true, "verified": true}),
        ),
        "/api/v10/users/@me/guilds" => {
            if let Err(e) = expect_query(s, &[("limit", None)], &["after", "before", "with_counts"]) {
                return e;
            }
            let limit = match number(s, "limit", 200) {
                Ok(l) if (1..=200).contains(&l) => l,
                Ok(_) => return shape(400, json!({"message": "Invalid Form Body", "code": 50035})),
                Err(e) => return e,
            };
            let after: u64 = match s.query("after").map(|a| a.parse()) {
                None => 0,
                Some(Ok(a)) => a,
                Some(Err(_)) => {
                    return shape(
                        400,
                        json!({"message": "Invalid Form Body", "code": 50035, "errors": {"after": {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Value is not snowflake."}]}}}),
                    );
                }
            };
            let page: Vec<Value> = guilds()
                .into_iter()
                .filter(|g| g["id"].as_str().unwrap().parse::<u64>().unwrap() > after)
                .take(limit)
                .collect();
            shape(200, Value::Array(page))
        }
        p => match p.strip_prefix("/api/v10/guilds/").and_then(|r| r.strip_suffix("/channels")) {
            Some(HQ) => shape(200, Value::Array(channels())),
            Some(g) if guilds().iter().any(|x| x["id"] == g) => shape(200, json!([])),
            Some(_) => error(404, "Unknown Guild", 10004),
            None => wrong(s, "not a documented endpoint"),
        },
    }
}

/// The token part of the test webhook's URL.
pub const WEBHOOK_TOKEN: &str = "Xq3bTf9kLm2Np7Rs4Vw8Yz1Ac5Eg6Hj0KoQuS_dWx-";

/// Create Message / Execute Webhook: a JSON body of the `allowed` fields, `content` at most 2000
/// characters (50035 Invalid Form Body otherwise), answered with the message object.
fn create_message(s: &Seen, channel: &str, allowed: &[&str]) -> Shape {
    if s.header("content-type") != Some("application/json") {
        return wrong(s, "JSON bodies must say Content-Type: application/json");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&s.body) else {
        return wrong(s, "the body is not a JSON object");
    };
    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return wrong(s, &format!("unexpected field {k}"));
    }
    let content = body.get("content").and_then(Value::as_str).unwrap_or_default();
    if content.is_empty() || content.chars().count() > 2000 {
        return shape(
            400,
            json!({"message": "Invalid Form Body", "code": 50035, "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}}),
        );
    }
    let author = body.get("username").cloned().unwrap_or(json!("Acme Bot"));
    shape(
        200,
        json!({"id": "1092000000000000777", "type": 0, "channel_id": channel, "content": content,
            "author": {"id": "1090000000000000099", "username": author, "bot": true},
            "timestamp": "2026-12-01T10:00:00.000000+00:00", "edited_timestamp": null, "tts": body.get("tts").cloned().unwrap_or(json!(false)),
            "mention_everyone": false, "mentions": [], "attachments": [], "embeds": [], "pinned": false}),
    )
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://discord.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
