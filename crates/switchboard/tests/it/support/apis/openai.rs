//! OpenAI's models endpoint (https://platform.openai.com/docs/api-reference/models/list): a bearer
//! key, one unpaged `{"object": "list", "data"}` answer, errors as `{"error": {"message", "type",
//! "param", "code"}}`, 429 with Retry-After.
//!
//! Create chat completion (https://platform.openai.com/docs/api-reference/chat/create): `POST
//! /v1/chat/completions` with a JSON body of documented parameters, `model` (one the key can use,
//! else 404 `model_not_found`) and `messages` (each a role and its content) required, answered with a
//! `chat.completion` object: `choices[].message.content`, `finish_reason` (`length` when
//! `max_completion_tokens` cut it short) and `usage`. The fake's models hold 1,000 tokens of four
//! characters each; more is the 400 `context_length_exceeded`.

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
        ("POST", "/v1/chat/completions", true) => chat_completion(s),
        _ => wrong(s, "not a documented endpoint"),
    }
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://api.openai.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}

/// Documented request parameters of Create chat completion.
const CHAT_PARAMS: [&str; 14] = [
    "model",
    "messages",
    "temperature",
    "max_completion_tokens",
    "max_tokens",
    "top_p",
    "n",
    "stop",
    "stream",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "user",
    "store",
];

/// The fake models' context window, in tokens of four characters.
const CONTEXT_TOKENS: usize = 1000;

fn tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

fn chat_completion(s: &Seen) -> Shape {
    if s.header("content-type") != Some("application/json") {
        return wrong(s, "the body is JSON (Content-Type: application/json)");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&s.body) else {
        return wrong(s, "the body is not a JSON object");
    };
    if let Some(k) = body.keys().find(|k| !CHAT_PARAMS.contains(&k.as_str())) {
        return wrong(s, &format!("{k} is not a parameter of Create chat completion"));
    }
    let Some(model) = body.get("model").and_then(Value::as_str) else { return wrong(s, "model is required") };
    if !models().iter().any(|m| m["id"] == model) {
        return error(
            404,
            "invalid_request_error",
            Some("model_not_found"),
            &format!("The model `{model}` does not exist or you do not have access to it."),
        );
    }
    let Some(messages) = body.get("messages").and_then(Value::as_array).filter(|m| !m.is_empty()) else {
        return wrong(s, "messages is a non-empty array");
    };
    let mut prompt = 0;
    for m in messages {
        let role_ok = m["role"].as_str().is_some_and(|r| ["developer", "system", "user", "assistant"].contains(&r));
        let keys_ok = m.as_object().is_some_and(|o| o.keys().all(|k| k == "role" || k == "content" || k == "name"));
        let Some(content) = m["content"].as_str().filter(|_| role_ok && keys_ok) else {
            return wrong(s, &format!("{m} is not a message of a documented role with text content"));
        };
        prompt += tokens(content) + 3;
    }
    if body.get("temperature").is_some_and(|t| !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t))) {
        return wrong(s, "temperature is a number between 0 and 2");
    }
    let cap = match body.get("max_completion_tokens") {
        None => None,
        Some(v) => match v.as_u64().filter(|n| *n >= 1) {
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            None => return wrong(s, "max_completion_tokens is a positive integer"),
        },
    };
    if prompt > CONTEXT_TOKENS {
        return shape(
            400,
            json!({"error": {
                "message": format!("This model's maximum context length is {CONTEXT_TOKENS} tokens. However, your messages resulted in {prompt} tokens. Please reduce the length of the messages."),
                "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"
            }}),
        );
    }
    let last = messages.iter().rev().find(|m| m["role"] == "user").and_then(|m| m["content"].as_str()).unwrap_or("");
    let reply = format!("You said: {last}");
    let (content, finish) = match cap {
        Some(c) if tokens(&reply) > c => (reply.chars().take(c * 4).collect::<String>(), "length"),
        _ => (reply, "stop"),
    };
    let completion = tokens(&content);
    shape(
        200,
        json!({
            "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion", "created": 1_741_570_283,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null, "annotations": []}, "logprobs": null, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
            "service_tier": "default", "system_fingerprint": "fp_fc9f1d7035"
        }),
    )
}
