//! OpenAI's models endpoint (https://platform.openai.com/docs/api-reference/models/list): a bearer
//! key, one unpaged `{"object": "list", "data"}` answer, errors as `{"error": {"message", "type",
//! "param", "code"}}`, 429 with Retry-After.

use serde_json::{Value, json};

use super::{Api, Control, Trouble, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const KEY: &str = "sk-proj-4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c";

fn models() -> Vec<Value> {
    [
        ("gpt-4o", 1_715_367_049_u64, "system"),
        ("gpt-4o-mini", 1_721_172_741, "system"),
        ("text-embedding-3-small", 1_705_948_997, "system"),
        ("ft:gpt-4o-mini:acme::9xYzAbCd", 1_760_000_000, "org-acme"),
    ]
    .iter()
    .map(|(id, created, owner)| json!({"id": id, "object": "model", "created": created, "owned_by": owner}))
    .collect()
}

fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Shape {
    shape(status, json!({"error": {"message": message, "type": kind, "param": null, "code": code}}))
}

fn trouble(t: Trouble) -> Option<Shape> {
    Some(match t {
        Trouble::None => return None,
        Trouble::Unauthorized(_) => error(
            401,
            "invalid_request_error",
            Some("invalid_api_key"),
            "Incorrect API key provided: sk-proj-****4d3c. You can find your API key at https://platform.openai.com/account/api-keys.",
        ),
        Trouble::Forbidden => error(
            403,
            "invalid_request_error",
            Some("insufficient_permissions"),
            "You have insufficient permissions for this operation. Missing scopes: api.model.read.",
        ),
        Trouble::RateLimited => error(429, "requests", Some("rate_limit_exceeded"), "Rate limit reached for requests")
            .header("retry-after", "20"),
        Trouble::Down => error(503, "server_error", None, "The server is overloaded or not ready yet."),
    })
}

fn handle(c: &Control, s: &Seen) -> Shape {
    let t = c.enter(s);
    if s.bearer().as_deref() != Some(KEY) {
        return error(401, "invalid_request_error", Some("invalid_api_key"), "You didn't provide an API key.");
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    match (s.method.as_str(), s.path.as_str(), s.query.is_empty()) {
        ("GET", "/v1/models", true) => shape(200, json!({"object": "list", "data": models()})),
        _ => wrong(s, "not a documented endpoint"),
    }
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://api.openai.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
