//! Twilio's REST API (https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource,
//! https://www.twilio.com/docs/usage/twilios-response#pagination): HTTP Basic with the Account SID
//! and auth token, `PageSize` (at most 1000), the next page as `next_page_uri` relative to
//! api.twilio.com (with `Page` and `PageToken`), null on the last page, and errors as `{"code",
//! "message", "more_info", "status"}`.
//!
//! Create a Message resource (https://www.twilio.com/docs/messaging/api/message-resource): `POST
//! /2010-04-01/Accounts/{AccountSid}/Messages.json` with a form body of documented parameters, each
//! once: `To`; `From` (one of the account's own numbers) and/or `MessagingServiceSid`; `Body`
//! (up to 1,600 characters). Answered `201 Created` with the message (`queued`, or `accepted`
//! through a Messaging Service); a `To` that cannot be a phone number is a 400 with error 21211,
//! no body error 21602.

use serde_json::{Value, json};

use super::{Api, Control, Trouble, expect_query, number, offset_of, token_for, window, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";

fn number_of(i: usize, friendly: &str) -> Value {
    let e164 = format!("+1415555010{i}");
    json!({
        "sid": format!("PN{:032x}", i + 1), "account_sid": SID, "friendly_name": friendly, "phone_number": e164,
        "capabilities": {"voice": true, "sms": true, "mms": i.is_multiple_of(2), "fax": false},
        "date_created": "Thu, 30 Jul 2026 23:19:04 +0000", "status": "in-use", "api_version": "2010-04-01"
    })
}

pub fn numbers() -> Vec<Value> {
    ["Support line", "Sales line", "Alerts", "Two-factor codes", "Support line"]
        .iter()
        .enumerate()
        .map(|(i, f)| number_of(i, f))
        .collect()
}

fn error(status: u16, code: u32, message: &str) -> Shape {
    shape(
        status,
        json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status}),
    )
}

fn trouble(t: Trouble) -> Option<Shape> {
    Some(match t {
        Trouble::None => return None,
        Trouble::Unauthorized(_) => error(401, 20003, "Authenticate"),
        Trouble::Forbidden => error(403, 20403, "Forbidden"),
        Trouble::RateLimited => error(429, 20429, "Too Many Requests"),
        Trouble::Down => error(503, 20503, "Service unavailable"),
    })
}

fn handle(c: &Control, s: &Seen) -> Shape {
    let t = c.enter(s);
    if s.basic() != Some((SID.to_owned(), AUTH_TOKEN.to_owned())) {
        return error(401, 20003, "Authenticate");
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    let list = format!("/2010-04-01/Accounts/{SID}/IncomingPhoneNumbers.json");
    match (s.method.as_str(), s.path.as_str()) {
        ("GET", p) if p == format!("/2010-04-01/Accounts/{SID}.json") => {
            shape(200, json!({"sid": SID, "friendly_name": "Acme Production", "status": "active", "type": "Full"}))
        }
        ("GET", p) if p == list => {
            if let Err(e) = expect_query(s, &[("PageSize", None)], &["Page", "PageToken"]) {
                return e;
            }
            let size = match number(s, "PageSize", 50) {
                Ok(n) if (1..=1000).contains(&n) => n,
                Ok(_) => return error(400, 20001, "Invalid PageSize"),
                Err(e) => return e,
            };
            let page = match number(s, "Page", 0) {
                Ok(p) => p,
                Err(e) => return e,
            };
            // Past the first page the PageToken says where the page starts.
            let start = match s.query("PageToken") {
                None if page == 0 => 0,
                Some(t) => match t.strip_prefix("PA").and_then(offset_of) {
                    Some(o) => o,
                    None => return error(400, 20001, "Invalid PageToken"),
                },
                None => return error(400, 20001, "Page requires PageToken"),
            };
            let (items, next) = window(&numbers(), start, size);
            shape(
                200,
                json!({
                    "incoming_phone_numbers": items, "page": page, "page_size": size, "start": start,
                    "first_page_uri": format!("{list}?PageSize={size}&Page=0"),
                    "next_page_uri": next.map(|n| format!("{list}?PageSize={size}&Page={}&PageToken=PA{}", page + 1, token_for(n))),
                    "previous_page_uri": Value::Null, "uri": format!("{list}?PageSize={size}&Page={page}")
                }),
            )
        }
        ("POST", p) if p == format!("/2010-04-01/Accounts/{SID}/Messages.json") => create_message(s),
        _ => wrong(s, "not a documented endpoint"),
    }
}

/// The form parameters of the last call whose `METHOD path` line contains `part`.
pub fn last_form(c: &Control, part: &str) -> Vec<(String, String)> {
    let calls = c.calls.lock().unwrap();
    let bodies = c.bodies.lock().unwrap();
    let i = calls.iter().rposition(|l| l.contains(part)).unwrap_or_else(|| panic!("no call with {part:?}"));
    url::form_urlencoded::parse(&bodies[i]).into_owned().collect()
}

/// The documented parameters of Create a Message (`MediaUrl` and `PersistentAction` may repeat).
const MESSAGE_PARAMS: [&str; 24] = [
    "To",
    "From",
    "MessagingServiceSid",
    "Body",
    "MediaUrl",
    "ContentSid",
    "ContentVariables",
    "StatusCallback",
    "ApplicationSid",
    "MaxPrice",
    "ProvideFeedback",
    "Attempt",
    "ValidityPeriod",
    "ForceDelivery",
    "ContentRetention",
    "AddressRetention",
    "SmartEncoded",
    "PersistentAction",
    "TrafficType",
    "ShortenUrls",
    "ScheduleType",
    "SendAt",
    "SendAsMms",
    "RiskCheck",
];

/// Whether a number can exist: E.164, and for +1 (the NANP) ten digits after the country code.
fn possible(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else { return false };
    let all = !digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit());
    all && !digits.starts_with('0') && (!digits.starts_with('1') || digits.len() == 11)
}

fn create_message(s: &Seen) -> Shape {
    if !s.query.is_empty() {
        return wrong(s, "the parameters go in the form body");
    }
    if s.header("content-type") != Some("application/x-www-form-urlencoded") {
        return wrong(s, "the body is form-encoded (Content-Type: application/x-www-form-urlencoded)");
    }
    let form = s.form();
    for (i, (k, _)) in form.iter().enumerate() {
        if !MESSAGE_PARAMS.contains(&k.as_str()) {
            return wrong(s, &format!("{k} is not a parameter of Create a Message"));
        }
        if !matches!(k.as_str(), "MediaUrl" | "PersistentAction") && form[..i].iter().any(|(p, _)| p == k) {
            return wrong(s, &format!("{k} is given twice"));
        }
    }
    let get = |k: &str| form.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone());
    let Some(to) = get("To") else { return wrong(s, "To is required") };
    let (from, service) = (get("From"), get("MessagingServiceSid"));
    if from.is_none() && service.is_none() {
        return wrong(s, "From is required when MessagingServiceSid is not passed");
    }
    if let Some(f) = &from
        && !numbers().iter().any(|n| n["phone_number"] == f.as_str())
    {
        return wrong(s, "From must be a sender of this account");
    }
    if let Some(m) = &service
        && !(m.len() == 34 && m.starts_with("MG") && m[2..].bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return wrong(s, "MessagingServiceSid is MG and 32 hexadecimal digits");
    }
    // Body is required unless MediaUrl or ContentSid is passed; this fake sends text only.
    let Some(body) = get("Body").filter(|b| !b.is_empty()) else {
        if get("MediaUrl").is_some() || get("ContentSid").is_some() {
            return wrong(s, "media and content templates are not part of this fake");
        }
        return error(400, 21602, "Message body is required.");
    };
    if body.chars().count() > 1600 {
        return wrong(s, "Body is at most 1,600 characters");
    }
    if !possible(&to) {
        return error(400, 21211, &format!("The 'To' number {to} is not a valid phone number."));
    }
    let sid = "SM1f0e8ae6ade43cb3c0ce4525424e404f";
    let segments = body.chars().count().div_ceil(160).to_string();
    shape(
        201,
        json!({
            "account_sid": SID, "api_version": "2010-04-01", "body": body, "date_created": "Thu, 30 Jul 2026 23:19:04 +0000",
            "date_sent": null, "date_updated": "Thu, 30 Jul 2026 23:19:04 +0000", "direction": "outbound-api",
            "error_code": null, "error_message": null, "from": from, "messaging_service_sid": service,
            "num_media": "0", "num_segments": segments, "price": null, "price_unit": "USD", "sid": sid,
            "status": if service.is_some() { "accepted" } else { "queued" }, "to": to,
            "uri": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}.json"),
            "subresource_uris": {"media": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}/Media.json")}
        }),
    )
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://api.twilio.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
