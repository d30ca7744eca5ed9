//! A real headless Chromium driven over WebDriver (Debian `chromium` and
//! `chromium-driver`, installed by ./scripts/test.sh), for UI tests.
//!
//! Each [`Chrome`] has its own chromedriver on a free 127.0.0.1 port, its own
//! Chromium and its own throw-away profile. A missing binary fails the test
//! loudly; nothing is skipped.
//!
//! Killing chromedriver alone would leave its Chromium running (Chromium does
//! not exit with its parent), so chromedriver is started as the leader of a new
//! process group and the whole group is killed on drop.

use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, TimeoutConfiguration, WebDriverCompatibleCommand, WindowHandle};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub use fantoccini::key::Key;

use super::peers::repo_path;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long `text`, `click` and `fill` wait for their element to appear.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// The axe-core tags [`Chrome::axe`] checks: WCAG 2.0, 2.1 and 2.2, levels A and AA.
pub const AXE_TAGS: &[&str] = &["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"];

#[derive(Debug, Clone)]
pub struct ChromeOptions {
    /// Every `window.open` returns null, also from a click (see `BLOCK_WINDOW_OPEN`).
    pub popups_blocked: bool,
    /// A UI language such as `"de"`: `--lang=de` and the `Accept-Language` preference.
    pub lang: Option<String>,
    /// Emulate `prefers-color-scheme: dark` from the start (see [`Chrome::set_dark`]).
    pub dark: bool,
    /// Window size in CSS pixels.
    pub window: (u32, u32),
}

impl Default for ChromeOptions {
    fn default() -> Self {
        Self { popups_blocked: false, lang: None, dark: false, window: (1280, 900) }
    }
}

pub struct Chrome {
    pub client: Client,
    driver: Child,
    /// chromedriver's port on 127.0.0.1.
    pub port: u16,
    dark: AtomicBool,
    // Dropped after the driver's process group is killed (fields drop after `Drop::drop`).
    profile: tempfile::TempDir,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        kill_process_group(&mut self.driver);
    }
}

/// Kills chromedriver's process group (chromedriver leads it; its Chromium and Chromium's
/// helpers inherit it), then reaps chromedriver. Killing chromedriver alone leaves Chromium
/// running. Until reaped, chromedriver's pid (= the group id) cannot be reused.
fn kill_process_group(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

/// chromedriver's Chrome DevTools Protocol passthrough,
/// `POST /session/{id}/goog/cdp/execute`.
#[derive(Debug)]
struct CdpCommand {
    cmd: String,
    params: Value,
}

impl WebDriverCompatibleCommand for CdpCommand {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        let session = session_id.ok_or(url::ParseError::RelativeUrlWithoutBase)?;
        base_url.join(&format!("session/{session}/goog/cdp/execute"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}

/// What `popups_blocked` does to every document (every frame, before the page's own scripts,
/// regardless of its CSP): `window.open` returns null, also from a click, as it does for a user
/// whose browser blocks all popups. `--block-new-web-contents` would do it, but headless Chromium
/// ignores it, and Chromium's popup blocker lets through every popup a click opens.
/// Links with `target="_blank"` still open a window.
const BLOCK_WINDOW_OPEN: &str =
    "Object.defineProperty(window, 'open', { value: function open() { return null; }, writable: false });";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn require(binary: &str, package: &str) {
    assert!(
        Path::new(binary).exists(),
        "{binary} is missing: install Debian's `{package}` (bash scripts/test.sh does: \
         apt-get install chromium chromium-driver); browser tests are never skipped"
    );
}

fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn capabilities(opts: &ChromeOptions, profile: &Path) -> Capabilities {
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(format!("--window-size={},{}", opts.window.0, opts.window.1));
    args.push(format!("--user-data-dir={}", profile.display()));
    if opts.popups_blocked {
        // Ignored by headless Chromium 156; see BLOCK_WINDOW_OPEN for what does the blocking.
        args.push("--block-new-web-contents".to_owned());
    }
    let mut chrome = json!({ "binary": CHROMIUM, "args": args });
    if opts.popups_blocked {
        // chromedriver passes --disable-popup-blocking unless told not to: keep Chromium's own
        // popup blocker on too (it blocks popups opened without a user gesture).
        chrome["excludeSwitches"] = json!(["disable-popup-blocking"]);
    }
    if let Some(lang) = &opts.lang {
        chrome["args"].as_array_mut().unwrap().push(json!(format!("--lang={lang}")));
        chrome["prefs"] = json!({ "intl.accept_languages": lang });
    }
    let caps = json!({ "browserName": "chrome", "goog:chromeOptions": chrome });
    match caps {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// Spawns chromedriver on a free port and waits (bounded) until `/status` says ready.
/// A port taken in the meantime by a parallel test is retried.
async fn spawn_driver(profile: &Path) -> (Child, u16) {
    let log_path = profile.join("chromedriver.log");
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build().unwrap();
    let mut failures = Vec::new();
    for _attempt in 0..3 {
        let port = free_port();
        let log = File::create(&log_path).unwrap();
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        let status_url = format!("http://127.0.0.1:{port}/status");
        loop {
            if let Ok(Some(exit)) = child.try_wait() {
                failures.push(format!("port {port}: chromedriver exited ({exit}):\n{}", log_tail(&log_path)));
                break;
            }
            if let Ok(res) = http.get(&status_url).send().await
                && let Ok(body) = res.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return (child, port);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                failures.push(format!(
                    "port {port}: chromedriver did not answer ready on /status within 10 s:\n{}",
                    log_tail(&log_path)
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("chromedriver did not start:\n{}", failures.join("\n"));
}

impl Chrome {
    /// Starts chromedriver and a headless Chromium with `opts`.
    pub async fn start(opts: ChromeOptions) -> Self {
        require(CHROMIUM, "chromium");
        require(CHROMEDRIVER, "chromium-driver");
        let profile = tempfile::Builder::new().prefix("sb-chrome-").tempdir().unwrap();
        let (mut driver, port) = spawn_driver(profile.path()).await;
        let log_path = profile.path().join("chromedriver.log");
        let connected = ClientBuilder::rustls()
            .expect("rustls connector")
            .capabilities(capabilities(&opts, profile.path()))
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        let client = match connected {
            Ok(client) => client,
            Err(e) => {
                let tail = log_tail(&log_path);
                kill_process_group(&mut driver);
                panic!("cannot open a Chromium session through chromedriver: {e}\n{tail}");
            }
        };
        // From here on Drop cleans up, also when a step below panics.
        let chrome = Self { client, driver, port, dark: AtomicBool::new(false), profile };
        chrome
            .client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(15)),
                Some(Duration::from_secs(15)),
                Some(Duration::ZERO),
            ))
            .await
            .unwrap();
        if opts.popups_blocked {
            chrome.cdp("Page.addScriptToEvaluateOnNewDocument", json!({ "source": BLOCK_WINDOW_OPEN })).await;
        }
        if opts.dark {
            chrome.set_dark(true).await;
        }
        chrome
    }

    /// Ends the WebDriver session (chromedriver closes Chromium), then kills chromedriver.
    pub async fn close(self) {
        if let Err(e) = self.client.clone().close().await {
            eprintln!("closing the WebDriver session failed (killing chromedriver anyway): {e}");
        }
        // Drop kills the process group.
    }

    /// The profile directory Chromium runs with (deleted on drop).
    pub fn profile_dir(&self) -> &Path {
        self.profile.path()
    }

    /// Sends a Chrome DevTools Protocol command to the current window's page.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.client
            .issue_cmd(CdpCommand { cmd: cmd.to_owned(), params })
            .await
            .unwrap_or_else(|e| panic!("CDP {cmd} failed: {e}"))
    }

    /// Emulates `prefers-color-scheme: dark` (or `light`) in the current window.
    /// The emulation belongs to a window: [`Chrome::switch_to`] applies it again.
    pub async fn set_dark(&self, dark: bool) {
        self.dark.store(dark, Ordering::SeqCst);
        self.apply_color_scheme().await;
    }

    async fn apply_color_scheme(&self) {
        let value = if self.dark.load(Ordering::SeqCst) { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": value }] }),
        )
        .await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        self.client.current_url().await.map(|u| u.to_string()).unwrap_or_else(|e| format!("<unknown: {e}>"))
    }

    /// Runs `js` as a function body (use `return` for a value) and returns its result.
    pub async fn eval(&self, js: &str) -> Value {
        self.client.execute(js, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{js}"))
    }

    /// Polls (every 50 ms) until `css` matches an element, panicking after `timeout`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let deadline = Instant::now() + timeout;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(el) => return el,
                Err(e) if Instant::now() > deadline => {
                    panic!("no element matches `{css}` after {timeout:?} on {} ({e})", self.current_url().await)
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Whether `css` is known to match nothing right now: false while the page cannot be asked
    /// (a navigation under way), so a wait for something to go away does not end early.
    pub async fn absent(&self, css: &str) -> bool {
        self.client.find_all(Locator::Css(css)).await.is_ok_and(|found| found.is_empty())
    }

    /// Whether `css` matches anything right now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        !self.client.find_all(Locator::Css(css)).await.unwrap().is_empty()
    }

    /// The rendered text of the first element matching `css` (waits up to [`DEFAULT_WAIT`]).
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css, DEFAULT_WAIT).await.text().await.unwrap()
    }

    /// Clicks the first element matching `css` (waits up to [`DEFAULT_WAIT`]). An element the
    /// page replaced between finding and clicking it (a navigation under way) is found again, a
    /// few times at most.
    pub async fn click(&self, css: &str) {
        for attempt in 1..=5 {
            let el = self.wait_for(css, DEFAULT_WAIT).await;
            match el.click().await {
                Ok(()) => return,
                Err(e) if attempt < 5 && is_stale(&e.to_string()) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot click `{css}` on {}: {e}", self.current_url().await),
            }
        }
    }

    /// Clears the field matching `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.wait_for(css, DEFAULT_WAIT).await;
        el.clear().await.unwrap_or_else(|e| panic!("cannot clear `{css}`: {e}"));
        el.send_keys(text).await.unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
    }

    /// Presses and releases each key of `keys` in turn, at whatever has focus,
    /// like a keyboard would: `press_keys(&Key::Tab.to_string())`,
    /// `press_keys(&(Key::Tab + "abc"))`.
    pub async fn press_keys(&self, keys: &str) {
        let mut seq = KeyActions::new("keyboard".to_owned());
        for value in keys.chars() {
            seq = seq.then(KeyAction::Down { value }).then(KeyAction::Up { value });
        }
        self.client.perform_actions(seq).await.unwrap();
        self.client.release_actions().await.unwrap();
    }

    /// Holds all `keys` down together, then lets go: `press_chord(&[Key::Shift, Key::Tab])`.
    pub async fn press_chord(&self, keys: &[Key]) {
        let mut seq = KeyActions::new("keyboard".to_owned());
        for k in keys {
            seq = seq.then(KeyAction::Down { value: char::from(*k) });
        }
        for k in keys.iter().rev() {
            seq = seq.then(KeyAction::Up { value: char::from(*k) });
        }
        self.client.perform_actions(seq).await.unwrap();
        self.client.release_actions().await.unwrap();
    }

    /// The focused element's `id` (empty when it has none), for keyboard tests.
    pub async fn focused_id(&self) -> String {
        self.eval("return document.activeElement ? document.activeElement.id : ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// All open windows and tabs.
    pub async fn windows(&self) -> Vec<WindowHandle> {
        self.client.windows().await.unwrap()
    }

    /// The window commands go to.
    pub async fn window(&self) -> WindowHandle {
        self.client.window().await.unwrap()
    }

    /// Polls until `count` windows are open, panicking after `timeout`.
    pub async fn wait_for_windows(&self, count: usize, timeout: Duration) -> Vec<WindowHandle> {
        let deadline = Instant::now() + timeout;
        loop {
            let windows = self.windows().await;
            if windows.len() == count {
                return windows;
            }
            if Instant::now() > deadline {
                panic!("expected {count} windows after {timeout:?}, there are {}", windows.len());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Makes `window` the one commands go to, applying the colour-scheme emulation there too.
    pub async fn switch_to(&self, window: WindowHandle) {
        self.client.switch_to_window(window).await.unwrap();
        self.apply_color_scheme().await;
    }

    /// Waits for a window other than the current one to open and switches to it.
    pub async fn switch_to_new_window(&self, timeout: Duration) {
        let current = self.window().await;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(other) = self.windows().await.into_iter().find(|w| *w != current) {
                return self.switch_to(other).await;
            }
            if Instant::now() > deadline {
                panic!("no new window opened within {timeout:?} (on {})", self.current_url().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs axe-core (WCAG 2.0–2.2 A and AA) on the current page and returns its
    /// violations. Injected through WebDriver, so the page's CSP does not apply.
    pub async fn axe(&self) -> Vec<Value> {
        let loaded = self.eval("return typeof window.axe === 'object' && typeof window.axe.run === 'function'").await;
        if loaded != json!(true) {
            self.client
                .execute(axe_source(), vec![])
                .await
                .unwrap_or_else(|e| panic!("injecting axe-core failed: {e}"));
        }
        let script = "const tags = arguments[0]; const done = arguments[arguments.length - 1];
            window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
              .then(r => done({ ok: r.violations }), e => done({ err: String(e && e.stack || e) }));";
        let res = match self.client.execute_async(script, vec![json!(AXE_TAGS)]).await {
            Ok(res) => res,
            Err(e) => panic!("axe.run failed on {}: {e}", self.current_url().await),
        };
        match res {
            Value::Object(mut m) if m.contains_key("ok") => match m.remove("ok") {
                Some(Value::Array(v)) => v,
                other => panic!("axe.run returned no violations array: {other:?}"),
            },
            other => panic!("axe.run failed on {}: {other}", self.current_url().await),
        }
    }

    /// Panics, listing every violation, unless axe finds none on the current page.
    pub async fn assert_accessible(&self, what: &str) {
        let violations = self.axe().await;
        if violations.is_empty() {
            return;
        }
        let mut report =
            format!("{what} ({}) has {} accessibility violation(s):\n", self.current_url().await, violations.len());
        for v in &violations {
            report.push_str(&format!(
                "- {} [{}]: {} ({})\n",
                v["id"].as_str().unwrap_or("?"),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or("?"),
                v["helpUrl"].as_str().unwrap_or(""),
            ));
            let nodes = v["nodes"].as_array().map(Vec::as_slice).unwrap_or_default();
            for n in nodes.iter().take(3) {
                let summary = n["failureSummary"].as_str().unwrap_or("").replace('\n', "\n      ");
                report.push_str(&format!("    at {}\n      {summary}\n", n["target"]));
            }
            if nodes.len() > 3 {
                report.push_str(&format!("    … and {} more\n", nodes.len() - 3));
            }
        }
        panic!("{report}");
    }

    /// Writes a PNG of the current window to `<workspace>/target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = repo_path("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(&path, png).unwrap();
        path
    }
}

/// axe.min.js from tests/peers (npm ci by scripts/test.sh), read once.
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = repo_path("tests/peers/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core is not installed ({} : {e}): run `bash scripts/test.sh`, which installs the test peers",
                path.display()
            )
        })
    })
}

/// Whether a WebDriver error says the element left the document (the page changed under it).
fn is_stale(message: &str) -> bool {
    message.contains("stale element") || message.contains("does not belong to the document")
}
