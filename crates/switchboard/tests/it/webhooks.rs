//! Inbound webhooks, scheme by scheme, signed by the providers' own libraries
//! (stripe, @octokit/webhooks-methods, standardwebhooks, tweetnacl, twilio) or,
//! where the issue names none, by the provider's documented algorithm: a good
//! request is stored and acknowledged, its repeat is acknowledged and not
//! stored again, and a tampered body, a wrong secret, a stale timestamp and a
//! missing header are refused with nothing stored.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};

use crate::support::peers::{SignRequest, signer};
use crate::support::server::{Answer, TestApp};
use crate::support::signing::{hmac_sha256, sha256_header};
use crate::support::{TestDb, spawn_app, spawn_app_with};

fn now() -> i64 {
    i64::try_from(std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_secs()).unwrap()
}

fn hmac1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

async fn endpoint(app: &TestApp, body: Value) -> Value {
    let mut b = json!({"org": "acme"});
    for (k, v) in body.as_object().unwrap() {
        b[k] = v.clone();
    }
    let a = app.post("/v1/webhook-endpoints", b).await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body
}

async fn post(app: &TestApp, url: &str, content_type: &str, headers: &[(String, String)], body: &str) -> Answer {
    let mut req = app.client.post(url).header("content-type", content_type).body(body.to_owned());
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    app.send(req).await
}

/// The events stored at an endpoint, newest first, each read whole (lists carry no bodies).
async fn stored(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let list = app.get(&format!("/v1/events?endpoint={endpoint}")).await.body["items"].as_array().unwrap().clone();
    let mut out = Vec::new();
    for item in list {
        let e = app.get(&format!("/v1/events/{}", item["id"].as_str().unwrap())).await;
        assert_eq!(e.status, 200, "{}", e.body);
        assert_eq!(e.body["id"], item["id"]);
        out.push(e.body);
    }
    out
}

/// What a scheme's signature covers, beyond the secret itself.
#[derive(Clone, Copy, PartialEq)]
enum Covers {
    /// The body and a timestamp: stale requests are refused too.
    BodyAndTime,
    Body,
    /// Only the secret (a shared-secret header): a changed body cannot be detected.
    SecretOnly,
}

/// The five checks every scheme must pass. `sign(body, wrong_secret, timestamp)` gives the headers.
async fn exercise(
    app: &TestApp,
    ep: &Value,
    content_type: &str,
    bodies: [&str; 5],
    signature_header: &str,
    covers: Covers,
    sign: impl AsyncFn(&str, bool, i64) -> Vec<(String, String)>,
) {
    let (id, url) = (ep["id"].as_str().unwrap(), ep["url"].as_str().unwrap());
    let t = now();
    let good = sign(bodies[0], false, t).await;
    let a = post(app, url, content_type, &good, bodies[0]).await;
    assert_eq!(a.status, 200, "good request: {}", a.body);
    assert_ne!(a.body["duplicate"], json!(true), "{}", a.body);
    let first_id = a.body["event_id"].clone();
    let a = post(app, url, content_type, &good, bodies[0]).await;
    assert_eq!(a.status, 200, "repeat: {}", a.body);
    if a.body.get("duplicate").is_some() {
        assert_eq!((&a.body["duplicate"], &a.body["event_id"]), (&json!(true), &first_id), "repeat: {}", a.body);
    }

    if covers != Covers::SecretOnly {
        let h = sign(bodies[1], false, t).await;
        let a = post(app, url, content_type, &h, &tamper(bodies[1])).await;
        assert_eq!((a.status, a.code()), (401, "unauthenticated"), "tampered body: {}", a.body);
    }
    let h = sign(bodies[2], true, t).await;
    let a = post(app, url, content_type, &h, bodies[2]).await;
    assert_eq!(a.status, 401, "wrong secret: {}", a.body);
    if covers == Covers::BodyAndTime {
        let h = sign(bodies[3], false, t - 600).await;
        let a = post(app, url, content_type, &h, bodies[3]).await;
        assert_eq!(a.status, 401, "stale: {}", a.body);
        assert!(a.body["error"]["message"].as_str().unwrap().contains("timestamp"), "{}", a.body);
    }
    let h: Vec<_> = sign(bodies[4], false, t)
        .await
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(signature_header))
        .collect();
    let a = post(app, url, content_type, &h, bodies[4]).await;
    assert_eq!(a.status, 401, "missing header: {}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains(signature_header), "names the header: {}", a.body);
    assert_eq!(stored(app, id).await.len(), 1, "only the good request was stored");
}

/// The same request with one changed byte sequence: JSON stays valid, forms gain a field.
fn tamper(body: &str) -> String {
    if body.starts_with('{') { body.replacen(':', ": ", 1) } else { format!("{body}&Tampered=1") }
}

fn event_bodies(make: impl Fn(usize) -> String) -> [String; 5] {
    std::array::from_fn(|i| make(i + 1))
}

fn refs(b: &[String; 5]) -> [&str; 5] {
    std::array::from_fn(|i| b[i].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe() {
    let (app, s) = (spawn_app(TestDb::sqlite().await).await, signer());
    let secret = "whsec_test_5WbX5kEWLlfqOTfpf4n0ZjxC";
    let ep = endpoint(&app, json!({"provider": "stripe", "secret": secret})).await;
    let bodies = event_bodies(|i| {
        json!({"id": format!("evt_1NG8Du2eZvKYlo2C{i}"), "object": "event", "type": "payment_intent.succeeded", "account": "acct_1032D82eZvKYlo2C", "data": {"object": {"id": "pi_1", "amount": 2000}}}).to_string()
    });
    exercise(
        &app,
        &ep,
        "application/json",
        refs(&bodies),
        "Stripe-Signature",
        Covers::BodyAndTime,
        async |body, wrong, ts| {
            s.sign(&SignRequest {
                scheme: "stripe",
                secret: if wrong { "whsec_not_the_secret" } else { secret },
                body,
                timestamp: Some(ts),
                ..Default::default()
            })
            .await
        },
    )
    .await;
    let e = &stored(&app, ep["id"].as_str().unwrap()).await[0];
    assert_eq!(
        (e["type"].as_str(), e["provider_event_id"].as_str()),
        (Some("stripe.payment_intent.succeeded"), Some("evt_1NG8Du2eZvKYlo2C1"))
    );
    assert_eq!(e["data"]["data"]["object"]["amount"], 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github() {
    let (app, s) = (spawn_app(TestDb::sqlite().await).await, signer());
    let ep = endpoint(&app, json!({"provider": "github"})).await;
    let secret = ep["secret"].as_str().expect("a generated secret is shown once").to_owned();
    let bodies = event_bodies(|i| {
        json!({"ref": "refs/heads/main", "after": format!("{i}a3e8f"), "installation": {"id": 42}, "repository": {"full_name": "acme/api"}}).to_string()
    });
    exercise(
        &app,
        &ep,
        "application/json",
        refs(&bodies),
        "X-Hub-Signature-256",
        Covers::Body,
        async |body, wrong, _| {
            let mut h = s
                .sign(&SignRequest {
                    scheme: "github",
                    secret: if wrong { "other" } else { &secret },
                    body,
                    ..Default::default()
                })
                .await;
            h.push(("X-GitHub-Event".into(), "push".into()));
            h.push(("X-GitHub-Delivery".into(), format!("72d3162e-cc78-11e3-81ab-4c9367dc0958-{}", body.len())));
            h
        },
    )
    .await;
    let e = &stored(&app, ep["id"].as_str().unwrap()).await[0];
    assert_eq!(e["type"], "github.push");
    assert!(e["provider_event_id"].as_str().unwrap().starts_with("72d3162e"));
    assert_eq!(e["headers"]["x-github-event"], "push");
    assert!(e["headers"].get("x-hub-signature-256").is_none(), "signatures are not kept");
    let listed = app.get("/v1/webhook-endpoints?org=acme").await;
    assert!(listed.body["items"][0].get("secret").is_none(), "the secret is shown only once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_webhooks() {
    let (app, s) = (spawn_app(TestDb::sqlite().await).await, signer());
    let ep = endpoint(&app, json!({"provider": "webhook", "scheme": "standard-webhooks"})).await;
    let secret = ep["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let bodies = event_bodies(|i| json!({"type": "invoice.paid", "n": i}).to_string());
    exercise(
        &app,
        &ep,
        "application/json",
        refs(&bodies),
        "webhook-signature",
        Covers::BodyAndTime,
        async |body, wrong, ts| {
            let id = format!("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W{}", body.len());
            s.sign(&SignRequest {
                scheme: "standard-webhooks",
                secret: if wrong { "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } else { &secret },
                body,
                timestamp: Some(ts),
                msg_id: Some(&id),
                ..Default::default()
            })
            .await
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio() {
    let (app, s) = (spawn_app(TestDb::sqlite().await).await, signer());
    let token = "12345678901234567890123456789012";
    let ep = endpoint(&app, json!({"provider": "twilio", "secret": token})).await;
    let url = ep["url"].as_str().unwrap().to_owned();
    let bodies = event_bodies(|i| {
        format!(
            "AccountSid=AC0123456789abcdef0123456789abcdef&MessageSid=SM{i}0000000000000000000000000000001&From=%2B15017122661&Body=Hello+{i}"
        )
    });
    exercise(
        &app,
        &ep,
        "application/x-www-form-urlencoded",
        refs(&bodies),
        "X-Twilio-Signature",
        Covers::Body,
        async |body, wrong, _| {
            let params: serde_json::Map<String, Value> = url::form_urlencoded::parse(body.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            s.sign(&SignRequest {
                scheme: "twilio",
                secret: if wrong { "00000000000000000000000000000000" } else { token },
                body,
                url: Some(&url),
                params: Some(Value::Object(params)),
                ..Default::default()
            })
            .await
        },
    )
    .await;
    let e = &stored(&app, ep["id"].as_str().unwrap()).await[0];
    assert_eq!(e["data"]["Body"], "Hello 1", "form bodies are read as fields");
}

/// A Twilio Webhooks Rule signs with its shared key and HMAC-SHA256, and says so in a header; requests
/// without that header are HMAC-SHA1 with the auth token. An endpoint holding both (rotated) takes both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_webhooks_rules_sign_with_hmac_sha256() {
    let (app, s) = (spawn_app(TestDb::sqlite().await).await, signer());
    let (auth_token, shared_key) = ("12345678901234567890123456789012", "webhooks-shared-key-secret-0001");
    let ep = endpoint(&app, json!({"provider": "twilio", "secret": auth_token})).await;
    let url = ep["url"].as_str().unwrap().to_owned();
    let rotated = app
        .patch(&format!("/v1/webhook-endpoints/{}", ep["id"].as_str().unwrap()), json!({"secret": shared_key}))
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let send = async |n: u32, key: &str, algorithm: Option<&str>| {
        let body = format!("AccountSid=AC0123456789abcdef0123456789abcdef&MessageSid=SM{n:032}&Body=Hi+{n}");
        let params: serde_json::Map<String, Value> = url::form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        let h = s
            .sign(&SignRequest {
                scheme: "twilio",
                secret: key,
                body: &body,
                url: Some(&url),
                params: Some(Value::Object(params)),
                algorithm,
                ..Default::default()
            })
            .await;
        assert_eq!(h.iter().any(|(k, _)| k == "X-Twilio-Webhooks-Signature-Settings"), algorithm.is_some());
        post(&app, &url, "application/x-www-form-urlencoded", &h, &body).await.status
    };
    assert_eq!(send(1, shared_key, Some("HMAC_SHA256")).await, 200, "a Webhooks Rule's signature");
    assert_eq!(send(2, auth_token, None).await, 200, "the auth token's HMAC-SHA1");
    assert_eq!(send(3, "not-the-shared-key", Some("HMAC_SHA256")).await, 401, "a wrong shared key");
    // The algorithm is the header's: a SHA-256 signature presented as SHA-1 does not verify.
    let body = "AccountSid=AC1&Body=x";
    let params = json!({"AccountSid": "AC1", "Body": "x"});
    let mut h = s
        .sign(&SignRequest {
            scheme: "twilio",
            secret: shared_key,
            body,
            url: Some(&url),
            params: Some(params),
            algorithm: Some("HMAC_SHA256"),
            ..Default::default()
        })
        .await;
    h.retain(|(k, _)| k != "X-Twilio-Webhooks-Signature-Settings");
    assert_eq!(post(&app, &url, "application/x-www-form-urlencoded", &h, body).await.status, 401);
    assert_eq!(stored(&app, ep["id"].as_str().unwrap()).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_interactions() {
    let (app, s) = (spawn_app(TestDb::sqlite().await).await, signer());
    let seed = "7".repeat(64);
    let public_key = s.public_key(&seed).await;
    let ep = endpoint(&app, json!({"provider": "discord", "secret": public_key})).await;
    let bodies = event_bodies(|i| {
        json!({"id": format!("{i}0987654321987654"), "type": 2, "application_id": "1090000000000000002", "data": {"name": "deploy"}}).to_string()
    });
    let other_seed = "8".repeat(64);
    exercise(
        &app,
        &ep,
        "application/json",
        refs(&bodies),
        "X-Signature-Ed25519",
        Covers::BodyAndTime,
        async |body, wrong, ts| {
            s.sign(&SignRequest {
                scheme: "discord",
                secret: if wrong { &other_seed } else { &seed },
                body,
                timestamp: Some(ts),
                ..Default::default()
            })
            .await
        },
    )
    .await;
    // PING is answered with PONG, and a command is acknowledged as deferred.
    let ping = r#"{"id":"1","type":1,"application_id":"1090000000000000002"}"#;
    let h = s
        .sign(&SignRequest {
            scheme: "discord",
            secret: &seed,
            body: ping,
            timestamp: Some(now()),
            ..Default::default()
        })
        .await;
    let a = post(&app, ep["url"].as_str().unwrap(), "application/json", &h, ping).await;
    assert_eq!((a.status, a.body.clone()), (200, json!({"type": 1})));
    let cmd = json!({"id": "555", "type": 2, "application_id": "1090000000000000002"}).to_string();
    let h = s
        .sign(&SignRequest {
            scheme: "discord",
            secret: &seed,
            body: &cmd,
            timestamp: Some(now()),
            ..Default::default()
        })
        .await;
    assert_eq!(post(&app, ep["url"].as_str().unwrap(), "application/json", &h, &cmd).await.body, json!({"type": 5}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_and_its_url_verification() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let ep = endpoint(&app, json!({"provider": "slack", "secret": secret})).await;
    let sign = async |body: &str, wrong: bool, ts: i64| -> Vec<(String, String)> {
        let key = if wrong { "not-the-signing-secret" } else { secret };
        let sig = hex::encode(hmac_sha256(key.as_bytes(), format!("v0:{ts}:{body}").as_bytes()));
        vec![("X-Slack-Request-Timestamp".into(), ts.to_string()), ("X-Slack-Signature".into(), format!("v0={sig}"))]
    };
    let bodies = event_bodies(|i| {
        json!({"token": "x", "team_id": "T9TK3CUKW", "api_app_id": "A0KRD7HC3", "event": {"type": "message", "text": "hi", "ts": format!("{i}.0")}, "type": "event_callback", "event_id": format!("Ev0PV5{i}"), "event_time": 1700000000}).to_string()
    });
    exercise(&app, &ep, "application/json", refs(&bodies), "X-Slack-Signature", Covers::BodyAndTime, sign).await;
    let e = &stored(&app, ep["id"].as_str().unwrap()).await[0];
    assert_eq!((e["type"].as_str(), e["provider_event_id"].as_str()), (Some("slack.message"), Some("Ev0PV51")));

    let challenge = json!({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string();
    let a =
        post(&app, ep["url"].as_str().unwrap(), "application/json", &sign(&challenge, false, now()).await, &challenge)
            .await;
    assert_eq!(a.body["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    let a =
        post(&app, ep["url"].as_str().unwrap(), "application/json", &sign(&challenge, true, now()).await, &challenge)
            .await;
    assert_eq!(a.status, 401, "an unsigned challenge is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let secret = "shpss_5f1b1e5a3a0c4f0f9d5c";
    let ep = endpoint(&app, json!({"provider": "shopify", "secret": secret})).await;
    let bodies = event_bodies(|i| {
        json!({"id": 820982911946154508u64 + i as u64, "email": "jon@example.com", "total_price": "10.00"}).to_string()
    });
    exercise(
        &app,
        &ep,
        "application/json",
        refs(&bodies),
        "X-Shopify-Hmac-Sha256",
        Covers::Body,
        async |body, wrong, _| {
            let key = if wrong { "shpss_other" } else { secret };
            vec![
                ("X-Shopify-Hmac-Sha256".into(), STANDARD.encode(hmac_sha256(key.as_bytes(), body.as_bytes()))),
                ("X-Shopify-Topic".into(), "orders/create".into()),
                ("X-Shopify-Shop-Domain".into(), "acme.myshopify.com".into()),
                ("X-Shopify-Webhook-Id".into(), format!("b54557e4-bdd9-4b37-8a5f-bf7d70bcd04{}", body.len() % 10)),
            ]
        },
    )
    .await;
    assert_eq!(stored(&app, ep["id"].as_str().unwrap()).await[0]["type"], "shopify.orders/create");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_and_its_subscription_handshake() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let secret = "app-secret-0123456789abcdef";
    let ep = endpoint(&app, json!({"provider": "whatsapp", "secret": secret, "verify_token": "my-verify-token"})).await;
    assert_eq!(ep["verify_token"], "my-verify-token");
    let url = ep["url"].as_str().unwrap();
    let a = app
        .send(
            app.client
                .get(format!("{url}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=my-verify-token")),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, json!(1_158_201_444), "the challenge is echoed as the body");
    let a = app.send(app.client.get(format!("{url}?hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess"))).await;
    assert_eq!(a.status, 403);
    let bodies = event_bodies(|i| {
        json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {"messages": [{"id": format!("wamid.HBgL{i}"), "type": "text"}]}}]}]}).to_string()
    });
    exercise(
        &app,
        &ep,
        "application/json",
        refs(&bodies),
        "X-Hub-Signature-256",
        Covers::Body,
        async |body, wrong, _| {
            vec![("X-Hub-Signature-256".into(), sha256_header(if wrong { "wrong-app-secret" } else { secret }, body))]
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_graph_validation_and_client_state() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let ep = endpoint(&app, json!({"provider": "outlook"})).await;
    let state = ep["secret"].as_str().unwrap().to_owned();
    let url = ep["url"].as_str().unwrap();
    let a = app
        .send(
            app.client
                .post(format!("{url}?validationToken=Validation%3A%20Testing%20client%20application%20reachability"))
                .body(""),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["content-type"], "text/plain; charset=utf-8");
    let bodies = event_bodies(|i| {
        json!({"value": [{"id": format!("lsgTZMr9KwAAA{i}"), "subscriptionId": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", "clientState": "STATE", "changeType": "created", "resource": "Users/abc/Messages/def", "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95"}]}).to_string()
    });
    // Graph signs nothing: the clientState inside each notification is the check.
    let good = bodies[0].replace("STATE", &state);
    let a = post(&app, url, "application/json", &[], &good).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = post(&app, url, "application/json", &[], &bodies[1].replace("STATE", "guessed")).await;
    assert_eq!(a.status, 401);
    let a = post(&app, url, "application/json", &[], &bodies[2].replace(",\"clientState\":\"STATE\"", "")).await;
    assert_eq!(a.status, 401, "a missing clientState is refused");
    assert_eq!(stored(&app, ep["id"].as_str().unwrap()).await[0]["provider_event_id"], "lsgTZMr9KwAAA1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trello() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let secret = "trello-app-secret-abcdef";
    let ep = endpoint(&app, json!({"provider": "trello", "secret": secret})).await;
    let url = ep["url"].as_str().unwrap().to_owned();
    let a = app.send(app.client.head(&url)).await;
    assert_eq!(a.status, 200, "Trello checks the callback URL with HEAD");
    let bodies = event_bodies(|i| {
        json!({"action": {"id": format!("5{i}1a2b3c4d5e6f"), "type": "createCard"}, "model": {"id": "board1"}})
            .to_string()
    });
    exercise(&app, &ep, "application/json", refs(&bodies), "X-Trello-Webhook", Covers::Body, async |body, wrong, _| {
        let key = if wrong { "other-secret" } else { secret };
        vec![("X-Trello-Webhook".into(), STANDARD.encode(hmac1(key.as_bytes(), format!("{body}{url}").as_bytes())))]
    })
    .await;
    // A callback URL registered with a query string is signed with it, exactly as registered.
    let with_query = format!("{url}?board=acme&list=todo");
    let body = json!({"action": {"id": "5f9a1a2b3c4d5e6fquery", "type": "updateCard"}}).to_string();
    let sign = |over: &str| STANDARD.encode(hmac1(secret.as_bytes(), format!("{body}{over}").as_bytes()));
    let a = post(&app, &with_query, "application/json", &[("X-Trello-Webhook".into(), sign(&url))], &body).await;
    assert_eq!(a.status, 401, "signed without the query: not what Trello sends");
    let a = post(&app, &with_query, "application/json", &[("X-Trello-Webhook".into(), sign(&with_query))], &body).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_shared_secret_and_hmac() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let shared = endpoint(&app, json!({"provider": "zapier"})).await;
    let secret = shared["secret"].as_str().unwrap().to_owned();
    let bodies = event_bodies(|i| json!({"zap": "new lead", "n": i}).to_string());
    exercise(
        &app,
        &shared,
        "application/json",
        refs(&bodies),
        "X-Webhook-Secret",
        Covers::SecretOnly,
        async |_, wrong, _| vec![("X-Webhook-Secret".into(), if wrong { "guess".to_owned() } else { secret.clone() })],
    )
    .await;
    // A shared secret cannot detect a tampered body on its own: that is what hmac-sha256 is for.
    let hmac = endpoint(&app, json!({"provider": "webhook", "scheme": "hmac-sha256"})).await;
    let key = hmac["secret"].as_str().unwrap().to_owned();
    exercise(
        &app,
        &hmac,
        "application/json",
        refs(&bodies),
        "X-Webhook-Signature",
        Covers::Body,
        async |body, wrong, _| {
            vec![("X-Webhook-Signature".into(), sha256_header(if wrong { "other" } else { key.as_str() }, body))]
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_check_their_input_and_rotate_secrets() {
    let (app, s) = (spawn_app(TestDb::sqlite().await).await, signer());
    for (body, field) in [
        (json!({"provider": "stripe"}), "secret"),
        (json!({"provider": "stripe", "secret": "not-whsec"}), "secret"),
        (json!({"provider": "discord", "secret": "abc"}), "secret"),
        (json!({"provider": "openai"}), "provider"),
        (json!({"provider": "webhook", "scheme": "basic"}), "scheme"),
        (json!({"provider": "github", "scheme": "stripe"}), "scheme"),
        (json!({"provider": "github", "connection": "conn_nope"}), "connection"),
    ] {
        let mut b = body.clone();
        b["org"] = json!("acme");
        let a = app.post("/v1/webhook-endpoints", b).await;
        assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some(field)), "{body}: {}", a.body);
    }
    // Rotation: both secrets are accepted until the previous one is dropped.
    let ep = endpoint(&app, json!({"provider": "github"})).await;
    let (id, url) = (ep["id"].as_str().unwrap().to_owned(), ep["url"].as_str().unwrap().to_owned());
    let old = ep["secret"].as_str().unwrap().to_owned();
    let rotated = app.patch(&format!("/v1/webhook-endpoints/{id}"), json!({})).await;
    assert_eq!((rotated.status, rotated.body["secrets"].as_u64()), (200, Some(2)), "{}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    let send = async |secret: &str, n: u32| {
        let body = json!({"n": n}).to_string();
        let mut h = s.sign(&SignRequest { scheme: "github", secret, body: &body, ..Default::default() }).await;
        h.push(("X-GitHub-Delivery".into(), format!("d-{n}")));
        post(&app, &url, "application/json", &h, &body).await.status
    };
    assert_eq!((send(&old, 1).await, send(&new, 2).await), (200, 200));
    app.patch(&format!("/v1/webhook-endpoints/{id}"), json!({"drop_previous": true})).await;
    assert_eq!((send(&old, 3).await, send(&new, 4).await), (401, 200));
    // Deleted: the URL stops answering at once.
    assert_eq!(app.delete(&format!("/v1/webhook-endpoints/{id}")).await.status, 204);
    assert_eq!(send(&new, 5).await, 404);
    assert_eq!(app.send(app.client.post(app.url("/hooks/whe_not-an-endpoint")).body("{}")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_before_anything_else() {
    let app = spawn_app_with(TestDb::sqlite().await, &[("max_body_bytes", "2048")]).await;
    let ep = endpoint(&app, json!({"provider": "zapier"})).await;
    let a = post(
        &app,
        ep["url"].as_str().unwrap(),
        "application/json",
        &[("X-Webhook-Secret".into(), ep["secret"].as_str().unwrap().into())],
        &"x".repeat(5000),
    )
    .await;
    assert_eq!((a.status, a.code()), (413, "payload_too_large"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_endpoint_for_many_workspaces_attributes_events_to_their_connection() {
    let slack = crate::support::fakes::Fake::start("https://slack.com", |s| {
        let team = if s.bearer().unwrap_or_default().contains("one") { "T0000ONE" } else { "T0000TWO" };
        crate::support::fakes::shape(
            200,
            json!({"ok": true, "team": team, "team_id": team, "user_id": "U1", "url": "https://x.slack.com/"}),
        )
    })
    .await;
    let app = spawn_app_with(TestDb::sqlite().await, &[("outbound_overrides", &slack.override_entry())]).await;
    let mut ids = Vec::new();
    for token in ["xoxb-team-one", "xoxb-team-two"] {
        let a = app.post("/v1/connections", json!({"provider": "slack", "auth_mode": "bot_token", "org": "acme", "credentials": {"bot_token": token}})).await;
        assert_eq!(a.status, 201, "{}", a.body);
        ids.push(a.body["id"].as_str().unwrap().to_owned());
    }
    let secret = "signing-secret-1";
    let ep = endpoint(&app, json!({"provider": "slack", "secret": secret})).await;
    let body =
        json!({"team_id": "T0000TWO", "event": {"type": "app_mention"}, "type": "event_callback", "event_id": "Ev1"})
            .to_string();
    let ts = now();
    let sig = hex::encode(hmac_sha256(secret.as_bytes(), format!("v0:{ts}:{body}").as_bytes()));
    let h =
        vec![("X-Slack-Request-Timestamp".into(), ts.to_string()), ("X-Slack-Signature".into(), format!("v0={sig}"))];
    assert_eq!(post(&app, ep["url"].as_str().unwrap(), "application/json", &h, &body).await.status, 200);
    let e = &stored(&app, ep["id"].as_str().unwrap()).await[0];
    assert_eq!(
        (e["connection_id"].as_str(), e["org"].as_str()),
        (Some(ids[1].as_str()), Some("acme")),
        "attributed by team_id"
    );
}
