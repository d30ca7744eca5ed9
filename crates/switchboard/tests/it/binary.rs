//! The `switchboard` binary as an operator runs it: key files, wrong keys,
//! wrong settings, the CLI verbs, online key rotation, SIGTERM draining, and
//! logs that never show a secret.
//!
//! These tests drive child processes from plain threads, so they wait with bounded `thread::sleep` polls.
#![allow(clippy::disallowed_methods)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::process::{Server, http, parse_response, run};

fn create_key(dir: &Path, env: &[(&str, &str)]) -> String {
    let (ok, out, err) = run(dir, env, &["keys", "create", "--name", "test"]);
    assert!(ok, "{err}");
    out.trim().to_owned()
}

#[test]
fn the_embedded_default_creates_a_private_key_file_and_refuses_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[]).unwrap();
    let key_file = dir.path().join("switchboard.master.key");
    assert!(key_file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(s.logs().contains("Back it up"), "{}", s.logs());
    assert!(s.sigterm().success());

    // Second start: the same key file, no new warning.
    let mut s = Server::start(dir.path(), &[]).unwrap();
    assert!(!s.logs().contains("Back it up"));
    s.sigterm();

    // A wrong key: refused before serving, with a clear message.
    let (ok, _, err) = run(dir.path(), &[], &["generate-key"]);
    assert!(ok);
    let _ = err;
    let (_, wrong, _) = run(dir.path(), &[], &["generate-key"]);
    let e = Server::start(dir.path(), &[("SWITCHBOARD_MASTER_KEY", wrong.trim())]).err().expect("must refuse");
    assert!(e.contains("does not match this database"), "{e}");

    // The key file gone: refused, saying which file is missing.
    std::fs::rename(&key_file, dir.path().join("elsewhere.key")).unwrap();
    let e = Server::start(dir.path(), &[]).err().expect("must refuse");
    assert!(e.contains("switchboard.master.key"), "{e}");
}

#[test]
fn postgres_without_a_key_and_wrong_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = Server::start(dir.path(), &[("SWITCHBOARD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")])
        .err()
        .expect("refused");
    assert!(e.contains("PostgreSQL needs a master key"), "{e}");
    let e = Server::start(dir.path(), &[("SWITCHBOARD_MAX_BODY_BYTES", "ten")]).err().expect("refused");
    assert!(e.contains("SWITCHBOARD_MAX_BODY_BYTES") && e.contains("whole number"), "{e}");
    std::fs::write(dir.path().join("sb.toml"), "listen = \"nowhere\"\n").unwrap();
    let (ok, _, err) = run(dir.path(), &[], &["--config", "sb.toml", "serve"]);
    assert!(!ok);
    assert!(err.contains("SWITCHBOARD_LISTEN (listen)") && err.contains("host:port"), "{err}");
    let (ok, _, err) = run(dir.path(), &[("SWITCHBOARD_MASTER_KEY", "c2hvcnQ=")], &["serve"]);
    assert!(!ok && err.contains("32 bytes"), "{err}");
}

#[test]
fn keys_are_created_listed_and_revoked_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), &[]);
    assert!(key.starts_with("sk_"), "{key}");
    let (ok, out, _) = run(dir.path(), &[], &["keys", "list"]);
    assert!(ok && out.contains("test") && !out.contains(&key[3..]), "the list never shows the key: {out}");
    let mut s = Server::start(dir.path(), &[]).unwrap();
    assert_eq!(http(s.port, "GET", "/v1/integrations", &key, "").0, 200);
    let (ok, out, err) = run(dir.path(), &[], &["keys", "revoke", "test"]);
    assert!(ok, "{out}{err}");
    // The server checked this key a moment ago and reuses that check for SWITCHBOARD_ACCESS_CACHE_MS
    // (1 s); a revocation from the CLI, another process, is seen within it.
    let revoked = std::time::Instant::now();
    while http(s.port, "GET", "/v1/integrations", &key, "").0 != 401 {
        assert!(revoked.elapsed() < Duration::from_millis(1500), "still accepted 1.5 s after revocation");
        std::thread::sleep(Duration::from_millis(50));
    }
    s.sigterm();
    // With the access cache off, at once.
    let (ok, out, err) = run(dir.path(), &[], &["keys", "create", "--name", "second"]);
    assert!(ok, "{err}");
    let second = out.trim().to_owned();
    let mut s = Server::start(dir.path(), &[("SWITCHBOARD_ACCESS_CACHE_MS", "0")]).unwrap();
    assert_eq!(http(s.port, "GET", "/v1/integrations", &second, "").0, 200);
    let (ok, _, err) = run(dir.path(), &[], &["keys", "revoke", "second"]);
    assert!(ok, "{err}");
    assert_eq!(http(s.port, "GET", "/v1/integrations", &second, "").0, 401, "refused at once");
    s.sigterm();
    let (ok, _, err) = run(dir.path(), &[], &["keys", "revoke", "test"]);
    assert!(!ok && err.contains("no live key"), "{err}");
}

#[test]
fn integrations_are_managed_from_the_cli_with_the_secret_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), "cli-secret-value\n").unwrap();
    let (ok, out, err) = run(
        dir.path(),
        &[],
        &[
            "integrations",
            "add",
            "--id",
            "gh-cli",
            "--provider",
            "github",
            "--client-id",
            "abc",
            "--client-secret-file",
            "secret.txt",
            "--scopes",
            "repo,read:user",
        ],
    );
    assert!(ok, "{out}{err}");
    let (_, out, _) = run(dir.path(), &[], &["integrations", "list"]);
    assert!(out.contains("gh-cli") && out.contains("yes") && !out.contains("cli-secret-value"), "{out}");
    let (ok, _, err) =
        run(dir.path(), &[], &["integrations", "add", "--id", "x", "--provider", "nope", "--client-id", "c"]);
    assert!(!ok && err.contains("not in the catalog"), "{err}");
    let (ok, out, _) = run(dir.path(), &[], &["vault", "check"]);
    assert!(ok && out.contains("1 secret(s) opened"), "{out}");
    assert!(run(dir.path(), &[], &["integrations", "remove", "gh-cli"]).0);
    let (ok, out, _) = run(dir.path(), &[], &["providers", "list"]);
    assert!(ok && out.contains("github"));
}

#[test]
fn providers_validate_names_the_broken_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let providers = dir.path().join("providers");
    std::fs::create_dir(&providers).unwrap();
    std::fs::write(
        providers.join("acme.toml"),
        "id = \"acme\"\nname = \"Acme\"\ndescription = \"x\"\ncategories = [\"crm\"]\ndocs_url = \"https://acme.example/docs\"\n\n[oauth2]\nauthorization_url = \"https://{region}.acme.example/authorize\"\ntoken_url = \"https://acme.example/token\"\n",
    )
    .unwrap();
    let (ok, out, err) = run(dir.path(), &[], &["providers", "validate", "providers"]);
    assert!(!ok, "{out}");
    assert!(err.contains("acme.toml") && err.contains("oauth2.authorization_url") && err.contains("{region}"), "{err}");
    // The server refuses to start with a broken operator folder, naming it.
    let e = Server::start(dir.path(), &[("SWITCHBOARD_PROVIDERS_DIR", "providers")]).err().expect("refused");
    assert!(e.contains("acme.toml"), "{e}");
}

#[test]
fn api_versions_nearing_their_end_are_listed_and_warned_about_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let providers = dir.path().join("providers");
    std::fs::create_dir(&providers).unwrap();
    let ends = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
    std::fs::write(
        providers.join("acme.toml"),
        format!(
            r#"id = "acme"
name = "Acme"
description = "Widgets."
categories = ["crm"]
docs_url = "https://acme.example/docs"
api_base_url = "https://api.acme.example/v7"

[api_version]
version = "v7"
docs_url = "https://acme.example/versions"
ends = "{ends}"

[credentials.api_key]
label = "API key"
[[credentials.api_key.fields]]
name = "api_key"
label = "API key"
secret = true
[credentials.api_key.auth]
header = {{ Authorization = "Bearer {{api_key}}" }}
[credentials.api_key.test]
docs_url = "https://acme.example/docs/me"
path = "/me"
"#
        ),
    )
    .unwrap();
    let env = [("SWITCHBOARD_PROVIDERS_DIR", "providers")];
    let (ok, out, err) = run(dir.path(), &env, &["providers", "list", "--expiring", "90"]);
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.starts_with("acme") && l.contains("v7") && l.contains(&ends.to_string())), "{out}");
    let (ok, out, _) = run(dir.path(), &env, &["providers", "list", "--expiring", "10"]);
    assert!(ok && !out.contains("acme"), "{out}");
    let mut s = Server::start(dir.path(), &env).unwrap();
    let logs = s.logs();
    assert!(logs.contains("acme pins API version v7") && logs.contains(&ends.to_string()), "{logs}");
    s.sigterm();
}

#[test]
fn rotate_key_runs_online_and_afterwards_only_the_new_key_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert!(run(p, &[], &["generate-key", "--out", "old.key"]).0);
    assert!(run(p, &[], &["generate-key", "--out", "new.key"]).0);
    let old = [("SWITCHBOARD_MASTER_KEY_FILE", "old.key")];
    let key = create_key(p, &old);
    let mut s = Server::start(p, &old).unwrap();
    let body =
        |id: &str| format!(r#"{{"id":"{id}","provider":"github","client_id":"c","client_secret":"secret-of-{id}"}}"#);
    assert_eq!(http(s.port, "POST", "/v1/integrations", &key, &body("before")).0, 201);

    let (ok, out, err) = run(p, &old, &["rotate-key", "--new-key-file", "new.key"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("re-wrapped 1 data key"), "{out}");
    // The running server keeps serving, reads and writes.
    assert_eq!(http(s.port, "GET", "/v1/integrations/before", &key, "").0, 200);
    assert_eq!(http(s.port, "POST", "/v1/integrations", &key, &body("during")).0, 201);
    assert!(s.sigterm().success());

    std::fs::remove_file(p.join("old.key")).unwrap();
    let new = [("SWITCHBOARD_MASTER_KEY_FILE", "new.key")];
    let (ok, out, err) = run(p, &new, &["vault", "check"]);
    assert!(ok && out.contains("2 secret(s) opened"), "{out}{err}");
    let mut s = Server::start(p, &new).unwrap();
    assert_eq!(http(s.port, "GET", "/v1/integrations/during", &key, "").0, 200);
    s.sigterm();
    let (_, audit, _) = (0, String::new(), ());
    let _ = audit;
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), &[]);
    let mut s = Server::start(dir.path(), &[]).unwrap();
    let body = r#"{"id":"drained","provider":"github","client_id":"c","client_secret":"x"}"#;
    let mut conn = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /v1/integrations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = s.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.child.try_wait().unwrap().is_none(), "must wait for the request in flight");
    conn.write_all(&body.as_bytes()[10..]).unwrap();
    let mut out = String::new();
    let _ = conn.read_to_string(&mut out);
    assert_eq!(parse_response(&out).0, 201, "{out}");
    assert!(s.sigterm().success(), "exit 0 after draining");
    assert!(s.logs().contains("stopped"));
}

#[test]
fn logs_never_show_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), &[]);
    let mut s = Server::start(dir.path(), &[("SWITCHBOARD_LOG_LEVEL", "trace")]).unwrap();
    let secret = "LOG-CANARY-client-secret-31337";
    let (status, _) = http(
        s.port,
        "POST",
        "/v1/integrations",
        &key,
        &format!(r#"{{"id":"c","provider":"github","client_id":"c","client_secret":"{secret}"}}"#),
    );
    assert_eq!(status, 201);
    let (status, body) = http(s.port, "POST", "/v1/sessions", &key, r#"{"org":"acme","user":"u","role":"admin"}"#);
    assert_eq!(status, 201);
    let session: serde_json::Value = serde_json::from_str(&body).unwrap();
    let link = session["connect_url"].as_str().unwrap().to_owned();
    let session = session["token"].as_str().unwrap().to_owned();
    http(s.port, "GET", "/v1/audit", &session, "");
    // The consoles: a connect link used, the page it opens, and a console sign-in.
    let link_path = url::Url::parse(&link).unwrap().path().to_owned();
    let entered = raw(s.port, &format!("GET {link_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    let page_cookie = set_cookie_value(&entered, "sb_session");
    let page = raw(
        s.port,
        &format!("GET /ui HTTP/1.1\r\nHost: x\r\nCookie: sb_session={page_cookie}\r\nConnection: close\r\n\r\n"),
    );
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let form = format!("key={key}");
    let signed_in = raw(
        s.port,
        &format!(
            "POST /ui/admin/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    );
    let console_cookie = set_cookie_value(&signed_in, "sb_console");
    http(s.port, "GET", "/v1/integrations", "sk_wrong-key-canary", "");
    let hook_secret = "LOG-CANARY-slack-signing-secret";
    let (status, body) = http(
        s.port,
        "POST",
        "/v1/webhook-endpoints",
        &key,
        &format!(r#"{{"provider":"slack","org":"acme","secret":"{hook_secret}"}}"#),
    );
    assert_eq!(status, 201, "{body}");
    let endpoint: serde_json::Value = serde_json::from_str(&body).unwrap();
    let (status, _) = http(
        s.port,
        "POST",
        &format!("/hooks/{}", endpoint["id"].as_str().unwrap()),
        "",
        r#"{"type":"event_callback"}"#,
    );
    assert_eq!(status, 401);
    let (status, body) = http(s.port, "POST", "/v1/subscriptions", &key, r#"{"url":"https://engine.example/hooks"}"#);
    assert_eq!(status, 201, "{body}");
    let subscription: serde_json::Value = serde_json::from_str(&body).unwrap();
    let whsec = subscription["secret"].as_str().unwrap().to_owned();
    s.sigterm();
    let logs = s.logs();
    assert!(logs.contains("request"), "request logs are there: {logs}");
    let link_token = link_path.rsplit('/').next().unwrap().to_owned();
    for needle in [
        secret,
        key.as_str(),
        session.as_str(),
        "sk_wrong-key-canary",
        hook_secret,
        whsec.as_str(),
        link_token.as_str(),
        page_cookie.as_str(),
        console_cookie.as_str(),
    ] {
        assert!(!logs.contains(needle), "{needle} appeared in the logs");
    }
}

/// One raw HTTP/1.1 exchange; the whole answer, head and body.
fn raw(port: u16, request: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The value a `Set-Cookie` of the answer gives the cookie `name`.
fn set_cookie_value(answer: &str, name: &str) -> String {
    let prefix = format!("{name}=");
    answer
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .find_map(|v| v.strip_prefix(&prefix).and_then(|rest| rest.split(';').next()).map(str::to_owned))
        .filter(|v| v.starts_with("bs_"))
        .unwrap_or_else(|| panic!("no {name} cookie in {answer}"))
}

#[test]
fn reseal_runs_under_load_without_a_failed_request_and_the_old_data_keys_are_then_removed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert!(run(p, &[], &["generate-key", "--out", "master.key"]).0);
    let env = [("SWITCHBOARD_MASTER_KEY_FILE", "master.key"), ("SWITCHBOARD_RATE_LIMIT_KEY_PER_S", "0")];
    let key = create_key(p, &env);
    let mut s = Server::start(p, &env).unwrap();
    let mut connections = Vec::new();
    for i in 0..60 {
        let body = format!(
            r#"{{"provider":"custom-api-key","org":"acme","credentials":{{"base_url":"https://api.example.com","api_key":"reseal-{i:04}-0123456789"}}}}"#
        );
        let (status, out) = http(s.port, "POST", "/v1/connections", &key, &body);
        assert_eq!(status, 201, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        connections.push((v["id"].as_str().unwrap().to_owned(), format!("reseal-{i:04}-0123456789")));
    }
    let (ok, before, err) = run(p, &env, &["vault", "check"]);
    assert!(ok, "{before}{err}");
    let old_keys = before.lines().filter(|l| l.starts_with("data key ")).count();

    // Readers open secrets, a writer seals new ones, while the re-seal runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failures = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let counts = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut load = Vec::new();
    for reader in 0..2 {
        let (stop, failures, counts, key, connections, port) =
            (stop.clone(), failures.clone(), counts.clone(), key.clone(), connections.clone(), s.port);
        load.push(std::thread::spawn(move || {
            let mut n = reader;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 1_000_000 {
                let (id, secret) = &connections[n % connections.len()];
                let (status, out) = http(port, "GET", &format!("/v1/connections/{id}/credentials"), &key, "");
                if status != 200 || !out.contains(secret) {
                    failures.lock().unwrap().push(format!("read {status} {out}"));
                }
                counts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                n += 2;
            }
        }));
    }
    {
        let (stop, failures, counts, key, port) = (stop.clone(), failures.clone(), counts.clone(), key.clone(), s.port);
        load.push(std::thread::spawn(move || {
            for i in 0..100_000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let body = format!(
                    r#"{{"id":"during-{i}","provider":"github","client_id":"c","client_secret":"secret-{i}"}}"#
                );
                let (status, out) = http(port, "POST", "/v1/integrations", &key, &body);
                if status != 201 {
                    failures.lock().unwrap().push(format!("write {status} {out}"));
                }
                counts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(300));
    let (ok, out, err) = run(p, &env, &["rotate-key", "--reseal"]);
    // Keep the load on past the servers' retirement check, then stop it.
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    assert!(ok, "{out}{err}");
    assert!(out.contains("re-sealed") && out.contains("under a fresh data key"), "{out}");
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failed requests during the re-seal: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(counts.load(std::sync::atomic::Ordering::Relaxed) > 50, "too little load ran");

    // Secrets written while it ran were sealed under a retired key at first, and caught by a later
    // pass or by the servers moving on; a second re-seal pass picks up any stragglers.
    let (ok, out, err) = run(p, &env, &["rotate-key", "--reseal"]);
    assert!(ok, "{out}{err}");
    let (ok, check, err) = run(p, &env, &["vault", "check"]);
    assert!(ok, "{check}{err}");
    let retired_in_use: Vec<&str> = check
        .lines()
        .filter(|l| l.starts_with("data key ") && l.contains("retired") && !l.contains(": 0 secret(s)"))
        .collect();
    assert!(retired_in_use.is_empty(), "{check}");

    let (ok, out, err) = run(p, &env, &["vault", "retire"]);
    assert!(ok, "{out}{err}");
    let removed: usize =
        out.strip_prefix("removed ").and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap();
    assert!(removed >= old_keys, "the {old_keys} data key(s) in use before were not all removed: {out}");
    let (ok, after, err) = run(p, &env, &["vault", "check"]);
    assert!(ok, "{after}{err}");
    assert!(after.lines().filter(|l| l.starts_with("data key ")).all(|l| l.contains("live")), "{after}");
    // The server still reads everything, and so does a restarted one.
    let (id, secret) = &connections[0];
    let (status, body) = http(s.port, "GET", &format!("/v1/connections/{id}/credentials"), &key, "");
    assert!(status == 200 && body.contains(secret), "{status} {body}");
    assert!(s.sigterm().success());
    let s = Server::start(p, &env).unwrap();
    let (status, body) = http(s.port, "GET", &format!("/v1/connections/{id}/credentials"), &key, "");
    assert!(status == 200 && body.contains(secret), "{status} {body}");
    assert_eq!(http(s.port, "GET", "/v1/integrations/during-0", &key, "").0, 200);
}
