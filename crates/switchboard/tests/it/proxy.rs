//! The proxy, `ANY /v1/proxy/{connection}/{path…}`: every auth placement the catalog knows
//! (a header, query parameters, HTTP Basic, Telegram's token in the path, an OAuth bearer),
//! headers filtered both ways, paths that try to leave the base URL, bodies streamed, size
//! limits, a client that goes away, rate limits passed back or waited out, refresh on 401
//! against the real authorization server, and tenancy. The 100 MiB streams run through the
//! real binary so its memory can be read.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::idp::Idp;
use crate::support::server::{Answer, TestApp};
use crate::support::upstream::{Upstream, pattern_sha256, pattern_stream};
use crate::support::{TestDb, spawn_app_with};

const TELEGRAM_TOKEN: &str = "700123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
const API_KEY: &str = "sk-upstream-secret-1";

async fn app_with(up: &Upstream, extra: &[(&str, &str)]) -> TestApp {
    let overrides = ["https://api.telegram.org", "https://api.trello.com", "https://api.twilio.com"]
        .map(|o| format!("{o}={}", up.origin()))
        .join(",");
    let mut settings = vec![("outbound_overrides", overrides.as_str()), ("jobs", "false")];
    settings.extend_from_slice(extra);
    spawn_app_with(TestDb::sqlite().await, &settings).await
}

/// A custom-api-key connection whose base URL is the upstream's `/v1`, the key in `X-API-Key`.
async fn custom(app: &TestApp, up: &Upstream) -> String {
    app.connect(json!({"provider": "custom-api-key", "credentials": {
        "base_url": format!("{}/v1", up.origin()), "header_name": "X-API-Key", "api_key": API_KEY}}))
        .await
}

fn proxy_url(app: &TestApp, conn: &str, rest: &str) -> String {
    app.url(&format!("/v1/proxy/{conn}/{rest}"))
}

async fn get(app: &TestApp, conn: &str, rest: &str) -> Answer {
    app.send(app.client.get(proxy_url(app, conn, rest)).bearer_auth(&app.key)).await
}

/// Sends `path` exactly as written (clients normalise `..` away), answering (status, body).
async fn raw_get(app: &TestApp, path: &str) -> (u16, String) {
    raw(app, &format!("GET {path}"), "").await
}

/// A request line and extra header lines sent as written, without a body.
async fn raw(app: &TestApp, line: &str, headers: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let req = format!(
        "{line} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n{headers}Connection: close\r\n\r\n",
        app.addr, app.key
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await.unwrap().unwrap();
    crate::support::process::parse_response(&String::from_utf8_lossy(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_auth_placement_is_applied_and_nothing_of_ours_is_forwarded() {
    let up = Upstream::start().await;
    let app = app_with(&up, &[]).await;
    let header = custom(&app, &up).await;
    let query = app
        .connect(json!({"provider": "trello", "credentials": {"api_key": "trello-key-1", "token": "trello-token-1"}}))
        .await;
    let basic = app
        .connect(json!({"provider": "twilio", "credentials": {"account_sid": TWILIO_SID, "auth_token": "twilio-auth-token-1"}}))
        .await;
    let path = app.connect(json!({"provider": "telegram", "credentials": {"bot_token": TELEGRAM_TOKEN}})).await;

    let send = |conn: &str, rest: &str| {
        app.client
            .get(proxy_url(&app, conn, rest))
            .bearer_auth(&app.key)
            .header("cookie", "switchboard_session=ours")
            .header("connection", "keep-alive, x-client-hop")
            .header("x-client-hop", "1")
            .header("x-custom", "passed")
            .header("switchboard-rate-limit-retries", "0")
    };
    let cases: [(&str, &str, &str); 4] = [
        (&header, "echo?page=2&q=a%20b", "/v1/echo"),
        (&query, "1/boards/abc/echo?fields=name", "/1/boards/abc/echo"),
        (&basic, "2010-04-01/Accounts/echo", "/2010-04-01/Accounts/echo"),
        (&path, "echo", "/bot700123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/echo"),
    ];
    for (conn, rest, upstream_path) in cases {
        let res = send(conn, rest).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let headers = res.headers().clone();
        assert_eq!(headers.get("x-upstream").unwrap(), "kept", "the provider's own headers come back");
        for gone in ["x-upstream-hop", "keep-alive", "set-cookie"] {
            assert!(headers.get(gone).is_none(), "{gone} must not come back: {headers:?}");
        }
        let doc: Value = res.json().await.unwrap();
        let seen = up.last();
        assert_eq!(seen.path, upstream_path, "{doc}");
        assert_eq!(seen.header("x-custom"), Some("passed"));
        for gone in ["cookie", "x-client-hop", "switchboard-rate-limit-retries", "x-request-id"] {
            assert!(seen.header(gone).is_none(), "{gone} must not be forwarded: {:?}", seen.headers);
        }
        let auth = seen.header("authorization").unwrap_or_default().to_owned();
        assert!(!auth.contains(&app.key), "our bearer is never forwarded");
        match conn {
            c if c == header => {
                assert_eq!(seen.header("x-api-key"), Some(API_KEY));
                assert_eq!(auth, "");
                assert_eq!(seen.query.as_deref(), Some("page=2&q=a%20b"), "the query goes as it came");
            }
            c if c == query => {
                let q = seen.query.clone().unwrap();
                assert!(
                    q.contains("fields=name") && q.contains("key=trello-key-1") && q.contains("token=trello-token-1"),
                    "{q}"
                );
            }
            c if c == basic => {
                use base64::Engine as _;
                let want =
                    base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:twilio-auth-token-1"));
                assert_eq!(auth, format!("Basic {want}"));
            }
            _ => assert_eq!(auth, ""),
        }
    }

    // A caller cannot choose the credential parameters: its own `key` is dropped.
    let a = get(&app, &query, "echo?key=mine&token=mine&x=1").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let q = up.last().query.unwrap();
    assert!(!q.contains("mine") && q.contains("x=1") && q.contains("key=trello-key-1"), "{q}");
    // Nor can it send its own value of the credential header.
    let res = app
        .client
        .get(proxy_url(&app, &header, "echo"))
        .bearer_auth(&app.key)
        .header("x-api-key", "someone-elses")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(up.last().headers.get_all("x-api-key").iter().collect::<Vec<_>>(), vec![API_KEY]);

    // Bodies, methods and the provider's statuses go through as they are.
    let body = br#"{"name":"Ada","tags":["a","b"]}"#;
    let res = app
        .client
        .patch(proxy_url(&app, &header, "echo?status=422"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "the provider's status, not ours");
    let seen = up.last();
    assert_eq!((seen.method.as_str(), seen.body_len), ("PATCH", body.len() as u64));
    assert_eq!(seen.body_sha256, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body)));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    let res = app.client.delete(proxy_url(&app, &path, "echo")).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!((res.status().as_u16(), up.last().method.as_str()), (200, "DELETE"));

    // Nothing secret in what the proxy's own errors say, nor in /metrics.
    let a = raw_get(&app, &format!("/v1/proxy/{path}/../../x")).await;
    assert!(!a.1.contains(TELEGRAM_TOKEN));
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"switchboard_proxy_requests_total{provider="trello",method="GET",status_class="2xx"} 2"#),
        "{metrics}"
    );
    assert!(metrics.contains(
        r#"switchboard_proxy_requests_total{provider="custom-api-key",method="PATCH",status_class="4xx"} 1"#
    ));
    assert!(
        metrics
            .contains(r#"switchboard_proxy_requests_total{provider="telegram",method="GET",status_class="error"} 1"#)
    );
    assert!(metrics.contains("switchboard_proxy_request_duration_seconds_bucket"));
    for secret in [TELEGRAM_TOKEN, API_KEY, "trello-token-1", "twilio-auth-token-1"] {
        assert!(!metrics.contains(secret));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_that_would_leave_the_base_url_are_refused() {
    let up = Upstream::start().await;
    let app = app_with(&up, &[]).await;
    let conn = custom(&app, &up).await;
    for rest in [
        "../admin",
        "a/../../admin",
        "%2e%2e/admin",
        "%2E%2E%2Fadmin",
        ".%2e/admin",
        "..%5cadmin",
        "%252e%252e/admin",
        "/evil.example/x",
        "https:%2F%2Fevil.example/x",
        "https://evil.example/x",
        "a%00b",
    ] {
        let (status, body) = raw_get(&app, &format!("/v1/proxy/{conn}/{rest}")).await;
        assert_eq!(status, 400, "{rest}: {body}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["error"]["field"], "path", "{rest}: {doc}");
    }
    assert!(up.seen().is_empty(), "nothing reached the provider: {:?}", up.seen());
    // An encoded slash inside a segment is the provider's business, and stays encoded.
    let (status, _) = raw_get(&app, &format!("/v1/proxy/{conn}/projects/group%2Fname/echo")).await;
    assert_eq!(status, 200);
    assert_eq!(up.last().path, "/v1/projects/group%2Fname/echo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_refused_and_a_client_that_leaves_cancels_the_call() {
    let up = Upstream::start().await;
    let app = app_with(&up, &[("proxy_max_request_mb", "1")]).await;
    let conn = custom(&app, &up).await;
    // Declared too large: refused before a byte of it is read, or anything is sent.
    let (status, body) = raw(&app, &format!("POST /v1/proxy/{conn}/upload"), "Content-Length: 1500000\r\n").await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("payload_too_large") && body.contains("SWITCHBOARD_PROXY_MAX_REQUEST_MB"), "{body}");
    assert!(up.seen().is_empty());
    // Streamed without a length: cut off at the limit. The 413 is answered while the client is
    // still sending, so the client may see its connection closed instead.
    let body = reqwest::Body::wrap_stream(pattern_stream(3 << 20));
    match app.client.post(proxy_url(&app, &conn, "upload")).bearer_auth(&app.key).body(body).send().await {
        Ok(res) => assert_eq!(res.status(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    assert!(up.seen().is_empty(), "no part of it was sent on: {:?}", up.seen());
    // Within the limit, streamed without a length: it arrives whole.
    let body = reqwest::Body::wrap_stream(pattern_stream(900_000));
    let a = app.send(app.client.post(proxy_url(&app, &conn, "upload")).bearer_auth(&app.key).body(body)).await;
    assert_eq!((a.status, a.body["bytes"].as_u64()), (200, Some(900_000)), "{}", a.body);
    assert_eq!(a.body["sha256"], pattern_sha256(900_000));

    // The caller gives up while the provider thinks: the provider's request is dropped too.
    let gone = app
        .client
        .get(proxy_url(&app, &conn, "hang"))
        .bearer_auth(&app.key)
        .timeout(Duration::from_millis(400))
        .send()
        .await;
    assert!(gone.is_err());
    let mut dropped = 0;
    for _ in 0..100 {
        dropped = up.dropped();
        if dropped > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dropped, 1, "the provider call was cancelled when the client left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_come_back_or_are_waited_out_when_asked() {
    let up = Upstream::start().await;
    let app = app_with(&up, &[("proxy_max_wait_s", "3")]).await;
    let conn = custom(&app, &up).await;
    up.limit(1);
    let res = app.client.get(proxy_url(&app, &conn, "limited")).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.headers().get("retry-after").unwrap().to_str().unwrap()), (429, "1"));
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "slow down", "the provider's body comes back");

    let ask = |n: &str| {
        app.client
            .get(proxy_url(&app, &conn, "limited"))
            .bearer_auth(&app.key)
            .header("switchboard-rate-limit-retries", n.to_owned())
    };
    up.limit(2);
    let before = up.seen().len();
    let res = ask("3").send().await.unwrap();
    assert_eq!(res.status(), 200, "two waits of 1 s fit in 3 s");
    assert_eq!(up.seen().len() - before, 3);
    up.limit(2);
    let res = ask("1").send().await.unwrap();
    assert_eq!(res.status(), 429, "asked to wait once only");
    up.limit(0);
    // The whole wait is bounded: 5 retries of 1 s do not fit in 3 s.
    up.limit(5);
    let res = ask("5").send().await.unwrap();
    assert_eq!(res.status(), 429);
    up.limit(0);
    let a = app.send(ask("lots")).await;
    assert_eq!(
        (a.status, a.body["error"]["field"].as_str()),
        (400, Some("Switchboard-Rate-Limit-Retries")),
        "{}",
        a.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_follows_tenancy() {
    let up = Upstream::start().await;
    let app = app_with(&up, &[]).await;
    let conn = custom(&app, &up).await;
    let url = proxy_url(&app, &conn, "echo");
    let as_ = |token: String| {
        let url = url.clone();
        let client = app.client.clone();
        async move { client.get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(as_(app.session("globex", "u9", "admin").await).await, 404);
    let member = app.session("acme", "u2", "member").await;
    assert_eq!(as_(member.clone()).await, 200, "a shared connection serves the org's members");
    let owner = app.session("acme", "u1", "member").await;
    let a = app
        .call(reqwest::Method::PATCH, &format!("/v1/connections/{conn}"), &owner, Some(json!({"shared": false})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let before = up.seen().len();
    assert_eq!(as_(member).await, 404);
    assert_eq!(up.seen().len(), before, "a refused caller reaches nothing");
    assert_eq!(as_(owner).await, 200);
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 401, "no bearer, no proxy");
    assert_eq!(get(&app, "con_nonexistent", "echo").await.status, 404);
}

async fn access_token(idp: &Idp, id: &str) -> String {
    idp.app.get(&format!("/v1/connections/{id}/credentials")).await.body["access_token"].as_str().unwrap().to_owned()
}

async fn revoke(idp: &Idp, token: &str) {
    let res = reqwest::Client::new()
        .post(format!("{}/token/revocation", idp.base))
        .basic_auth("switchboard-test", Some("switchboard-test-secret"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_refreshed_once_at_the_real_authorization_server() {
    // Tokens live 2 s at the authorization server; our clock is then set an hour back, so we
    // hold them as fresh while the server refuses them: exactly a token revoked behind our back.
    let idp = Idp::start_with_ttl(TestDb::sqlite().await, &[("proxy_replay_kb", "4")], 2).await;
    let id = idp.connection_id("ines").await;
    idp.app.clock.rewind(Duration::from_secs(3600));
    let first = access_token(&idp, &id).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // The authorization server's userinfo endpoint is the API: it checks every token itself.
    // The 401 forces a refresh (rotating the refresh token) and the request goes again.
    let me = get(&idp.app, &id, "me").await;
    assert_eq!((me.status, me.body["sub"].as_str()), (200, Some("ines")), "{}", me.body);
    assert_eq!(idp.stats().await["token"]["refresh_token"], 1);
    idp.app.clock.rewind(Duration::from_secs(3600));
    assert_ne!(access_token(&idp, &id).await, first);

    // A body too large to keep cannot be sent twice: the 401 comes back as the provider gave it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let res = idp
        .app
        .client
        .post(proxy_url(&idp.app, &id, "me"))
        .bearer_auth(&idp.app.key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("pad={}", "a".repeat(8 << 10)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("www-authenticate").is_some(), "the provider's own 401");
    assert_eq!(idp.stats().await["token"]["refresh_token"], 1, "not retried, so not refreshed");

    // Revoking a token at this server revokes every token of its grant, the refresh token too:
    // the forced refresh is refused and the connection needs its user.
    let r = idp.app.post(&format!("/v1/connections/{id}/refresh"), json!({"force": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    revoke(&idp, &access_token(&idp, &id).await).await;
    let a = get(&idp.app, &id, "me").await;
    assert_eq!((a.status, a.code()), (409, "needs_reauth"), "{}", a.body);
    let c = idp.app.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(c.body["status"], "needs_reauth", "{}", c.body);
    assert_eq!(get(&idp.app, &id, "me").await.status, 409);
}

/// /proc's peak resident set of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_mebibyte_bodies_stream_through_the_binary_in_bounded_memory() {
    use crate::support::process::{Server, run};
    const SIZE: u64 = 100 << 20;
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("SWITCHBOARD_ALLOW_PRIVATE_NETWORKS", "true"), ("SWITCHBOARD_JOBS", "false")];
    let (ok, key, err) = run(dir.path(), &env, &["keys", "create", "--name", "bench"]);
    assert!(ok, "{err}");
    let key = key.trim().to_owned();
    let dir_path = dir.path().to_owned();
    let server = tokio::task::spawn_blocking(move || Server::start(&dir_path, &env).unwrap()).await.unwrap();
    let base = format!("http://127.0.0.1:{}", server.port);
    let client = reqwest::Client::new();
    let a = client
        .post(format!("{base}/v1/connections"))
        .bearer_auth(&key)
        .json(&json!({"org": "acme", "user": "u1", "provider": "custom-api-key", "credentials": {
            "base_url": format!("{}/v1", up.origin()), "header_name": "X-API-Key", "api_key": API_KEY}}))
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 201);
    let conn = a.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let pid = server.child.id();
    let baseline = peak_rss(pid);

    // Up: 100 MiB with a declared length, generated as it goes.
    let res = client
        .put(format!("{base}/v1/proxy/{conn}/upload?name=big.bin"))
        .bearer_auth(&key)
        .header("content-length", SIZE.to_string())
        .body(reqwest::Body::wrap_stream(pattern_stream(SIZE)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!((doc["bytes"].as_u64(), doc["sha256"].as_str()), (Some(SIZE), Some(pattern_sha256(SIZE).as_str())));
    assert_eq!(up.last().header("content-length"), Some(SIZE.to_string().as_str()), "the length is passed on");

    // Down: 100 MiB, read as it comes.
    let res =
        client.get(format!("{base}/v1/proxy/{conn}/download?bytes={SIZE}")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("content-length").unwrap().to_str().unwrap(), SIZE.to_string());
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    let mut got = 0u64;
    let mut stream = res.bytes_stream();
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        let chunk = chunk.unwrap();
        got += chunk.len() as u64;
        sha2::Digest::update(&mut hasher, &chunk);
    }
    assert_eq!((got, hex::encode(sha2::Digest::finalize(hasher))), (SIZE, pattern_sha256(SIZE)));

    let peak = peak_rss(pid);
    eprintln!("proxy peak RSS: baseline {} MiB, after 2 x 100 MiB {} MiB", baseline >> 20, peak >> 20);
    assert!(peak < baseline + (32 << 20), "peak RSS grew from {baseline} to {peak} bytes streaming 100 MiB");
    // The log names the path, never the query or a credential.
    let logs = server.logs();
    assert!(logs.contains("proxied") && logs.contains("upload"), "{logs}");
    assert!(!logs.contains("name=big.bin") && !logs.contains(API_KEY) && !logs.contains(&key), "{logs}");
}

/// Answers every name with one address.
struct OneAddress(std::net::IpAddr);

impl switchboard::outbound::HostLookup for OneAddress {
    fn lookup(
        &self,
        _host: &str,
        port: u16,
    ) -> futures::future::BoxFuture<'static, std::io::Result<Vec<std::net::SocketAddr>>> {
        let addr = std::net::SocketAddr::new(self.0, port);
        Box::pin(async move { Ok(vec![addr]) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_that_resolves_to_a_private_address_is_refused() {
    let lookup = std::sync::Arc::new(OneAddress("10.20.30.40".parse().unwrap()));
    let app = crate::support::server::spawn_app_resolving(
        TestDb::sqlite().await,
        &[("allow_private_networks", "false"), ("jobs", "false")],
        lookup,
    )
    .await;
    // Saved unchecked (no test path); the name only turns out to be internal when it is called.
    let conn = app
        .connect(json!({"provider": "custom-api-key", "credentials": {
            "base_url": "https://api.internal.example/v1", "header_name": "X-API-Key", "api_key": API_KEY}}))
        .await;
    let a = get(&app, &conn, "echo").await;
    assert_eq!((a.status, a.body["error"]["field"].as_str()), (400, Some("connection")), "{}", a.body);
    let message = a.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("private or loopback"), "{message}");
    assert!(!message.contains(API_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_does_not_answer_in_time_is_a_502() {
    let up = Upstream::start().await;
    let app = app_with(&up, &[("proxy_timeout_s", "1")]).await;
    let conn = custom(&app, &up).await;
    // The stand-in would answer 504 after a minute: a 502 of ours means the timeout ended the wait.
    let a = get(&app, &conn, "hang").await;
    assert_eq!((a.status, a.code()), (502, "provider_error"), "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("did not answer"), "{}", a.body);
    assert!(!a.body.to_string().contains(API_KEY));
}
