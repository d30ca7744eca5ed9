//! Airtable's Web API (https://airtable.com/developers/web/api/list-bases,
//! https://airtable.com/developers/web/api/get-base-schema): a bearer token, bases paged by the
//! answer's `offset` (Airtable's pages hold 1000; these hold three), a base's tables with their
//! fields in one answer, and errors as `{"error": {"type", "message"}}` (429: `errors` list).

use serde_json::{Value, json};

use super::{Api, Control, Trouble, expect_query, offset_of, token_for, window, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const TOKEN: &str = "patAbC123dEf456.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const CRM: &str = "appLkNDICXNqxSDhG";
pub const DEALS: &str = "tblDeals00000001";

pub fn bases() -> Vec<Value> {
    [
        (CRM, "CRM", "create"),
        ("appSW9R5uCNmRmfl6", "Content calendar", "edit"),
        ("appAbCdEfGhIjKlMn", "Hiring", "read"),
        ("appOpQrStUvWxYz01", "Inventory", "create"),
        ("appInvent2025abcd", "Inventory 2025", "read"),
        ("appProductLaunch1", "Product launch", "comment"),
        ("appZz9Yy8Xx7Ww6Vv", "Events", "owner"),
    ]
    .iter()
    .map(|(id, name, level)| json!({"id": id, "name": name, "permissionLevel": level}))
    .collect()
}

fn crm_tables() -> Value {
    json!({"tables": [
        {
            "id": DEALS, "name": "Deals", "primaryFieldId": "fldDealName000001", "description": "Open and closed deals",
            "fields": [
                {"id": "fldDealName000001", "name": "Name", "type": "singleLineText"},
                {"id": "fldDealStage00001", "name": "Stage", "type": "singleSelect", "options": {"choices": [
                    {"id": "selLead0000000001", "name": "Lead", "color": "blueLight2"},
                    {"id": "selWon00000000001", "name": "Won", "color": "greenLight2"}
                ]}},
                {"id": "fldDealAmount0001", "name": "Amount", "type": "currency", "options": {"precision": 2, "symbol": "$"}},
                {"id": "fldDealCompany001", "name": "Company", "type": "multipleRecordLinks", "options": {"linkedTableId": "tblCompanies00001", "isReversed": false, "prefersSingleRecordLink": true}}
            ],
            "views": [{"id": "viwDealsGrid00001", "name": "Grid view", "type": "grid"}]
        },
        {
            "id": "tblCompanies00001", "name": "Companies", "primaryFieldId": "fldCompanyName001",
            "fields": [{"id": "fldCompanyName001", "name": "Name", "type": "singleLineText"}],
            "views": [{"id": "viwCompaniesGrid1", "name": "Grid view", "type": "grid"}]
        }
    ]})
}

fn error(status: u16, kind: &str, message: &str) -> Shape {
    shape(status, json!({"error": {"type": kind, "message": message}}))
}

fn trouble(t: Trouble) -> Option<Shape> {
    Some(match t {
        Trouble::None => return None,
        Trouble::Unauthorized(_) => error(401, "AUTHENTICATION_REQUIRED", "Authentication required"),
        Trouble::Forbidden => error(
            403,
            "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
            "Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.",
        ),
        Trouble::RateLimited => shape(
            429,
            json!({"errors": [{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}]}),
        ),
        Trouble::Down => error(503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable"),
    })
}

fn handle(c: &Control, s: &Seen) -> Shape {
    let t = c.enter(s);
    if s.bearer().as_deref() != Some(TOKEN) {
        return error(401, "AUTHENTICATION_REQUIRED", "Authentication required");
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    if s.method != "GET" {
        return wrong(s, "only GET is used");
    }
    match s.path.as_str() {
        "/v0/meta/whoami" => shape(
            200,
            json!({"id": "usrL2PNC5o3H4lBEi", "email": "jane@acme.example", "scopes": ["schema.bases:read"]}),
        ),
        "/v0/meta/bases" => {
            if let Err(e) = expect_query(s, &[], &["offset"]) {
                return e;
            }
            let start = match s.query("offset").map(|o| offset_of(o.rsplit('/').next().unwrap_or_default())) {
                None => 0,
                Some(Some(o)) => o,
                Some(None) => return error(422, "INVALID_OFFSET_VALUE", "The value of offset is invalid"),
            };
            let (page, next) = window(&bases(), start, 3);
            let mut body = json!({"bases": page});
            if let Some(n) = next {
                body["offset"] = json!(format!("itr23sEjsdfEr3282/{}", token_for(n)));
            }
            shape(200, body)
        }
        p => match p.strip_prefix("/v0/meta/bases/").and_then(|r| r.strip_suffix("/tables")) {
            Some(CRM) => shape(200, crm_tables()),
            Some(b) if bases().iter().any(|x| x["id"] == b) => shape(200, json!({"tables": []})),
            Some(_) => trouble(Trouble::Forbidden).unwrap(),
            None => error(404, "NOT_FOUND", "Could not find what you are looking for"),
        },
    }
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://api.airtable.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
