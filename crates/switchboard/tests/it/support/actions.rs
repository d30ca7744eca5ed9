//! Running actions as a test does: the route, the input, an optional Idempotency-Key; and the
//! JSON pointers a refused input comes back with.

use serde_json::{Value, json};

use super::server::{Answer, TestApp};

/// Runs `action` with `input` as the app's secret key, with an idempotency key when given.
pub async fn run(app: &TestApp, conn: &str, action: &str, input: Value, key: Option<&str>) -> Answer {
    let mut req = app
        .client
        .post(app.url(&format!("/v1/connections/{conn}/actions/{action}")))
        .bearer_auth(&app.key)
        .json(&json!({ "input": input }));
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    app.send(req).await
}

/// The JSON pointers of a 400's details, sorted.
pub fn pointers(a: &Answer) -> Vec<String> {
    assert_eq!(a.status, 400, "{}", a.body);
    let mut p: Vec<String> = a.body["error"]["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no details: {}", a.body))
        .iter()
        .map(|d| d["path"].as_str().unwrap().to_owned())
        .collect();
    p.sort();
    p
}
