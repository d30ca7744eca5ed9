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

/// Starts `program args…`, waiting (bounded) for it to print `ready`.
fn start(program: PathBuf, args: &[String], port: u16, what: &str) -> Peer {
    assert!(
        program.exists(),
        "{what} is not installed ({} is missing): run ./scripts/test.sh, which installs the test peers",
        program.display()
    );
    let mut child =
        Command::new(&program).args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start peer");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.trim() == "ready" {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap_or_else(|_| panic!("{what} did not start within 20 s"));
    Peer { child, port }
}

/// Options for the aiosmtpd test server.
#[derive(Default)]
pub struct SmtpOptions {
    pub auth: Option<(&'static str, &'static str)>,
    pub starttls: bool,
    pub implicit_tls: bool,
}

/// A real SMTP server (aiosmtpd) on 127.0.0.1.
pub fn smtp_server(opts: SmtpOptions) -> Peer {
    let port = free_port();
    let mut args =
        vec![repo_path("tests/peers/smtp_server.py").display().to_string(), "--port".into(), port.to_string()];
    if let Some((u, p)) = opts.auth {
        args.extend(["--auth".into(), format!("{u}:{p}")]);
    }
    for (on, flag) in [(opts.starttls, "--starttls"), (opts.implicit_tls, "--implicit-tls")] {
        if on {
            args.extend([flag.into(), fixture("localhost.pem"), fixture("localhost.key")]);
        }
    }
    start(repo_path("tests/peers/.venv/bin/python"), &args, port, "aiosmtpd (tests/peers/requirements.txt)")
}
