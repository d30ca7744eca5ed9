//! Airtable's Web API (https://airtable.com/developers/web/api/list-bases,
//! https://airtable.com/developers/web/api/get-base-schema): a bearer token, bases paged by the
//! answer's `offset` (Airtable's pages hold 1000; these hold three), a base's tables with their
//! fields in one answer, and errors as `{"error": {"type", "message"}}` (429: `errors` list).
//! Creating a record (https://airtable.com/developers/web/api/create-records) takes one record's
//! `fields` at the top level, keyed by field name, each value typed as its field's cell format
//! (https://airtable.com/developers/web/api/field-model); it answers the record.

use serde_json::{Value, json};

use super::{Api, Control, Trouble, expect_query, offset_of, token_for, window, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const TOKEN: &str = "patAbC123dEf456.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const CRM: &str = "appLkNDICXNqxSDhG";
pub const DEALS: &str = "tblDeals00000001";
/// The Inventory base and its Products table, with a field of most types.
pub const INVENTORY: &str = "appOpQrStUvWxYz01";
pub const PRODUCTS: &str = "tblProducts000001";

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

fn products_table() -> Value {
    let choices = |names: &[&str]| -> Value {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| json!({"id": format!("sel{i:014}"), "name": n, "color": "blueLight2"}))
            .collect()
    };
    json!({"tables": [{
        "id": PRODUCTS, "name": "Products", "primaryFieldId": "fldProdName000001",
        "fields": [
            {"id": "fldProdName000001", "name": "Name", "type": "singleLineText"},
            {"id": "fldProdSku0000001", "name": "SKU", "type": "singleLineText"},
            {"id": "fldProdPrice00001", "name": "Price", "type": "currency", "options": {"precision": 2, "symbol": "$"}},
            {"id": "fldProdDiscount01", "name": "Discount", "type": "percent", "options": {"precision": 0}},
            {"id": "fldProdStock00001", "name": "Stock", "type": "number", "options": {"precision": 0}},
            {"id": "fldProdInStock001", "name": "In stock", "type": "checkbox", "options": {"icon": "check", "color": "greenBright"}},
            {"id": "fldProdTags000001", "name": "Tags", "type": "multipleSelects", "options": {"choices": choices(&["new", "sale", "clearance"])}},
            {"id": "fldProdCategory01", "name": "Category", "type": "singleSelect", "options": {"choices": choices(&["Hardware", "Software"])}},
            {"id": "fldProdReleased01", "name": "Released", "type": "date", "options": {"dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}}},
            {"id": "fldProdNotes00001", "name": "Notes", "type": "multilineText"},
            {"id": "fldProdSupplier01", "name": "Supplier email", "type": "email"},
            {"id": "fldProdNumber0001", "name": "Product #", "type": "autoNumber"},
            {"id": "fldProdMargin0001", "name": "Margin", "type": "formula", "options": {"formula": "{Price} * 0.3", "isValid": true, "referencedFieldIds": ["fldProdPrice00001"], "result": {"type": "number"}}},
            {"id": "fldProdCreated001", "name": "Created", "type": "createdTime", "options": {"result": {"type": "dateTime"}}}
        ],
        "views": [{"id": "viwProductsGrid01", "name": "Grid view", "type": "grid"}]
    }]})
}

/// Whether `value` is a cell value a field of this type accepts (its write format).
fn accepts(field: &Value, value: &Value) -> Result<(), Shape> {
    let name = field["name"].as_str().unwrap_or_default();
    let refuse =
        || error(422, "INVALID_VALUE_FOR_COLUMN", &format!("Field \"{name}\" cannot accept the provided value"));
    let choice = |v: &Value| {
        let ok =
            v.as_str().is_some_and(|n| field["options"]["choices"].as_array().unwrap().iter().any(|c| c["name"] == n));
        if ok {
            Ok(())
        } else {
            Err(error(
                422,
                "INVALID_MULTIPLE_CHOICE_OPTIONS",
                &format!("Insufficient permissions to create new select option \"{v}\""),
            ))
        }
    };
    match field["type"].as_str().unwrap_or_default() {
        "autoNumber" | "formula" | "createdTime" => Err(error(
            422,
            "INVALID_VALUE_FOR_COLUMN",
            &format!("Field \"{name}\" cannot accept a value because the field is computed"),
        )),
        "singleLineText" | "multilineText" | "date" if value.is_string() => Ok(()),
        // The fake's one refusal that our checks cannot see: an email Airtable does not take.
        "email" if value.as_str().is_some_and(|e| e.contains('@')) => Ok(()),
        "currency" | "percent" | "number" if value.is_number() => Ok(()),
        "checkbox" if value.is_boolean() => Ok(()),
        "singleSelect" => choice(value),
        "multipleSelects" => match value.as_array() {
            Some(a) => a.iter().try_for_each(choice),
            None => Err(refuse()),
        },
        _ => Err(refuse()),
    }
}

fn create_record(s: &Seen, table: &Value) -> Shape {
    if s.header("content-type") != Some("application/json") {
        return wrong(s, &format!("content-type {:?}, documented application/json", s.header("content-type")));
    }
    if !s.query.is_empty() {
        return wrong(s, "create records takes no query");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&s.body) else {
        return error(422, "INVALID_REQUEST_BODY", "Could not parse request body");
    };
    // One record at the top level, exactly as documented; typecast given and false.
    if let Some(k) = body.keys().find(|k| !["fields", "typecast"].contains(&k.as_str())) {
        return wrong(s, &format!("unexpected body key {k:?}"));
    }
    if body.get("typecast") != Some(&Value::Bool(false)) {
        return wrong(s, &format!("typecast {:?}, expected false", body.get("typecast")));
    }
    let Some(Value::Object(cells)) = body.get("fields") else {
        return error(422, "INVALID_REQUEST_MISSING_FIELDS", "Could not find field \"fields\" in the request body");
    };
    let fields = table["fields"].as_array().unwrap();
    for (name, value) in cells {
        let Some(field) = fields.iter().find(|f| f["name"] == name.as_str()) else {
            return error(422, "UNKNOWN_FIELD_NAME", &format!("Unknown field name: \"{name}\""));
        };
        if let Err(e) = accepts(field, value) {
            return e;
        }
    }
    shape(200, json!({"id": "recNewProduct0001", "createdTime": "2026-12-01T09:30:00.000Z", "fields": cells}))
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
    if s.method == "POST" {
        let tables = products_table();
        return match s.path.strip_prefix("/v0/").and_then(|r| r.split_once('/')) {
            Some((INVENTORY, PRODUCTS)) => create_record(s, &tables["tables"][0]),
            Some((INVENTORY, t)) => {
                error(404, "TABLE_NOT_FOUND", &format!("Could not find table {t} in application {INVENTORY}"))
            }
            _ => wrong(s, "records are created only in Inventory's Products here"),
        };
    }
    if s.method != "GET" {
        return wrong(s, "only GET and POST are used");
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
            Some(INVENTORY) => shape(200, products_table()),
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
