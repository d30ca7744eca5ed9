//! The Telegram Bot API (https://core.telegram.org/bots/api#making-requests): every method at
//! `/bot<token>/METHOD`, here as POSTs of JSON objects; answers `{"ok": true, "result": …}` or
//! `{"ok": false, "error_code", "description"}` with the same HTTP status, 429s with
//! `parameters.retry_after` (and no Retry-After header). getMe, sendMessage, sendPhoto,
//! sendDocument, sendLocation and sendPoll check their documented fields and answer Message objects.

use serde_json::{Map, Value, json};

use super::{Api, Control, Trouble, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
/// The only chat the bot is in; `@acme_news` names it too.
pub const CHAT: i64 = -1_001_234_567_890;

fn fail(code: u16, description: &str) -> Shape {
    shape(code, json!({"ok": false, "error_code": code, "description": description}))
}

/// A Message sent to the chat, with `extra` fields (text, photo, document, location, poll).
fn message(extra: Value) -> Shape {
    let mut m = json!({
        "message_id": 4_711, "date": 1_764_547_200,
        "from": {"id": 123_456_789, "is_bot": true, "first_name": "Acme", "username": "acme_bot"},
        "chat": {"id": CHAT, "title": "Acme News", "type": "channel", "username": "acme_news"}
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        m[k] = v;
    }
    shape(200, json!({"ok": true, "result": m}))
}

/// The documented fields of each method: (required, optional).
fn fields(method: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match method {
        "sendMessage" => (&["chat_id", "text"], &["parse_mode", "disable_notification", "message_thread_id"]),
        "sendPhoto" => (&["chat_id", "photo"], &["caption", "parse_mode"]),
        "sendDocument" => (&["chat_id", "document"], &["caption"]),
        "sendLocation" => (&["chat_id", "latitude", "longitude"], &["horizontal_accuracy"]),
        "sendPoll" => (&["chat_id", "question", "options"], &["is_anonymous", "allows_multiple_answers"]),
        _ => return None,
    })
}

fn handle(c: &Control, s: &Seen) -> Shape {
    let t = c.enter(s);
    let Some(method) = s.path.strip_prefix(&format!("/bot{TOKEN}/")) else {
        return fail(401, "Unauthorized");
    };
    match t {
        Trouble::Unauthorized(_) => return fail(401, "Unauthorized"),
        Trouble::Forbidden => return fail(403, "Forbidden: bot was kicked from the channel chat"),
        Trouble::RateLimited => {
            return shape(
                429,
                json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}}),
            );
        }
        Trouble::Down => return fail(502, "Bad Gateway"),
        Trouble::None => {}
    }
    if method == "getMe" {
        return shape(
            200,
            json!({"ok": true, "result": {"id": 123_456_789, "is_bot": true, "first_name": "Acme", "username": "acme_bot", "can_join_groups": true}}),
        );
    }
    let Some((required, optional)) = fields(method) else { return fail(404, "Not Found") };
    if s.method != "POST" || s.header("content-type") != Some("application/json") {
        return wrong(s, "methods are called here as POSTs of application/json");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&s.body) else {
        return wrong(s, "the body is not a JSON object");
    };
    if let Some(k) = body.keys().find(|k| !required.contains(&k.as_str()) && !optional.contains(&k.as_str())) {
        return wrong(s, &format!("{method} takes no parameter {k}"));
    }
    if let Some(k) = required.iter().find(|k| !body.contains_key(**k)) {
        return fail(400, &format!("Bad Request: {k} is empty"));
    }
    let chat = &body["chat_id"];
    if chat != &json!(CHAT) && chat != "@acme_news" {
        return fail(400, "Bad Request: chat not found");
    }
    answer(method, &body)
}

fn answer(method: &str, body: &Map<String, Value>) -> Shape {
    match method {
        "sendMessage" => message(json!({"text": body["text"]})),
        "sendPhoto" => {
            let photo = body["photo"].as_str().unwrap_or_default();
            if !photo.starts_with("https://") && !photo.starts_with("AgAC") {
                return fail(400, "Bad Request: wrong remote file identifier specified: Wrong string length");
            }
            message(
                json!({"photo": [{"file_id": "AgACAgQAAxkDAAIBZ2", "file_unique_id": "AQADsbsxG", "width": 320, "height": 240}], "caption": body.get("caption")}),
            )
        }
        "sendDocument" => {
            let name = body["document"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or("file").to_owned();
            message(json!({"document": {"file_id": "BQACAgQAAxkDAAIB", "file_unique_id": "AgADx", "file_name": name}}))
        }
        "sendLocation" => {
            let (Some(lat), Some(lon)) = (body["latitude"].as_f64(), body["longitude"].as_f64()) else {
                return fail(400, "Bad Request: wrong latitude or longitude");
            };
            message(json!({"location": {"latitude": lat, "longitude": lon}}))
        }
        "sendPoll" => {
            let options = body["options"].as_array().cloned().unwrap_or_default();
            if options.iter().any(|o| o["text"].as_str().is_none()) {
                return fail(400, "Bad Request: can't parse InputPollOption");
            }
            let options: Vec<Value> = options.iter().map(|o| json!({"text": o["text"], "voter_count": 0})).collect();
            message(json!({"poll": {
                "id": "5172436712881995789", "question": body["question"], "options": options, "total_voter_count": 0,
                "is_closed": false, "is_anonymous": body.get("is_anonymous").cloned().unwrap_or(json!(true)),
                "type": "regular", "allows_multiple_answers": body.get("allows_multiple_answers").cloned().unwrap_or(json!(false))
            }}))
        }
        _ => fail(404, "Not Found"),
    }
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://api.telegram.org", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
