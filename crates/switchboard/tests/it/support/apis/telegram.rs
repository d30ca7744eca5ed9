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
    if s.method == "POST"
        && let Some(boundary) = s.header("content-type").and_then(|c| c.strip_prefix("multipart/form-data; boundary="))
    {
        return upload(method, boundary, s, required, optional);
    }
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

/// A file uploaded as multipart/form-data: text parts for the method's fields, one file part
/// (with a filename) under `photo` or `document`. The answer's `file_unique_id` is here the
/// SHA-256 (hex, first 16) of the bytes received, and `file_size` their length, so a test sees them.
fn upload(method: &str, boundary: &str, s: &Seen, required: &[&str], optional: &[&str]) -> Shape {
    use sha2::Digest as _;
    let file_field = match method {
        "sendPhoto" => "photo",
        "sendDocument" => "document",
        _ => return wrong(s, "only sendPhoto and sendDocument take a file here"),
    };
    let delimiter = format!("--{boundary}");
    let body = &s.body;
    let find =
        |from: usize, needle: &[u8]| body[from..].windows(needle.len()).position(|w| w == needle).map(|i| i + from);
    let mut at = match find(0, delimiter.as_bytes()) {
        Some(0) => delimiter.len(),
        _ => return fail(400, "Bad Request: can't parse multipart body"),
    };
    let mut fields = Map::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        if body[at..].starts_with(b"--\r\n") {
            break;
        }
        let Some(head_end) = find(at, b"\r\n\r\n") else { return fail(400, "Bad Request: can't parse multipart body") };
        let head = String::from_utf8_lossy(&body[at + 2..head_end]).into_owned();
        let Some(next) = find(head_end, format!("\r\n{delimiter}").as_bytes()) else {
            return fail(400, "Bad Request: can't parse multipart body");
        };
        let content = body[head_end + 4..next].to_vec();
        let attr = |name: &str| {
            head.split(';').find_map(|p| {
                p.trim().strip_prefix(&format!("{name}=\"")).and_then(|v| v.split('"').next()).map(str::to_owned)
            })
        };
        let Some(name) = attr("name") else { return fail(400, "Bad Request: a part has no name") };
        match attr("filename") {
            Some(filename) if name == file_field => file = Some((filename, content)),
            Some(_) => return wrong(s, &format!("a file under {name}")),
            None => {
                let text = String::from_utf8_lossy(&content).into_owned();
                fields.insert(name, text.parse::<i64>().map_or(Value::String(text), Value::from));
            }
        }
        at = next + 2 + delimiter.len();
    }
    if let Some(k) = fields.keys().find(|k| !required.contains(&k.as_str()) && !optional.contains(&k.as_str())) {
        return wrong(s, &format!("{method} takes no parameter {k}"));
    }
    let Some((filename, bytes)) = file else {
        return fail(400, &format!("Bad Request: there is no {file_field} in the request"));
    };
    if fields.get("chat_id") != Some(&json!(CHAT)) && fields.get("chat_id") != Some(&json!("@acme_news")) {
        return fail(400, "Bad Request: chat not found");
    }
    let unique = hex::encode(sha2::Sha256::digest(&bytes))[..16].to_owned();
    let size = bytes.len();
    if file_field == "photo" {
        message(
            json!({"photo": [{"file_id": "AgACAgQAAxkDAAIBaH", "file_unique_id": unique, "width": 640, "height": 480, "file_size": size}], "caption": fields.get("caption")}),
        )
    } else {
        message(
            json!({"document": {"file_id": "BQACAgQAAxkDAAIBaI", "file_unique_id": unique, "file_name": filename, "file_size": size}, "caption": fields.get("caption")}),
        )
    }
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
