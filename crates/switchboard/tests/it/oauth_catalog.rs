//! Every OAuth provider in the catalog connects through the API against local
//! fakes: one fake per origin the entry names, answering the authorize
//! redirect, the token request and the identity request at exactly the URLs
//! and JSON paths the entry declares. Provider-specific behaviour is tested
//! against fakes in each provider's documented shapes in `oauth_providers`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_core::catalog::{Provider, path, template};

use crate::support::fakes::{Fake, Seen, Shape, shape};
use crate::support::{TestDb, spawn_app_with};

const CLIENT_SECRET: &str = "generic-secret";
const METADATA_URL: &str = "https://metadata.fake.example";

fn sample(p: &Provider, name: &str, access_token: &str) -> String {
    if name == "access_token" {
        return access_token.to_owned();
    }
    if let Some(ph) = p.placeholders.get(name) {
        return ph.default.clone().or_else(|| ph.example.clone()).unwrap_or_default();
    }
    if name.starts_with("metadata.") {
        return METADATA_URL.to_owned();
    }
    match name {
        "client_id" => "generic-client".into(),
        "client_secret" => CLIENT_SECRET.into(),
        _ => "sample".into(),
    }
}

fn render(p: &Provider, t: &str, access_token: &str) -> url::Url {
    let s = template::render_url(t, |n| Some(sample(p, n, access_token).into())).unwrap();
    url::Url::parse(&s).unwrap_or_else(|e| panic!("{}: {t}: {e}", p.id))
}

fn origin(u: &url::Url) -> String {
    u.origin().ascii_serialization()
}

/// Puts `value` at a dot path, creating objects and arrays on the way; existing values win.
fn set_path(doc: &mut Value, p: &str, value: Value) {
    let mut cur = doc;
    for seg in p.split('.') {
        cur = if let Ok(i) = seg.parse::<usize>() {
            if !cur.is_array() {
                *cur = Value::Array(Vec::new());
            }
            let arr = cur.as_array_mut().unwrap();
            while arr.len() <= i {
                arr.push(Value::Null);
            }
            &mut arr[i]
        } else {
            if !cur.is_object() {
                *cur = json!({});
            }
            cur.as_object_mut().unwrap().entry(seg.to_owned()).or_insert(Value::Null)
        };
    }
    if cur.is_null() {
        *cur = value;
    }
}

/// What each origin's fake answers, by path.
#[derive(Default)]
struct Answers {
    tokens: BTreeMap<String, Value>,
    identities: BTreeMap<String, Value>,
}

fn metadata_value(p: &Provider, name: &str) -> Value {
    let used_in_url = p.api_base_url.as_deref().is_some_and(|b| b.contains(&format!("{{metadata.{name}}}")));
    Value::String(if used_in_url { METADATA_URL.to_owned() } else { format!("meta-{name}") })
}

/// The authorization server's redirect back, naming itself with `iss` where the entry declares an issuer.
fn authorize(s: &Seen, issuer: Option<&str>) -> Shape {
    let q = |k: &str| s.query(k).unwrap_or_default();
    let mut params: BTreeMap<&str, String> = BTreeMap::new();
    if let Some(iss) = issuer {
        params.insert("iss", iss.to_owned());
    }
    params.insert("code", "generic-code".into());
    params.insert("state", q("state"));
    params.insert("shop", "acme.myshopify.com".into());
    params.insert("realmId", "9130355".into());
    params.insert("timestamp", "1795000000".into());
    let message = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let hmac = hex::encode(crate::support::signing::hmac_sha256(CLIENT_SECRET.as_bytes(), message.as_bytes()));
    let mut target = url::Url::parse(&q("redirect_uri")).unwrap();
    target.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str()))).append_pair("hmac", &hmac);
    shape(302, json!({})).header("location", target.to_string())
}

fn is_token_request(s: &Seen) -> bool {
    let text = String::from_utf8_lossy(&s.body);
    s.query("grant_type").is_some() || text.contains("grant_type")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_oauth_provider_in_the_catalog_connects() {
    let catalog = switchboard::catalog::load(None).unwrap();
    let providers: Vec<Arc<Provider>> =
        catalog.iter().filter(|p| p.oauth2.is_some() && p.id != "custom-oauth2").cloned().collect();
    assert!(providers.len() >= 50, "{} OAuth providers", providers.len());

    let mut answers: BTreeMap<String, Answers> = BTreeMap::new();
    let mut origins: BTreeSet<String> = BTreeSet::new();
    let mut issuers: BTreeMap<String, String> = BTreeMap::new();
    // The access token each provider will hold: providers sharing a token endpoint share its answer.
    let mut expected_token: BTreeMap<String, String> = BTreeMap::new();
    for p in &providers {
        let o = p.oauth2.as_ref().unwrap();
        let authorize_origin = origin(&render(p, &o.authorization_url, ""));
        if let Some(iss) = &o.issuer {
            issuers.insert(authorize_origin.clone(), render(p, iss, "").as_str().trim_end_matches('/').to_owned());
        }
        origins.insert(authorize_origin);
        for t in [Some(&o.token_url), o.refresh_url.as_ref(), o.exchange.as_ref().and_then(|e| e.url.as_ref())]
            .into_iter()
            .flatten()
        {
            let u = render(p, t, "");
            let doc = answers.entry(origin(&u)).or_default().tokens.entry(u.path().to_owned()).or_insert(json!({}));
            set_path(doc, &o.token_fields.access_token, json!(format!("at-{}", p.id)));
            set_path(doc, &o.token_fields.refresh_token, json!("rt-generic"));
            set_path(doc, &o.token_fields.expires_in, json!(3600));
            set_path(doc, &o.token_fields.token_type, json!("bearer"));
            set_path(doc, "ok", json!(true));
            for (name, path) in &o.token_metadata {
                set_path(doc, path, metadata_value(p, name));
            }
            for path in o.token_extra.values() {
                set_path(doc, path, json!("extra-secret"));
            }
            expected_token
                .entry(p.id.clone())
                .or_insert_with(|| path::get_text(doc, &o.token_fields.access_token).unwrap_or_default());
        }
    }
    for p in &providers {
        let o = p.oauth2.as_ref().unwrap();
        let token = expected_token[&p.id].clone();
        if let Some(idn) = &o.identity {
            let u = match (&idn.url, &idn.path) {
                (Some(url), _) => render(p, url, &token),
                (None, Some(rel)) => render(p, &format!("{}{rel}", p.api_base_url.as_deref().unwrap()), &token),
                _ => unreachable!(),
            };
            let doc =
                answers.entry(origin(&u)).or_default().identities.entry(u.path().to_owned()).or_insert(Value::Null);
            for (which, path) in [("id", &idn.id), ("name", &idn.name), ("email", &idn.email)] {
                if let Some(path) = path {
                    set_path(
                        doc,
                        path,
                        json!(if which == "email" {
                            "someone@example.test".to_owned()
                        } else {
                            format!("{which}-value")
                        }),
                    );
                }
            }
            if let Some(ok) = &idn.ok_field {
                set_path(doc, ok, json!(true));
            }
            for (name, path) in &idn.metadata {
                set_path(doc, path, metadata_value(p, name));
            }
        }
    }
    origins.extend(answers.keys().cloned());

    let mut fakes = Vec::new();
    for o in &origins {
        let a = answers.remove(o).unwrap_or_default();
        let (tokens, identities) = (Arc::new(a.tokens), Arc::new(a.identities));
        let issuer = issuers.get(o).cloned();
        fakes.push(
            Fake::start(o, move |s| {
                if s.query("response_type").as_deref() == Some("code") {
                    return authorize(s, issuer.as_deref());
                }
                if is_token_request(s)
                    && let Some(doc) = tokens.get(&s.path)
                {
                    return shape(200, doc.clone());
                }
                match identities.get(&s.path) {
                    Some(doc) => shape(200, doc.clone()),
                    None => shape(404, json!({"error": format!("fake: nothing at {} {}", s.method, s.path)})),
                }
            })
            .await,
        );
    }
    let overrides = fakes.iter().map(Fake::override_entry).collect::<Vec<_>>().join(",");
    let app = spawn_app_with(
        TestDb::sqlite().await,
        &[("outbound_overrides", &overrides), ("allowed_redirects", "http://app.test/"), ("jobs", "false")],
    )
    .await;

    let mut failures = Vec::new();
    for p in &providers {
        let created = app
            .post(
                "/v1/integrations",
                json!({"id": p.id, "provider": p.id, "client_id": "generic-client", "client_secret": CLIENT_SECRET}),
            )
            .await;
        if created.status != 201 {
            failures.push(format!("{}: integration: {}", p.id, created.body));
            continue;
        }
        let params: serde_json::Map<String, Value> = p
            .placeholders
            .iter()
            .filter(|(_, ph)| ph.default.is_none())
            .map(|(k, _)| (k.clone(), json!(sample(p, k, ""))))
            .collect();
        let started = app
            .post(
                "/v1/oauth/start",
                json!({"integration": p.id, "org": "acme", "redirect_uri": "http://app.test/done", "params": params}),
            )
            .await;
        let Some(auth_url) = started.body["auth_url"].as_str() else {
            failures.push(format!("{}: start: {}", p.id, started.body));
            continue;
        };
        let at_provider = app.send(app.client.get(auth_url)).await;
        let Some(callback) = at_provider.headers.get("location").and_then(|v| v.to_str().ok()) else {
            failures.push(format!("{}: the authorize URL {auth_url} did not redirect: {}", p.id, at_provider.body));
            continue;
        };
        let back = app.send(app.client.get(callback)).await;
        let target = back.headers.get("location").and_then(|v| v.to_str().ok()).map(|l| url::Url::parse(l).unwrap());
        let status =
            target.as_ref().and_then(|t| t.query_pairs().find(|(k, _)| k == "status").map(|(_, v)| v.into_owned()));
        if status.as_deref() != Some("success") {
            let hs = app.get(&format!("/v1/oauth/handshakes/{}", started.body["handshake_id"].as_str().unwrap())).await;
            failures.push(format!("{}: {:?}", p.id, hs.body["error"]));
            continue;
        }
        let id =
            target.unwrap().query_pairs().find(|(k, _)| k == "connection_id").map(|(_, v)| v.into_owned()).unwrap();
        let c = app.get(&format!("/v1/connections/{id}")).await;
        let o = p.oauth2.as_ref().unwrap();
        if let Some(id_path) = o.identity.as_ref().and_then(|i| i.id.as_ref()) {
            let expected = if id_path.is_empty() { None } else { Some("id-value") };
            if c.body["account"]["id"].as_str() != expected && path::is_valid(id_path) {
                failures.push(format!("{}: account id {:?}, expected {expected:?}", p.id, c.body["account"]["id"]));
            }
        }
        let creds = app.get(&format!("/v1/connections/{id}/credentials")).await;
        if creds.body["access_token"] != json!(expected_token[&p.id]) {
            failures.push(format!("{}: credentials {}", p.id, creds.body));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} providers failed:\n{}",
        failures.len(),
        providers.len(),
        failures.join("\n")
    );
}
