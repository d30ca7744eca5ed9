//! SendGrid's v3 API (https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send): a
//! bearer API key; `POST /v3/mail/send` takes a JSON body of personalizations, from, subject,
//! content (text/plain before text/html) and base64 attachments, and answers 202 with no body and
//! an `X-Message-Id`; errors as `{"errors": [{"message", "field", "help"}]}` — 400 for a malformed
//! body, 403 for a sender that is not a verified Sender Identity, 429 with the rate-limit headers.

use base64::Engine as _;
use serde_json::{Value, json};

use super::{Api, Control, Trouble, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const KEY: &str = "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";
/// The one verified sender.
pub const SENDER: &str = "alerts@acme.example";

fn errors(status: u16, field: Option<&str>, message: &str) -> Shape {
    shape(status, json!({"errors": [{"message": message, "field": field, "help": null}]}))
}

fn handle(c: &Control, s: &Seen) -> Shape {
    let t = c.enter(s);
    if s.bearer().as_deref() != Some(KEY) {
        return errors(401, None, "The provided authorization grant is invalid, expired, or revoked");
    }
    match t {
        Trouble::Unauthorized(_) => {
            return errors(401, None, "The provided authorization grant is invalid, expired, or revoked");
        }
        Trouble::Forbidden => return errors(403, None, "access forbidden"),
        Trouble::RateLimited => {
            return errors(429, None, "too many requests")
                .header("x-ratelimit-limit", "600")
                .header("x-ratelimit-remaining", "0");
        }
        Trouble::Down => return errors(503, None, "service unavailable"),
        Trouble::None => {}
    }
    match (s.method.as_str(), s.path.as_str()) {
        ("GET", "/v3/user/username") => shape(200, json!({"username": "acme-mail", "user_id": 4242})),
        ("POST", "/v3/mail/send") => mail_send(s),
        _ => errors(404, None, "not found"),
    }
}

fn mail_send(s: &Seen) -> Shape {
    if s.header("content-type") != Some("application/json") {
        return wrong(s, "the body is application/json");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&s.body) else { return errors(400, None, "Bad Request") };
    let allowed = ["personalizations", "from", "reply_to", "subject", "content", "attachments"];
    if let Some(k) = body.as_object().and_then(|o| o.keys().find(|k| !allowed.contains(&k.as_str()))) {
        return wrong(s, &format!("unexpected field {k}"));
    }
    let Some(p) = body["personalizations"].as_array().filter(|p| p.len() == 1) else {
        return errors(
            400,
            Some("personalizations"),
            "The personalizations field is required and must have at least one personalization.",
        );
    };
    if p[0]["to"].as_array().is_none_or(Vec::is_empty) {
        return errors(
            400,
            Some("personalizations.0.to"),
            "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
        );
    }
    let content = body["content"].as_array().cloned().unwrap_or_default();
    let types: Vec<&str> = content.iter().filter_map(|c| c["type"].as_str()).collect();
    if content.is_empty() || (types.len() == 2 && types != ["text/plain", "text/html"]) {
        return errors(
            400,
            Some("content"),
            "If present, text/plain must be first, followed by text/html, followed by any other content.",
        );
    }
    for a in body["attachments"].as_array().into_iter().flatten() {
        let decodes =
            a["content"].as_str().is_some_and(|c| base64::engine::general_purpose::STANDARD.decode(c).is_ok());
        if !decodes || a["filename"].as_str().is_none() {
            return errors(400, Some("attachments.0.content"), "The attachment content must be base64 encoded.");
        }
    }
    if body["from"]["email"] != SENDER {
        return errors(
            403,
            Some("from"),
            "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved.",
        );
    }
    shape(202, Value::String(String::new())).header("x-message-id", "W9Ek2Zb1QAmOy7vNhnTqRw")
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://api.sendgrid.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
