//! Twilio's REST API (https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource,
//! https://www.twilio.com/docs/usage/twilios-response#pagination): HTTP Basic with the Account SID
//! and auth token, `PageSize` (at most 1000), the next page as `next_page_uri` relative to
//! api.twilio.com (with `Page` and `PageToken`), null on the last page, and errors as `{"code",
//! "message", "more_info", "status"}`.

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
        _ => wrong(s, "not a documented endpoint"),
    }
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://api.twilio.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
