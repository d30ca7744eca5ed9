//! Real software the tests run against, installed by ./scripts/test.sh under
//! tests/peers. A missing peer fails the test loudly; nothing is skipped.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(rel)
}

pub fn fixture(name: &str) -> String {
    repo_path(&format!("tests/fixtures/{name}")).display().to_string()
}

/// A child process killed when dropped.
pub struct Peer {
    child: Child,
    pub port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `program` with the arguments `args(port)` gives, waiting (bounded) for it
/// to print `ready`. A port taken in the meantime by a parallel test is retried.
fn start(program: PathBuf, args: impl Fn(u16) -> Vec<String>, what: &str) -> Peer {
    assert!(
        program.is_relative() || program.exists(),
        "{what} is not installed ({} is missing): run ./scripts/test.sh, which installs the test peers",
        program.display()
    );
    let mut last_err = String::new();
    for _attempt in 0..3 {
        let port = free_port();
        let mut child = Command::new(&program)
            .args(args(port))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start peer");
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.trim() == "ready" {
                    let _ = tx.send(());
                }
            }
        });
        match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(()) => {
                // Keep draining stderr so the peer never blocks on a full pipe.
                std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
                return Peer { child, port };
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let mut text = String::new();
                let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
                last_err = text;
            }
        }
    }
    panic!("{what} did not start: {last_err}");
}

/// Options for the aiosmtpd test server.
#[derive(Default)]
pub struct SmtpOptions {
    pub auth: Option<(&'static str, &'static str)>,
    pub starttls: bool,
    pub implicit_tls: bool,
    /// Where each received message is written, parsed, as N.json.
    pub inbox: Option<std::path::PathBuf>,
}

/// A real SMTP server (aiosmtpd) on 127.0.0.1.
pub fn smtp_server(opts: SmtpOptions) -> Peer {
    let args = |port: u16| {
        let mut args =
            vec![repo_path("tests/peers/smtp_server.py").display().to_string(), "--port".into(), port.to_string()];
        if let Some((u, p)) = opts.auth {
            args.extend(["--auth".into(), format!("{u}:{p}")]);
        }
        if let Some(dir) = &opts.inbox {
            args.extend(["--inbox".into(), dir.display().to_string()]);
        }
        for (on, flag) in [(opts.starttls, "--starttls"), (opts.implicit_tls, "--implicit-tls")] {
            if on {
                args.extend([flag.into(), fixture("localhost.pem"), fixture("localhost.key")]);
            }
        }
        args
    };
    start(repo_path("tests/peers/.venv/bin/python"), args, "aiosmtpd (tests/peers/requirements.txt)")
}

/// A real OAuth 2.0 / OpenID Connect server (npm oidc-provider) on 127.0.0.1,
/// with one confidential client redirecting to `redirect_uri`.
pub fn oauth_server(redirect_uri: &str, access_ttl_s: u64) -> Peer {
    assert!(
        repo_path("tests/peers/node_modules/oidc-provider").exists(),
        "oidc-provider is not installed (tests/peers/node_modules): run ./scripts/test.sh, which installs the test peers"
    );
    let args = |port: u16| {
        vec![
            repo_path("tests/peers/oauth_server.mjs").display().to_string(),
            "--port".into(),
            port.to_string(),
            "--redirect-uri".into(),
            redirect_uri.to_owned(),
            "--access-ttl".into(),
            access_ttl_s.to_string(),
        ]
    };
    start(PathBuf::from("node"), args, "oidc-provider (tests/peers/package.json)")
}

/// The providers' own webhook-signing libraries (stripe, @octokit/webhooks-methods,
/// standardwebhooks, tweetnacl, twilio) behind a small HTTP server.
pub fn signer() -> Signer {
    assert!(
        repo_path("tests/peers/node_modules/standardwebhooks").exists(),
        "the signing libraries are not installed (tests/peers/node_modules): run ./scripts/test.sh, which installs the test peers"
    );
    let peer = start(
        PathBuf::from("node"),
        |port| vec![repo_path("tests/peers/signer.mjs").display().to_string(), "--port".into(), port.to_string()],
        "signer.mjs (tests/peers/package.json)",
    );
    Signer { base: format!("http://127.0.0.1:{}", peer.port), client: reqwest::Client::new(), _peer: peer }
}

pub struct Signer {
    base: String,
    client: reqwest::Client,
    _peer: Peer,
}

/// What to sign.
#[derive(Default, serde::Serialize)]
pub struct SignRequest<'a> {
    pub scheme: &'a str,
    pub secret: &'a str,
    pub body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<&'a str>,
    /// Twilio: `HMAC_SHA256` signs as a Webhooks Rule does (with its shared key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<&'a str>,
}

impl Signer {
    async fn call(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let res = self.client.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = res.status();
        let v: serde_json::Value = res.json().await.unwrap();
        assert!(status.is_success(), "signer {path}: {v}");
        v
    }

    /// The headers the provider's library produces for this request.
    pub async fn sign(&self, r: &SignRequest<'_>) -> Vec<(String, String)> {
        let v = self.call("/sign", serde_json::to_value(r).unwrap()).await;
        v["headers"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect()
    }

    /// Discord: the public key (hex) of the Ed25519 key pair from `seed_hex`.
    pub async fn public_key(&self, seed_hex: &str) -> String {
        self.call("/keys", serde_json::json!({"seed_hex": seed_hex})).await["public_key"].as_str().unwrap().to_owned()
    }

    /// Verifies a delivery with the standardwebhooks library: Ok or its error.
    pub async fn verify_delivery(&self, secret: &str, headers: &[(String, String)], body: &str) -> Result<(), String> {
        let headers: serde_json::Map<String, serde_json::Value> =
            headers.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        let v = self.call("/verify", serde_json::json!({"secret": secret, "headers": headers, "body": body})).await;
        if v["ok"] == true { Ok(()) } else { Err(v["error"].as_str().unwrap_or_default().to_owned()) }
    }
}
