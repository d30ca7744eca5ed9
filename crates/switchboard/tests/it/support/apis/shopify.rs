//! Shopify's REST Admin API 2026-10 (https://shopify.dev/docs/api/admin-rest/latest/resources/product,
//! location; paging: https://shopify.dev/docs/api/admin-rest/usage/pagination): the shop's own host,
//! `X-Shopify-Access-Token`, `limit` (at most 250) and `fields`, the next page in the `Link` header
//! as a URL with `page_info` — which then takes no other parameters but `limit` and `fields` — and
//! errors as `{"errors": "…"}`, 429 with a Retry-After of "2.0".

use serde_json::{Value, json};

use super::{Api, Control, Trouble, number, offset_of, token_for, window, wrong};
use crate::support::fakes::{Fake, Seen, Shape, shape};

pub const TOKEN: &str = "shpat_0123456789abcdef0123456789abcdef";
const BASE: &str = "/admin/api/2026-10";
const PRODUCT_FIELDS: &str = "id,title,handle,status,vendor,product_type,updated_at";

fn products() -> Vec<Value> {
    ["Classic Tee", "Hoodie", "Cap", "Mug", "Sticker pack", "Tote bag", "Classic Tee"]
        .iter()
        .enumerate()
        .map(|(i, t)| json!({
            "id": 632_910_392 + i as u64, "title": t, "handle": t.to_lowercase().replace(' ', "-"), "status": "active",
            "vendor": "Acme", "product_type": "Merch", "updated_at": "2026-11-30T12:00:00-05:00"
        }))
        .collect()
}

fn locations() -> Vec<Value> {
    vec![
        json!({"id": 655_441_491, "name": "Warehouse", "active": true, "city": "Ottawa", "country_code": "CA", "legacy": false, "address1": "126 York St"}),
        json!({"id": 655_441_492, "name": "Shop front", "active": true, "city": "Toronto", "country_code": "CA", "legacy": false, "address1": "1 King St"}),
    ]
}

fn error(status: u16, text: &str) -> Shape {
    shape(status, json!({"errors": text}))
}

fn trouble(t: Trouble) -> Option<Shape> {
    Some(match t {
        Trouble::None => return None,
        Trouble::Unauthorized(_) => {
            error(401, "[API] Invalid API key or access token (unrecognized login or wrong password)")
        }
        Trouble::Forbidden => error(403, "[API] This action requires merchant approval for read_products scope."),
        Trouble::RateLimited => error(
            429,
            "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
        )
        .header("retry-after", "2.0"),
        Trouble::Down => error(503, "Service Unavailable"),
    })
}

/// One page of `items` under `key`, its next page in the Link header.
fn page(s: &Seen, items: &[Value], key: &str, fields: Option<&str>, default_limit: usize) -> Shape {
    let allowed = ["limit", "fields", "page_info"];
    if let Some((k, _)) = s.query.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return error(400, &format!("{k}: not a parameter of this endpoint"));
    }
    if s.query("fields").as_deref() != fields {
        return wrong(s, &format!("fields {:?}, expected {fields:?}", s.query("fields")));
    }
    let limit = match number(s, "limit", default_limit) {
        Ok(l) if (1..=250).contains(&l) => l,
        Ok(_) => return error(400, "limit: must be between 1 and 250"),
        Err(e) => return e,
    };
    let start = match s.query("page_info").map(|p| offset_of(&p)) {
        None => 0,
        Some(Some(o)) => o,
        Some(None) => return error(400, "page_info - Invalid value."),
    };
    let (page, next) = window(items, start, limit);
    let answer = shape(200, json!({key: page}));
    let Some(n) = next else { return answer };
    let mut url = url::Url::parse(&format!("https://acme.myshopify.com{}", s.path)).unwrap();
    url.query_pairs_mut().append_pair("limit", &limit.to_string());
    if let Some(f) = fields {
        url.query_pairs_mut().append_pair("fields", f);
    }
    url.query_pairs_mut().append_pair("page_info", &token_for(n));
    answer.header("link", format!("<{url}>; rel=\"next\""))
}

fn handle(c: &Control, s: &Seen) -> Shape {
    let t = c.enter(s);
    if s.header("x-shopify-access-token") != Some(TOKEN) {
        return error(401, "[API] Invalid API key or access token (unrecognized login or wrong password)");
    }
    if let Some(answer) = trouble(t) {
        return answer;
    }
    if s.method != "GET" {
        return wrong(s, "only GET is used");
    }
    match s.path.strip_prefix(BASE) {
        Some("/shop.json") => shape(
            200,
            json!({"shop": {"id": 548_380_009, "name": "Acme Store", "email": "owner@acme.example", "domain": "shop.acme.example", "myshopify_domain": "acme.myshopify.com", "plan_name": "basic"}}),
        ),
        Some("/products.json") => page(s, &products(), "products", Some(PRODUCT_FIELDS), 50),
        Some("/locations.json") => page(s, &locations(), "locations", None, 50),
        _ => error(404, "Not Found"),
    }
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://acme.myshopify.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
