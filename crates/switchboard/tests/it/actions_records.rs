//! Actions that write a row by its columns' human names, typed against the provider's schema:
//! Airtable `create_record` (fields by name, through the `field` kind) and Notion `create_page`
//! (plain values by property name, through the `property` kind). Each checks the exact request,
//! loose name matching, every input problem at once with nothing sent, a provider refusal, a rate
//! limit, a refused credential retried once, and an `Idempotency-Key` replay.

use serde_json::{Value, json};

use crate::support::actions::{pointers, run};
use crate::support::apis::{Api, Trouble, airtable, notion};
use crate::support::server::{Answer, TestApp};

/// The message of the detail at `path`.
fn detail<'a>(a: &'a Answer, path: &str) -> &'a str {
    a.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == path)
        .and_then(|d| d["message"].as_str())
        .unwrap_or_else(|| panic!("no detail at {path}: {}", a.body))
}

async fn airtable_app() -> (Api, TestApp, String) {
    let api = airtable::start().await;
    let app = api.app().await;
    let conn = app
        .connect(json!({"provider": "airtable", "auth_mode": "api_key", "credentials": {"api_key": airtable::TOKEN}}))
        .await;
    (api, app, conn)
}

fn product(fields: Value) -> Value {
    json!({"base": airtable::INVENTORY, "table": "Products", "fields": fields})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airtable_create_record_types_fields_by_their_names() {
    let (api, app, conn) = airtable_app().await;
    let input = product(json!({
        "name": "Cordless drill", "sku": "DR-18V", "Price": 129.5, "discount": 0.15, "Stock": 12,
        "IN STOCK": true, "Tags": ["new", "SALE"], "category": "hardware", "Released": "2026-11-30",
        "Notes": "18 V, two batteries", "Supplier Email": "orders@tools.example"
    }));
    let a = run(&app, &conn, "create_record", input, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The documented request: one record's cells at the top level under the real field names,
    // option names as the table spells them, no conversion asked for.
    let sent = json!({
        "fields": {
            "Name": "Cordless drill", "SKU": "DR-18V", "Price": 129.5, "Discount": 0.15, "Stock": 12,
            "In stock": true, "Tags": ["new", "sale"], "Category": "Hardware", "Released": "2026-11-30",
            "Notes": "18 V, two batteries", "Supplier email": "orders@tools.example"
        },
        "typecast": false
    });
    let path = format!("POST /v0/{}/{}", airtable::INVENTORY, airtable::PRODUCTS);
    assert_eq!(api.control.last_json(&path), sent);
    assert_eq!(
        a.body["output"],
        json!({"id": "recNewProduct0001", "created_time": "2026-12-01T09:30:00.000Z", "fields": sent["fields"]})
    );
    // The base by its URL and the table by its id work too.
    let url = format!("https://airtable.com/{}/{}/viwProductsGrid01", airtable::INVENTORY, airtable::PRODUCTS);
    let a = run(
        &app,
        &conn,
        "create_record",
        json!({"base": url, "table": airtable::PRODUCTS, "fields": {"Name": "Saw"}}),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(api.control.last_json(&path), json!({"fields": {"Name": "Saw"}, "typecast": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airtable_create_record_input_problems_come_all_at_once() {
    let (api, app, conn) = airtable_app().await;
    let input = product(json!({
        "Nmae": "x", "Colour": "red", "Price": "129", "In stock": "yes", "Tags": "sale", "Category": "Food",
        "Product #": 7, "Margin": 1, "Created": "2026-12-01", "Stock": 3, "a/b": 1
    }));
    let a = run(&app, &conn, "create_record", input, None).await;
    assert_eq!(
        pointers(&a),
        [
            "/input/fields/Category",
            "/input/fields/Colour",
            "/input/fields/Created",
            "/input/fields/In stock",
            "/input/fields/Margin",
            "/input/fields/Nmae",
            "/input/fields/Price",
            "/input/fields/Product #",
            "/input/fields/Tags",
            "/input/fields/a~1b",
        ]
    );
    let unknown = detail(&a, "/input/fields/Nmae");
    assert!(unknown.contains("\"Name\"") && unknown.contains("\"Supplier email\""), "{unknown}");
    let candidates = a.body["error"]["details"].as_array().unwrap().iter().find(|d| d["path"] == "/input/fields/Nmae");
    assert_eq!(candidates.unwrap()["candidates"][0]["name"], "Name", "{}", a.body);
    assert!(detail(&a, "/input/fields/Price").contains("a number"), "{}", a.body);
    assert!(detail(&a, "/input/fields/In stock").contains("true or false"), "{}", a.body);
    assert!(detail(&a, "/input/fields/Tags").contains("list"), "{}", a.body);
    let food = detail(&a, "/input/fields/Category");
    assert!(food.contains("\"Hardware\"") && food.contains("\"Software\""), "{food}");
    for computed in ["Product #", "Margin", "Created"] {
        assert!(detail(&a, &format!("/input/fields/{computed}")).contains("cannot be written"), "{}", a.body);
    }
    assert_eq!(api.control.calls_with("POST /v0/"), 0, "nothing is created");
    // Two names for one field.
    let a = run(&app, &conn, "create_record", product(json!({"Name": "a", "name": "b"})), None).await;
    assert_eq!(pointers(&a), ["/input/fields/name"]);
    // The schema's own checks: no fields at all.
    let a = run(&app, &conn, "create_record", product(json!({})), None).await;
    assert_eq!(pointers(&a), ["/input/fields"]);
    assert_eq!(api.control.calls_with("POST /v0/"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airtable_create_record_refusals_limits_retries_and_replays() {
    let (api, app, conn) = airtable_app().await;
    let path = format!("POST /v0/{}/{}", airtable::INVENTORY, airtable::PRODUCTS);
    // Airtable's own refusal, with its reason.
    let a = run(&app, &conn, "create_record", product(json!({"Name": "x", "Supplier email": "nobody"})), None).await;
    assert_eq!((a.status, a.body["error"]["code"].as_str()), (422, Some("provider_refused")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("cannot accept the provided value"), "{}", a.body);
    // The token refused once (the first call of the run, the fresh schema read): that call is
    // sent again, once, and the record is created.
    let (calls, posts) = (api.calls(), api.control.calls_with(&path));
    assert_eq!(run(&app, &conn, "create_record", product(json!({"Name": "plain"})), None).await.status, 200);
    let per_run = api.calls() - calls;
    api.set(Trouble::Unauthorized(1));
    let a = run(&app, &conn, "create_record", product(json!({"Name": "retried"})), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(api.calls() - calls, 2 * per_run + 1, "{:#?}", api.control.log());
    assert_eq!(api.control.calls_with(&path), posts + 2);
    // Rate limited: a 429, nothing waited out.
    api.set(Trouble::RateLimited);
    let a = run(&app, &conn, "create_record", product(json!({"Name": "later"})), Some("p-429")).await;
    assert_eq!(a.status, 429, "{}", a.body);
    api.set(Trouble::None);
    // One key, one record: the repeat answers the first run without creating again.
    let input = product(json!({"Name": "once", "Stock": 1}));
    let first = run(&app, &conn, "create_record", input.clone(), Some("product-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let posts = api.control.calls_with(&path);
    let again = run(&app, &conn, "create_record", input, Some("product-1")).await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(api.control.calls_with(&path), posts, "the repeat does not create again");
}

async fn notion_app() -> (Api, TestApp, String) {
    let api = notion::start().await;
    let app = api.app().await;
    let conn = app
        .connect(json!({"provider": "notion", "auth_mode": "api_key", "credentials": {"api_key": notion::TOKEN}}))
        .await;
    (api, app, conn)
}

fn text(s: &str) -> Value {
    json!([{"type": "text", "text": {"content": s}}])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_create_page_turns_plain_values_into_property_values() {
    let (api, app, conn) = notion_app().await;
    let input = json!({
        "database": "customers",
        "properties": {
            "name": "Acme", "Company": "Acme Corp", "SEATS": 40, "Active": true, "Plan": "Pro",
            "Regions": ["EU", "US"], "stage": "customer", "Since": "2026-11-30", "Website": "https://acme.example",
            "Email": "ops@acme.example", "Phone": "+1 555 0100"
        },
        "content": "First call went well.\n\nFollow up in January."
    });
    let a = run(&app, &conn, "create_page", input, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["output"],
        json!({"id": notion::NEW_PAGE, "url": format!("https://www.notion.so/New-customer-{}", notion::NEW_PAGE.replace('-', ""))})
    );
    let paragraph = |s: &str| json!({"object": "block", "type": "paragraph", "paragraph": {"rich_text": text(s)}});
    assert_eq!(
        api.control.last_json("POST /v1/pages"),
        json!({
            "parent": {"type": "data_source_id", "data_source_id": notion::CUSTOMERS},
            "properties": {
                "Name": {"title": text("Acme")}, "Company": {"rich_text": text("Acme Corp")}, "Seats": {"number": 40},
                "Active": {"checkbox": true}, "Plan": {"select": {"name": "Pro"}},
                "Regions": {"multi_select": [{"name": "EU"}, {"name": "US"}]}, "Stage": {"status": {"name": "Customer"}},
                "Since": {"date": {"start": "2026-11-30"}}, "Website": {"url": "https://acme.example"},
                "Email": {"email": "ops@acme.example"}, "Phone": {"phone_number": "+1 555 0100"}
            },
            "children": [paragraph("First call went well."), paragraph("Follow up in January.")]
        })
    );
    // Without content there are no children; the database by its link (a database id, whose data
    // source is the one written to).
    let link = "https://www.notion.so/acme/Customers-1a2b3c4d000040008000000000000104?v=1";
    let a = run(&app, &conn, "create_page", json!({"database": link, "properties": {"Name": "Beta"}}), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        api.control.last_json("POST /v1/pages"),
        json!({"parent": {"type": "data_source_id", "data_source_id": notion::CUSTOMERS}, "properties": {"Name": {"title": text("Beta")}}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_create_page_input_problems_come_all_at_once() {
    let (api, app, conn) = notion_app().await;
    let input = json!({
        "database": "Customers",
        "properties": {
            "Nme": "x", "Seats": "forty", "Active": 1, "Regions": "EU", "Stage": "Won", "Owner": "ada",
            "ARR": 100, "Created": "2026-12-01", "Name": "ok"
        }
    });
    let a = run(&app, &conn, "create_page", input, None).await;
    assert_eq!(
        pointers(&a),
        [
            "/input/properties/ARR",
            "/input/properties/Active",
            "/input/properties/Created",
            "/input/properties/Nme",
            "/input/properties/Owner",
            "/input/properties/Regions",
            "/input/properties/Seats",
            "/input/properties/Stage",
        ]
    );
    let unknown = detail(&a, "/input/properties/Nme");
    assert!(unknown.contains("\"Name\"") && unknown.contains("\"Phone\""), "{unknown}");
    assert!(detail(&a, "/input/properties/Seats").contains("a number"), "{}", a.body);
    assert!(detail(&a, "/input/properties/Stage").contains("\"Lead\""), "{}", a.body);
    assert!(detail(&a, "/input/properties/Owner").contains("people"), "{}", a.body);
    for computed in ["ARR", "Created"] {
        assert!(detail(&a, &format!("/input/properties/{computed}")).contains("cannot be written"), "{}", a.body);
    }
    assert_eq!(api.control.calls_with("POST /v1/pages"), 0, "nothing is created");
    // The schema's own checks.
    let a =
        run(&app, &conn, "create_page", json!({"database": "Customers", "properties": {}, "content": ""}), None).await;
    assert_eq!(pointers(&a), ["/input/content", "/input/properties"]);
    assert_eq!(api.control.calls_with("POST /v1/pages"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_create_page_refusals_limits_retries_and_replays() {
    let (api, app, conn) = notion_app().await;
    // Notion's own refusal, with its reason.
    let a =
        run(&app, &conn, "create_page", json!({"database": "Customers", "properties": {"Since": "next week"}}), None)
            .await;
    assert_eq!((a.status, a.body["error"]["code"].as_str()), (422, Some("provider_refused")), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("ISO 8601"), "{}", a.body);
    // The token refused once (the first call of the run): that call is sent again, once, and
    // the page is created.
    let (calls, posts) = (api.calls(), api.control.calls_with("POST /v1/pages"));
    let input = json!({"database": "Customers", "properties": {"Name": "r"}});
    assert_eq!(run(&app, &conn, "create_page", input.clone(), None).await.status, 200);
    let per_run = api.calls() - calls;
    api.set(Trouble::Unauthorized(1));
    let a = run(&app, &conn, "create_page", input, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(api.calls() - calls, 2 * per_run + 1, "{:#?}", api.control.log());
    assert_eq!(api.control.calls_with("POST /v1/pages"), posts + 2);
    // Rate limited: a 429 with Notion's wait.
    api.set(Trouble::RateLimited);
    let a = run(&app, &conn, "create_page", json!({"database": "Customers", "properties": {"Name": "l"}}), None).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.headers["retry-after"], "12");
    api.set(Trouble::None);
    // One key, one page.
    let input = json!({"database": "Customers", "properties": {"Name": "once"}, "content": "Hello"});
    let first = run(&app, &conn, "create_page", input.clone(), Some("page-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let posts = api.control.calls_with("POST /v1/pages");
    let again = run(&app, &conn, "create_page", input, Some("page-1")).await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(api.control.calls_with("POST /v1/pages"), posts, "the repeat does not create again");
}
