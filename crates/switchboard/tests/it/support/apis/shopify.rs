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
    if s.method == "POST" && s.path == format!("{BASE}/graphql.json") {
        return graphql(t, s);
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

/// The GraphQL Admin API (https://shopify.dev/docs/api/admin-graphql/latest/mutations/productCreate):
/// `{"query", "variables"}` as JSON; only the productCreate mutation with a `ProductCreateInput` is
/// known here. Refusals come with HTTP 200: throttling and access as top-level `errors`, input
/// problems as `userErrors`.
fn graphql(t: Trouble, s: &Seen) -> Shape {
    if s.header("content-type") != Some("application/json") {
        return wrong(s, "GraphQL is POSTed as application/json");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&s.body) else { return wrong(s, "the body is not JSON") };
    let query = body["query"].as_str().unwrap_or_default();
    if !query.starts_with("mutation productCreate($product: ProductCreateInput!) { productCreate(product: $product) {")
    {
        return shape(
            200,
            json!({"errors": [{"message": format!("Parse error on {query:?}"), "extensions": {"code": "PARSE_ERROR"}}]}),
        );
    }
    match t {
        Trouble::RateLimited => {
            return shape(
                200,
                json!({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": {"requestedQueryCost": 10, "actualQueryCost": null, "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 0.0, "restoreRate": 100.0}}}}),
            );
        }
        Trouble::Forbidden => {
            return shape(
                200,
                json!({"errors": [{"message": "Access denied for productCreate field. Required access: `write_products` access scope.", "extensions": {"code": "ACCESS_DENIED"}}], "data": {"productCreate": null}}),
            );
        }
        other => {
            if let Some(answer) = trouble(other) {
                return answer;
            }
        }
    }
    let product = &body["variables"]["product"];
    let known = ["title", "descriptionHtml", "vendor", "productType", "tags", "status"];
    if let Some(k) = product.as_object().and_then(|o| o.keys().find(|k| !known.contains(&k.as_str()))) {
        return wrong(s, &format!("ProductCreateInput has no field {k} here"));
    }
    let title = product["title"].as_str().unwrap_or_default();
    if title.trim().is_empty() {
        return shape(
            200,
            json!({"data": {"productCreate": {"product": null, "userErrors": [{"field": ["title"], "message": "Title can't be blank"}]}}}),
        );
    }
    let status = product["status"].as_str().unwrap_or("ACTIVE");
    shape(
        200,
        json!({"data": {"productCreate": {"product": {"id": "gid://shopify/Product/1072481062", "title": title,
            "handle": title.to_lowercase().replace(' ', "-"), "status": status}, "userErrors": []}},
            "extensions": {"cost": {"requestedQueryCost": 10, "actualQueryCost": 10}}}),
    )
}

pub async fn start() -> Api {
    let control = Control::default();
    let c = control.clone();
    let api = Fake::start("https://acme.myshopify.com", move |s| handle(&c, s)).await;
    Api { fakes: vec![api], control }
}
