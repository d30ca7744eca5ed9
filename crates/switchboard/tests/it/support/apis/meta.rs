//! Meta's Graph API v26.0 (https://developers.facebook.com/docs/graph-api/reference/user/accounts/,
//! https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/phone_numbers/,
//! https://developers.facebook.com/docs/graph-api/results): a bearer token, `fields` and `limit`,
//! cursor pages whose `paging.next` is the full next URL (absent on the last page), errors as
//! `{"error": {"message", "type", "code", "fbtrace_id"}}` — an expired token is code 190 with HTTP
//! 400, a missing permission code 200 — and Facebook Login's dialog and token exchange.

use serde_json::{Value, json};

use super::{Api, Control, Trouble, back, expect_query, number, offset_of, token_for, window, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

/// The system user's token a WhatsApp connection holds, and the long-lived user token of a
/// Facebook connection.
pub const SYSTEM_TOKEN: &str = "EAAGm0PX4ZCpsBAKZAjLH9gQ1TZBSDp1sW0ZCFhHC5hZA8lS0ZC4nO9mV7c2jX";
pub const LONG_LIVED: &str = "EAAB-long-lived-user-token";
pub const PHONE_ID: &str = "106540352242922";
pub const WABA: &str = "102290129340398";

fn pages() -> Vec<Value> {
    [("Acme", "Software"), ("Acme Support", "Software"), ("Acme Careers", "Company"), ("Acme Labs", "Science, technology & engineering"), ("Acme", "Local business")]
        .iter()
        .enumerate()
        .map(|(i, (name, category))| json!({"id": format!("10150000000000{i}"), "name": name, "category": category, "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"]}))
        .collect()
}

fn phone_numbers() -> Vec<Value> {
    ["+1 555-010-0000", "+1 555-010-0001", "+44 20 7946 0000"]
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"id": format!("10654035224292{}", 2 + i), "display_phone_number": n, "verified_name": "Acme Support", "quality_rating": "GREEN", "code_verification_status": "VERIFIED"}))
        .collect()
}

fn error(status: u16, code: u32, message: &str) -> Shape {
    shape(
        status,
        json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfGhIjK"}}),
    )
}

fn trouble(t: Trouble) -> Option<Shape> {
    Some(match t {
        Trouble::None => return None,
        Trouble::Unauthorized(_) => {
            error(400, 190, "Error validating access token: Session has expired on Tuesday, 01-Dec-26 10:00:00 PST.")
        }
        Trouble::Forbidden => error(403, 200, "(#200) Requires pages_show_list permission to manage the object"),
        Trouble::RateLimited => error(400, 4, "(#4) Application request limit reached"),
        Trouble::Down => shape(
            500,
            json!({"error": {"message": "An unknown error has occurred.", "type": "OAuthException", "code": 1, "is_transient": true, "fbtrace_id": "AbCdEfGhIjL"}}),
        ),
    })
}

/// A cursor page of `items` at the real host, in Graph's shape.
fn page(s: &Seen, items: &[Value], fields: &str) -> Shape {
    if let Err(e) = expect_query(s, &[("fields", Some(fields)), ("limit", None)], &["after"]) {
        return e;
    }
    let limit = match number(s, "limit", 25) {
        Ok(l) if l >= 1 => l,
        Ok(_) => return error(400, 100, "(#100) The parameter limit must be a positive number"),
        Err(e) => return e,
    };
    let start = match s.query("after").map(|a| offset_of(&a)) {
        None => 0,
        Some(Some(o)) => o,
        Some(None) => return error(400, 100, "(#100) Invalid cursor"),
    };
    let (data, next) = window(items, start, limit);
    let mut paging = json!({"cursors": {"before": token_for(start), "after": token_for(start + data.len())}});
    if let Some(n) = next {
        let mut url = url::Url::parse(&format!("https://graph.facebook.com{}", s.path)).unwrap();
        url.query_pairs_mut()
            .append_pair("fields", fields)
            .append_pair("limit", &limit.to_string())
            .append_pair("after", &token_for(n));
        paging["next"] = json!(url.to_string());
    }
    shape(200, json!({"data": data, "paging": paging}))
}

fn handle(c: &Control, s: &Seen) -> Shape {
    // Facebook Login: the code, then the long-lived token, then who signed in.
    if s.path == "/v26.0/oauth/access_token" {
        return match s.query("grant_type").as_deref() {
            Some("fb_exchange_token") if s.query("fb_exchange_token").as_deref() == Some("EAAB-short") => {
                shape(200, json!({"access_token": LONG_LIVED, "token_type": "bearer", "expires_in": 5_183_944}))
            }
            _ if s.form().iter().any(|(k, v)| k == "code" && v == "AQD-meta-code") => {
                shape(200, json!({"access_token": "EAAB-short", "token_type": "bearer", "expires_in": 5400}))
            }
            _ => error(400, 100, "Invalid verification code format."),
        };
    }
    let t = c.enter(s);
    let token = s.bearer();
    // Page actions carry the Page's own token, as Facebook requires.
    if let Some(page) = token.as_deref().and_then(|t| t.strip_prefix("EAAPage-")) {
        if let Some(answer) = trouble(t) {
            return answer;
        }
        return page_action(page, s);
    }
    if token.as_deref() != Some(SYSTEM_TOKEN) && token.as_deref() != Some(LONG_LIVED) {
        return error(400, 190, "Invalid OAuth access token - Cannot parse access token");
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    if s.method == "POST" && s.path == format!("/v26.0/{PHONE_ID}/messages") {
        return whatsapp_message(s);
    }
    if s.method != "GET" {
        return wrong(s, "only GET is used");
    }
    // A Page's access token, for a user who has a task on it.
    if let Some(page) = s.path.strip_prefix("/v26.0/").filter(|p| pages().iter().any(|x| x["id"] == *p))
        && s.query("fields").as_deref() == Some("access_token")
        && token.as_deref() == Some(LONG_LIVED)
    {
        return shape(200, json!({"access_token": format!("EAAPage-{page}"), "id": page}));
    }
    match s.path.as_str() {
        "/v26.0/me" => shape(200, json!({"id": "10158542961112345", "name": "Acme Page Admin"})),
        "/v26.0/me/accounts" => page(s, &pages(), "id,name,category,tasks"),
        p if p == format!("/v26.0/{PHONE_ID}") => shape(
            200,
            json!({"verified_name": "Acme Support", "display_phone_number": "+1 555-010-0000", "quality_rating": "GREEN", "id": PHONE_ID}),
        ),
        p if p == format!("/v26.0/{WABA}/phone_numbers") => {
            page(s, &phone_numbers(), "id,display_phone_number,verified_name,quality_rating,code_verification_status")
        }
        p => error(
            400,
            100,
            &format!(
                "Unsupported get request. Object with ID '{}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
                p.trim_start_matches("/v26.0/")
            ),
        ),
    }
}

/// A comment that was deleted, and a person the Page may not message.
pub const GONE_COMMENT: &str = "101500000000000_404";
pub const UNREACHABLE_PSID: &str = "24000000000000000";

/// What a Page does with its token: reply to a comment (POST /{comment-id}/comments {message})
/// or send a Messenger message (POST /{page-id}/messages, the Send API's recipient, messaging_type
/// and message); the token must be the Page's own.
fn page_action(page: &str, s: &Seen) -> Shape {
    if s.method != "POST" || s.header("content-type") != Some("application/json") {
        return wrong(s, "Page actions are POSTs of JSON");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&s.body) else {
        return wrong(s, "not a JSON object");
    };
    let rest = s.path.strip_prefix("/v26.0/").unwrap_or_default();
    if let Some(comment) = rest.strip_suffix("/comments") {
        if body.keys().any(|k| k != "message") || !body["message"].is_string() {
            return wrong(s, "a comment reply is {message}");
        }
        if comment == GONE_COMMENT {
            return error(
                400,
                100,
                "(#100) Object does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
            );
        }
        return shape(200, json!({"id": format!("{comment}_5551234")}));
    }
    if rest == format!("{page}/messages") {
        let allowed = ["recipient", "messaging_type", "message", "tag"];
        if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
            return wrong(s, &format!("the Send API takes no {k}"));
        }
        let recipient = body["recipient"]["id"].as_str().unwrap_or_default();
        let kind = body["messaging_type"].as_str().unwrap_or_default();
        if !["RESPONSE", "UPDATE", "MESSAGE_TAG"].contains(&kind) || (kind == "MESSAGE_TAG") != body.contains_key("tag")
        {
            return error(400, 100, "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}");
        }
        if !body["message"]["text"].is_string() {
            return error(400, 100, "(#100) Must send either message or sender action");
        }
        if recipient == UNREACHABLE_PSID {
            return shape(
                400,
                json!({"error": {"message": "(#551) This person isn't available right now.", "type": "OAuthException", "code": 551, "error_subcode": 1_545_041, "fbtrace_id": "AbCdEfGhIjN"}}),
            );
        }
        return shape(
            200,
            json!({"recipient_id": recipient, "message_id": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"}),
        );
    }
    error(400, 190, "Invalid OAuth access token for this Page")
}

/// A recipient who has not written in the last 24 hours: only templates reach them.
pub const QUIET_RECIPIENT: &str = "15550009999";

/// The Cloud API's messages endpoint: a JSON body with `messaging_product: "whatsapp"`, `to` and a
/// `type` whose object is present (text.body, or template.name and language.code).
fn whatsapp_message(s: &Seen) -> Shape {
    if s.header("content-type") != Some("application/json") {
        return wrong(s, "JSON bodies must say Content-Type: application/json");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&s.body) else {
        return wrong(s, "the body is not a JSON object");
    };
    let allowed = ["messaging_product", "recipient_type", "to", "type", "text", "template"];
    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return wrong(s, &format!("unexpected field {k}"));
    }
    if body.get("messaging_product") != Some(&json!("whatsapp"))
        || body.get("recipient_type") != Some(&json!("individual"))
    {
        return error(400, 100, "(#100) The parameter messaging_product is required.");
    }
    let to = body.get("to").and_then(Value::as_str).unwrap_or_default().trim_start_matches('+').to_owned();
    let kind = body.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "text" if body["text"]["body"].as_str().is_some_and(|t| !t.is_empty()) && body.get("template").is_none() => {
            if to == QUIET_RECIPIENT {
                return shape(
                    400,
                    json!({"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131_047,
                        "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
                        "fbtrace_id": "AbCdEfGhIjM"}}),
                );
            }
        }
        "template"
            if body["template"]["name"].is_string()
                && body["template"]["language"]["code"].is_string()
                && body.get("text").is_none() => {}
        _ => return error(400, 100, &format!("(#100) Param {kind} is missing or invalid for this message type")),
    }
    shape(
        200,
        json!({"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": to}],
            "messages": [{"id": "wamid.HBgLMTU1NTAxMjM0NTYVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}),
    )
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let graph = Fake::start("https://graph.facebook.com", move |s| handle(&c, s)).await;
    let dialog = Fake::start("https://www.facebook.com", |s| match s.path.as_str() {
        "/v26.0/dialog/oauth" => back(s, &[("code", "AQD-meta-code")]),
        _ => wrong(s, "not the login dialog"),
    })
    .await;
    Api { fakes: vec![graph, dialog], control }
}
