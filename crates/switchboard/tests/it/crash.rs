//! The durability promise under a crash: signed events are sent by several
//! senders at once while the server is killed with SIGKILL (twice) and started
//! again. Senders behave like providers: an event without a 2xx is sent again.
//! Afterwards every event that got a 2xx is in the database exactly once and
//! reaches the subscriber, and no provider event reaches it as two different
//! events (one `webhook-id` per provider event id).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::support::TestDb;
use crate::support::process::{Server, run};
use crate::support::receiver::Receiver;
use crate::support::signing::sha256_header;

const EVENTS: usize = 600;
const SENDERS: usize = 8;

struct Node {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Node {
    fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    async fn start(self: &Arc<Self>) -> Server {
        let me = self.clone();
        tokio::task::spawn_blocking(move || Server::start(me.dir.path(), &me.env()).expect("server starts"))
            .await
            .unwrap()
    }
}

fn kill(server: Server) {
    let pid = server.child.id().to_string();
    std::process::Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    drop(server);
}

async fn crash_and_restart(db: TestDb) {
    let master = {
        use secrecy::ExposeSecret as _;
        switchboard_core::vault::MasterKey::generate().1.expose_secret().to_owned()
    };
    let mut env: Vec<(String, String)> = vec![
        ("SWITCHBOARD_MASTER_KEY".into(), master),
        ("SWITCHBOARD_ALLOW_PRIVATE_NETWORKS".into(), "true".into()),
        // A killed instance's claimed deliveries lapse after the timeout plus 15 s.
        ("SWITCHBOARD_DELIVERY_TIMEOUT_S".into(), "2".into()),
        ("SWITCHBOARD_DELIVERY_SCHEDULE_S".into(), "0,1,1,1,1,1,1,1,1,1".into()),
        ("SWITCHBOARD_LOG_LEVEL".into(), "warn".into()),
    ];
    if db.backend == crate::support::db::Backend::Postgres {
        env.push(("SWITCHBOARD_DATABASE_URL".into(), db.url.clone()));
    }
    let node = Arc::new(Node { dir: tempfile::tempdir().unwrap(), env });
    let (ok, out, err) = run(node.dir.path(), &node.env(), &["keys", "create", "--name", "crash"]);
    assert!(ok, "{err}");
    let key = out.trim().to_owned();

    let rx = Receiver::start().await;
    let mut server = node.start().await;
    let client = reqwest::Client::new();
    let base = |port: u16| format!("http://127.0.0.1:{port}");
    let create = async |path: &str, body: Value| -> Value {
        let res =
            client.post(format!("{}{path}", base(server.port))).bearer_auth(&key).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 201, "{path}");
        res.json().await.unwrap()
    };
    let sub = create("/v1/subscriptions", json!({"url": rx.url})).await;
    assert!(sub["secret"].is_string(), "{sub}");
    let ep =
        create("/v1/webhook-endpoints", json!({"org": "acme", "provider": "webhook", "scheme": "hmac-sha256"})).await;
    let (ep_id, ep_secret) = (ep["id"].as_str().unwrap().to_owned(), ep["secret"].as_str().unwrap().to_owned());

    // The senders: each event is posted until it gets a 2xx, like a provider's retries.
    let port = Arc::new(AtomicU16::new(server.port));
    let acked = Arc::new(AtomicUsize::new(0));
    let resent = Arc::new(AtomicUsize::new(0));
    let senders = {
        let (client, port, acked, resent) = (client.clone(), port.clone(), acked.clone(), resent.clone());
        let (ep_id, ep_secret) = (ep_id.clone(), ep_secret.clone());
        tokio::spawn(async move {
            futures::stream::iter(0..EVENTS)
                .map(|i| {
                    let (client, port, acked, resent) = (client.clone(), port.clone(), acked.clone(), resent.clone());
                    let (ep_id, ep_secret) = (ep_id.clone(), ep_secret.clone());
                    async move {
                        let body = json!({"order": i, "note": "x".repeat(200)}).to_string();
                        let deadline = Instant::now() + Duration::from_secs(60);
                        loop {
                            let url = format!("http://127.0.0.1:{}/hooks/{ep_id}", port.load(Ordering::SeqCst));
                            let res = client
                                .post(url)
                                .header("content-type", "application/json")
                                .header("webhook-id", format!("msg_{i}"))
                                .header("X-Webhook-Signature", sha256_header(&ep_secret, &body))
                                .body(body.clone())
                                .timeout(Duration::from_secs(10))
                                .send()
                                .await;
                            match res {
                                Ok(r) if r.status().is_success() => {
                                    acked.fetch_add(1, Ordering::SeqCst);
                                    return i;
                                }
                                Ok(r) => {
                                    panic!("event {i}: HTTP {} {}", r.status(), r.text().await.unwrap_or_default())
                                }
                                Err(_) => {
                                    assert!(Instant::now() < deadline, "event {i} never got a 2xx");
                                    resent.fetch_add(1, Ordering::SeqCst);
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                }
                            }
                        }
                    }
                })
                .buffer_unordered(SENDERS)
                .collect::<Vec<usize>>()
                .await
        })
    };

    // Kill twice while events arrive and deliveries go out, starting again each time.
    for kill_at in [EVENTS / 4, EVENTS / 2] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.load(Ordering::SeqCst) < kill_at {
            assert!(Instant::now() < deadline, "only {} events acknowledged", acked.load(Ordering::SeqCst));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        kill(server);
        tokio::time::sleep(Duration::from_millis(300)).await;
        server = node.start().await;
        port.store(server.port, Ordering::SeqCst);
    }
    let sent = senders.await.unwrap();
    assert_eq!(sent.len(), EVENTS, "every event was acknowledged in the end");

    // Every acknowledged event is stored once.
    let mut stored: BTreeMap<String, String> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/v1/events?endpoint={ep_id}&limit=200", base(server.port));
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = client.get(url).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        for e in page["items"].as_array().unwrap() {
            let provider_id = e["provider_event_id"].as_str().unwrap().to_owned();
            let previous = stored.insert(provider_id.clone(), e["id"].as_str().unwrap().to_owned());
            assert!(previous.is_none(), "{provider_id} is stored twice");
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let expected: BTreeSet<String> = (0..EVENTS).map(|i| format!("msg_{i}")).collect();
    assert_eq!(stored.keys().cloned().collect::<BTreeSet<_>>(), expected, "every acknowledged event is stored");

    // Every event reaches the subscriber, each as one event (its webhook-id is our event id).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let received = rx.received();
        let delivered: HashSet<u64> = received.iter().filter_map(|r| r.json()["data"]["order"].as_u64()).collect();
        if delivered.len() == EVENTS {
            break;
        }
        assert!(Instant::now() < deadline, "{} of {EVENTS} events delivered", delivered.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let received = rx.received();
    let mut ids_per_event: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &received {
        let provider_id = r.json()["provider_event_id"].as_str().unwrap().to_owned();
        ids_per_event.entry(provider_id).or_default().insert(r.header("webhook-id").unwrap().to_owned());
    }
    for (provider_id, ids) in &ids_per_event {
        assert_eq!(ids.len(), 1, "{provider_id} reached the subscriber as {ids:?}");
        assert_eq!(ids.iter().next(), stored.get(provider_id), "{provider_id}: webhook-id is its stored event id");
    }
    eprintln!(
        "crash test: {EVENTS} events, {} sends repeated after connection errors, {} deliveries received ({} repeated after the kills)",
        resent.load(Ordering::SeqCst),
        received.len(),
        received.len() - EVENTS
    );
    assert!(server.sigterm().success());
}

crate::on_both_backends!(events_acknowledged_before_a_sigkill_are_kept_and_delivered, crash_and_restart);
