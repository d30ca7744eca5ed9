//! The end user's integrations page, with the whole catalog offered: every credential provider,
//! and one integration made for each OAuth provider of `GET /v1/providers`, so the marketplace
//! shows every connectable provider. The page is entered as a browser enters it: a session's
//! single-use `connect_url`, its 303 to `/ui` and the `sb_session` cookie it sets.
//!
//! - `ui-marketplace`, `ui-provider`: load on `GET /ui` (`GET /ui/p/openai`) with one browser
//!   session's cookie, then `/healthz` for as long in the same run, and the ratio.
//! - `ui-weight`: `/ui` and every file its `link`/`script`/`img` tags reference (all must be
//!   same-origin), bytes per file as sent (the server does not compress) and after gzip.
//! - `ui-first-render`: the marketplace in headless Chromium (chromedriver, WebDriver) `--runs`
//!   times with the browser cache off, then as often with it on: first contentful paint and the
//!   navigation's response end, DOMContentLoaded end and load end, from the page's own timings.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use fantoccini::wd::{Capabilities, TimeoutConfiguration, WebDriverCompatibleCommand};
use serde_json::{Value, json};

use crate::scenarios::Scenario;
use crate::{load, print_report, server};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub(crate) struct Options {
    pub(crate) database: String,
    pub(crate) concurrency: usize,
    pub(crate) measure: Duration,
    pub(crate) runs: usize,
}

pub(crate) async fn run(scenario: &str, o: &Options) -> anyhow::Result<()> {
    if !["ui-marketplace", "ui-provider", "ui-weight", "ui-first-render"].contains(&scenario) {
        bail!("unknown scenario {scenario:?}; known: ui-marketplace, ui-provider, ui-weight, ui-first-render");
    }
    let s = server::Spawned::start(&o.database, &[("SWITCHBOARD_JOBS", "false".to_owned())]).await?;
    println!("{}", s.describe());
    let result = measure(scenario, o, &s).await;
    println!("server RSS at the end: {:.1} MiB", s.rss_mib());
    s.stop().await;
    result
}

async fn measure(scenario: &str, o: &Options, s: &server::Spawned) -> anyhow::Result<()> {
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(o.concurrency).timeout(Duration::from_secs(30)).build()?;
    let catalog = whole_catalog(&client, &s.base, &s.key).await?;
    println!(
        "catalog: {} providers, {} offered on the page ({} OAuth, an integration made for each); RSS {:.1} MiB",
        catalog.providers,
        catalog.offered,
        catalog.oauth,
        s.rss_mib()
    );
    match scenario {
        "ui-marketplace" | "ui-provider" => {
            let path = if scenario == "ui-marketplace" { "/ui" } else { "/ui/p/openai" };
            let cookie = open_page(&s.base, &s.key).await?;
            let (status, html) = get_page(&client, &s.base, path, &cookie).await?;
            if status != 200 {
                bail!("GET {path} with the page's cookie: {status}");
            }
            if path == "/ui" {
                check_cards(&html, &catalog.ids)?;
            }
            println!("one page view: {} bytes of HTML", html.len());
            let work = Scenario::page_views(&s.base, &cookie, vec![path.to_owned()]);
            let report = load::run(&client, &work, o.concurrency, o.measure).await;
            print_report(&format!("{scenario} (GET {path})"), o.concurrency, &report);
            crate::healthz_floor(&client, &s.base, &s.key, scenario, o.concurrency, o.measure, &report).await?;
            if report.errors > 0 {
                bail!("{} requests failed: {}", report.errors, report.first_error.unwrap_or_default());
            }
            Ok(())
        }
        "ui-weight" => weight(&client, &s.base, &s.key, &catalog.ids).await,
        _ => first_render(&client, &s.base, &s.key, catalog.offered, o.runs).await,
    }
}

struct Catalog {
    providers: usize,
    oauth: usize,
    /// Providers the page offers: those with an OAuth flow (each now has an integration) or a
    /// credential mode; providers that only receive webhooks are not connectable.
    offered: usize,
    /// Their ids.
    ids: Vec<String>,
}

/// Makes one integration per OAuth provider of the catalog, so the page offers all of it.
async fn whole_catalog(client: &reqwest::Client, base: &str, key: &str) -> anyhow::Result<Catalog> {
    let res = client.get(format!("{base}/v1/providers")).bearer_auth(key).send().await?;
    if !res.status().is_success() {
        bail!("GET /v1/providers: {}", res.status());
    }
    let list: Value = res.json().await?;
    let items = list["items"].as_array().context("GET /v1/providers: no items")?;
    let modes = |p: &Value| -> Vec<String> {
        p["auth_modes"]
            .as_array()
            .map_or_else(Vec::new, |m| m.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<String>>())
    };
    let mut oauth = 0;
    let mut offered = 0;
    let mut ids = Vec::new();
    for p in items {
        let id = p["id"].as_str().context("a provider without an id")?;
        let m = modes(p);
        // A credential mode may be called `webhook` (a webhook URL as the credential), so the
        // catalog entry says which: its `credentials` map, or an OAuth flow.
        let credentials = p["entry"]["credentials"].as_object().is_some_and(|c| !c.is_empty());
        if credentials || m.iter().any(|m| m == "oauth2") {
            offered += 1;
            ids.push(id.to_owned());
        }
        if !m.iter().any(|m| m == "oauth2") {
            continue;
        }
        oauth += 1;
        let mut body = json!({
            "id": format!("bench-{id}"),
            "provider": id,
            "client_id": format!("bench-client-{id}"),
            "client_secret": "bench-client-secret-0123456789",
        });
        if id == "custom-oauth2" {
            body["authorization_url"] = json!("https://auth.example.com/authorize");
            body["token_url"] = json!("https://auth.example.com/token");
        }
        let res = client.post(format!("{base}/v1/integrations")).bearer_auth(key).json(&body).send().await?;
        if !res.status().is_success() {
            bail!("creating an integration for {id}: {} {}", res.status(), res.text().await.unwrap_or_default());
        }
    }
    Ok(Catalog { providers: items.len(), oauth, offered, ids })
}

/// A new session's `connect_url`, for one end user (a member of org `bench`).
async fn connect_url(client: &reqwest::Client, base: &str, key: &str) -> anyhow::Result<String> {
    let res = client
        .post(format!("{base}/v1/sessions"))
        .bearer_auth(key)
        .json(&json!({"org": "bench", "user": "u1", "role": "member"}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("POST /v1/sessions: {} {}", res.status(), res.text().await.unwrap_or_default());
    }
    let body: Value = res.json().await?;
    Ok(body["connect_url"].as_str().context("POST /v1/sessions: no connect_url")?.to_owned())
}

/// Opens the page once as a browser does: the connect link, its 303 to `/ui` and the cookie it
/// sets. The `Cookie` header value for later page views.
async fn open_page(base: &str, key: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let link = connect_url(&client, base, key).await?;
    let res = client.get(&link).send().await?;
    if res.status().as_u16() != 303 {
        bail!("GET connect_url: {} (a 303 to /ui was expected)", res.status());
    }
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if location != "/ui" {
        bail!("GET connect_url redirected to {location:?}, not /ui");
    }
    let set = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).context("GET connect_url set no cookie")?;
    let pair = set.split(';').next().unwrap_or_default().trim().to_owned();
    if !pair.contains('=') {
        bail!("GET connect_url set an odd cookie: {set:?}");
    }
    Ok(pair)
}

async fn get_page(client: &reqwest::Client, base: &str, path: &str, cookie: &str) -> anyhow::Result<(u16, String)> {
    let res = client.get(format!("{base}{path}")).header(reqwest::header::COOKIE, cookie).send().await?;
    Ok((res.status().as_u16(), res.text().await?))
}

/// The marketplace shows a card for each of `ids`, no more, no fewer.
fn check_cards(html: &str, ids: &[String]) -> anyhow::Result<()> {
    let shown: Vec<&str> =
        html.split("<li class=\"card\" data-provider=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    let missing: Vec<&str> = ids.iter().map(String::as_str).filter(|id| !shown.contains(id)).collect();
    let extra: Vec<&str> = shown.iter().copied().filter(|id| !ids.iter().any(|i| i == id)).collect();
    if !missing.is_empty() || !extra.is_empty() || shown.len() != ids.len() {
        bail!(
            "the marketplace shows {} cards for {} connectable providers; missing {missing:?}, unexpected {extra:?}",
            shown.len(),
            ids.len()
        );
    }
    Ok(())
}

/// `(tag, attribute, value)` of every `href`/`src` of the `link`, `script` and `img` tags, entities
/// in the value decoded. A small scanner, enough for the server's own templates.
fn referenced(html: &str) -> Vec<(String, String, String)> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find('<') {
        let start = at + i + 1;
        let Some(len) = lower[start..].find('>') else { break };
        let tag = &html[start..start + len];
        at = start + len;
        let name_end = tag.find(|c: char| c.is_whitespace() || c == '/').unwrap_or(tag.len());
        let name = tag[..name_end].to_ascii_lowercase();
        if !["link", "script", "img"].contains(&name.as_str()) {
            continue;
        }
        for (attr, value) in attributes(&tag[name_end..]) {
            if attr == "href" || attr == "src" || attr == "srcset" {
                out.push((name.clone(), attr, decode_entities(&value)));
            }
        }
    }
    out
}

/// The attributes of a tag's inside (after its name): `name="v"`, `name='v'`, `name=v`, `name`.
fn attributes(s: &str) -> Vec<(String, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let n0 = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        if n0 == i {
            break;
        }
        let name = s[n0..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            out.push((name, String::new()));
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
            let q = b[i];
            let v0 = i + 1;
            let v1 = b[v0..].iter().position(|&c| c == q).map_or(b.len(), |p| v0 + p);
            i = (v1 + 1).min(b.len());
            &s[v0..v1]
        } else {
            let v0 = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            &s[v0..i]
        };
        out.push((name, value.to_owned()));
    }
    out
}

fn decode_entities(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// `url(…)` references in a stylesheet.
fn css_urls(css: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = css;
    while let Some(i) = rest.find("url(") {
        let after = &rest[i + 4..];
        let Some(end) = after.find(')') else { break };
        let v = after[..end].trim().trim_matches(['"', '\'']).to_owned();
        if !v.is_empty() {
            out.push(v);
        }
        rest = &after[end..];
    }
    out
}

fn gzip_len(body: &[u8]) -> anyhow::Result<usize> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body)?;
    Ok(gz.finish()?.len())
}

/// An approximation of a response's header bytes on the wire (HTTP/1.1): status line, each
/// `name: value\r\n`, the blank line.
fn header_bytes(res: &reqwest::Response) -> usize {
    let status = "HTTP/1.1 200 OK\r\n".len();
    status + res.headers().iter().map(|(n, v)| n.as_str().len() + 2 + v.len() + 2).sum::<usize>() + 2
}

/// What a response says of itself, before its body is read (`bytes` and `gzip` still 0).
fn head_of(res: &reqwest::Response, label: String) -> Fetched {
    let h = |n: &str| res.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    Fetched {
        label,
        content_type: h("content-type"),
        encoding: h("content-encoding"),
        bytes: 0,
        gzip: 0,
        headers: header_bytes(res),
    }
}

struct Fetched {
    label: String,
    content_type: String,
    encoding: String,
    bytes: usize,
    gzip: usize,
    headers: usize,
}

/// Refuses anything but this server's own origin; `data:` URLs are inline (nothing fetched).
fn same_origin(page: &url::Url, reference: &str, what: &str) -> anyhow::Result<Option<url::Url>> {
    if reference.starts_with("data:") {
        return Ok(None);
    }
    let u = page.join(reference).with_context(|| format!("{what} {reference:?} is not a URL"))?;
    if u.origin() != page.origin() {
        bail!(
            "{what} {reference:?} is not same-origin ({} ≠ {})",
            u.origin().ascii_serialization(),
            page.origin().ascii_serialization()
        );
    }
    Ok(Some(u))
}

async fn weight(client: &reqwest::Client, base: &str, key: &str, ids: &[String]) -> anyhow::Result<()> {
    let cookie = open_page(base, key).await?;
    let page = url::Url::parse(&format!("{base}/ui"))?;
    let get = |u: url::Url| {
        client.get(u).header(reqwest::header::COOKIE, &cookie).header(reqwest::header::ACCEPT_ENCODING, "gzip, br")
    };
    let res = get(page.clone()).send().await?;
    if !res.status().is_success() {
        bail!("GET /ui: {}", res.status());
    }
    let mut fetched = Vec::new();
    let head = head_of(&res, "GET /ui".to_owned());
    let html_bytes = res.bytes().await?;
    fetched.push(Fetched { bytes: html_bytes.len(), gzip: gzip_len(&html_bytes)?, ..head });
    let html = String::from_utf8_lossy(&html_bytes).into_owned();
    check_cards(&html, ids)?;
    let svg: usize = html.split("<svg").skip(1).filter_map(|r| r.find("</svg>").map(|e| e + 10)).sum();
    let data: usize = html
        .split("<script type=\"application/json\"")
        .skip(1)
        .filter_map(|r| r.find("</script>").map(|e| e + 39))
        .sum();
    println!(
        "the HTML ({} bytes) holds {ids} cards: inline SVG logos {svg} bytes, the page's JSON data block {data} bytes",
        html.len(),
        ids = ids.len()
    );
    let refs = referenced(&html);
    let mut external = Vec::new();
    let mut inline = 0;
    let mut queue: Vec<(String, url::Url)> = Vec::new();
    for (tag, attr, value) in &refs {
        let what = format!("<{tag} {attr}>");
        match same_origin(&page, value, &what) {
            Ok(Some(u)) => queue.push((what, u)),
            Ok(None) => inline += 1,
            Err(e) => external.push(e.to_string()),
        }
    }
    let mut seen: Vec<url::Url> = Vec::new();
    // Stylesheets' own url() references join the queue; bounded by what the files hold.
    let mut i = 0;
    while i < queue.len() && i < 1000 {
        let (what, u) = queue[i].clone();
        i += 1;
        if seen.contains(&u) {
            continue;
        }
        seen.push(u.clone());
        let res = get(u.clone()).send().await?;
        if !res.status().is_success() {
            bail!("{what} {u}: {}", res.status());
        }
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        };
        let head = head_of(&res, format!("{what} {path}"));
        let body = res.bytes().await?;
        if head.content_type.starts_with("text/css") {
            for r in css_urls(&String::from_utf8_lossy(&body)) {
                match same_origin(&u, &r, "url() in a stylesheet") {
                    Ok(Some(v)) => queue.push(("url() in ".to_owned() + u.path(), v)),
                    Ok(None) => inline += 1,
                    Err(e) => external.push(e.to_string()),
                }
            }
        }
        fetched.push(Fetched { bytes: body.len(), gzip: gzip_len(&body)?, ..head });
    }
    if !external.is_empty() {
        for e in &external {
            eprintln!("error: the page references something outside this server: {e}");
        }
        bail!("{} external reference(s) on /ui", external.len());
    }
    println!(
        "references on /ui (link/script/img href and src): {} same-origin, {inline} inline data: URLs, 0 external",
        refs.len() - inline
    );
    println!(
        "{:<52} {:>10} {:>10} {:>9}  {:<31} content-encoding",
        "file", "bytes", "gzip -6", "headers≈", "content-type"
    );
    for f in &fetched {
        println!(
            "{:<52} {:>10} {:>10} {:>9}  {:<31} {}",
            f.label,
            f.bytes,
            f.gzip,
            f.headers,
            f.content_type,
            if f.encoding.is_empty() { "(none)" } else { &f.encoding }
        );
    }
    let total: usize = fetched.iter().map(|f| f.bytes).sum();
    let gz: usize = fetched.iter().map(|f| f.gzip).sum();
    let heads: usize = fetched.iter().map(|f| f.headers).sum();
    let sent_compressed = fetched.iter().any(|f| !f.encoding.is_empty());
    println!(
        "ui-weight: {} files, {total} bytes ({:.1} KB) as sent{}, {gz} bytes ({:.1} KB) if each were gzipped; headers ≈ {heads} bytes more",
        fetched.len(),
        total as f64 / 1000.0,
        if sent_compressed { " (some compressed by the server)" } else { " uncompressed" },
        gz as f64 / 1000.0
    );
    println!(
        "against the 150 KB goal, on what is sent: {:.1} KB ({:.0} %)",
        total as f64 / 1000.0,
        total as f64 / 1500.0
    );
    Ok(())
}

/// chromedriver's Chrome DevTools Protocol passthrough, `POST /session/{id}/goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        let session = session_id.ok_or(url::ParseError::RelativeUrlWithoutBase)?;
        base_url.join(&format!("session/{session}/goog/cdp/execute"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}

/// chromedriver, leader of its own process group so that killing the group also ends Chromium
/// (which outlives a plain kill of chromedriver).
struct Driver {
    child: std::process::Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver(log: &Path) -> anyhow::Result<Driver> {
    for binary in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(binary).exists() {
            bail!("{binary} is missing (Debian's chromium and chromium-driver)");
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let out = std::fs::File::create(log)?;
    let child = std::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()
        .context("starting chromedriver")?;
    let mut driver = Driver { child, port };
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build()?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(exit)) = driver.child.try_wait() {
            bail!("chromedriver exited ({exit}): {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        if let Ok(res) = http.get(format!("http://127.0.0.1:{}/status", driver.port)).send().await
            && let Ok(body) = res.json::<Value>().await
            && body["value"]["ready"] == json!(true)
        {
            return Ok(driver);
        }
        if Instant::now() > deadline {
            bail!("chromedriver did not answer ready within 15 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn capabilities(profile: &Path) -> Capabilities {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<String>>();
    let caps = json!({ "browserName": "chrome", "goog:chromeOptions": { "binary": CHROMIUM, "args": args } });
    match caps {
        Value::Object(map) => map,
        _ => Capabilities::new(),
    }
}

/// The page's own timings once loaded and painted (polled, at most 5 s).
const TIMINGS: &str = "
const nav = performance.getEntriesByType('navigation')[0];
const fcp = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');
if (!nav || !fcp || nav.loadEventEnd === 0) return null;
return {
  url: nav.name, redirects: nav.redirectCount, redirectEnd: nav.redirectEnd, fetchStart: nav.fetchStart,
  responseStart: nav.responseStart, responseEnd: nav.responseEnd,
  dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, fcp: fcp.startTime,
  cards: document.querySelectorAll('#cards li.card').length,
  fromNetwork: performance.getEntriesByType('resource').filter(r => r.transferSize > 0).length,
  resources: performance.getEntriesByType('resource').length,
  files: performance.getEntriesByType('resource').map(r => [new URL(r.name).pathname, r.startTime, r.responseEnd, r.transferSize]),
};";

#[derive(Default)]
struct Samples {
    redirect: Vec<f64>,
    ttfb: Vec<f64>,
    response_end: Vec<f64>,
    fcp: Vec<f64>,
    dcl: Vec<f64>,
    load: Vec<f64>,
    from_network: usize,
    resources: usize,
}

async fn first_render(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    offered: usize,
    runs: usize,
) -> anyhow::Result<()> {
    let runs = runs.clamp(1, 1000);
    let profile = tempfile::Builder::new().prefix("sb-bench-chrome-").tempdir()?;
    let log = profile.path().join("chromedriver.log");
    let driver = start_driver(&log).await?;
    let connected = fantoccini::ClientBuilder::rustls()?
        .capabilities(capabilities(profile.path()))
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await;
    let browser = match connected {
        Ok(b) => b,
        Err(e) => bail!("cannot open a Chromium session: {e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()),
    };
    let result = browse(&browser, client, base, key, offered, runs).await;
    let _ = browser.close().await;
    drop(driver);
    result
}

async fn browse(
    browser: &fantoccini::Client,
    client: &reqwest::Client,
    base: &str,
    key: &str,
    offered: usize,
    runs: usize,
) -> anyhow::Result<()> {
    browser
        .update_timeouts(TimeoutConfiguration::new(
            Some(Duration::from_secs(15)),
            Some(Duration::from_secs(30)),
            Some(Duration::ZERO),
        ))
        .await?;
    let version = browser
        .capabilities()
        .and_then(|c| c.get("browserVersion").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    println!("Chromium {version} headless, 1280×900, through chromedriver (WebDriver)");
    browser.issue_cmd(Cdp { cmd: "Network.enable", params: json!({}) }).await?;
    for (phase, cache_off) in
        [("cache off (every file fetched)", true), ("cache on (assets kept, HTML fetched)", false)]
    {
        browser
            .issue_cmd(Cdp { cmd: "Network.setCacheDisabled", params: json!({ "cacheDisabled": cache_off }) })
            .await?;
        // One visit not measured: the browser's own start-up (the first ever) or filling the cache.
        let first = load_once(browser, client, base, key, offered).await?;
        if cache_off {
            let at =
                |name: &str| first[name].as_f64().unwrap_or(f64::NAN) - first["fetchStart"].as_f64().unwrap_or(0.0);
            println!(
                "the fresh browser's first visit (not counted): first contentful paint {:.1} ms, load event end {:.1} ms",
                at("fcp"),
                at("load")
            );
        }
        let mut s = Samples::default();
        let mut last = Value::Null;
        for _ in 0..runs {
            let t = load_once(browser, client, base, key, offered).await?;
            let at = |name: &str| t[name].as_f64().unwrap_or(f64::NAN);
            let t0 = at("fetchStart");
            s.redirect.push(at("redirectEnd"));
            s.ttfb.push(at("responseStart") - t0);
            s.response_end.push(at("responseEnd") - t0);
            s.fcp.push(at("fcp") - t0);
            s.dcl.push(at("dcl") - t0);
            s.load.push(at("load") - t0);
            s.from_network += t["fromNetwork"].as_u64().unwrap_or(0) as usize;
            s.resources += t["resources"].as_u64().unwrap_or(0) as usize;
            last = t;
        }
        println!(
            "ui-first-render, {phase}: {runs} runs, a fresh connect_url each; {} of {} subresource loads from the network",
            s.from_network, s.resources
        );
        println!("  times from the start of /ui's fetch (after the connect link's 303), median / p90:");
        for (name, v) in [
            ("connect link → 303 (redirectEnd)", &mut s.redirect),
            ("response start (TTFB)", &mut s.ttfb),
            ("response end", &mut s.response_end),
            ("first contentful paint", &mut s.fcp),
            ("DOMContentLoaded end", &mut s.dcl),
            ("load event end", &mut s.load),
        ] {
            v.sort_by(f64::total_cmp);
            println!("  {name:<36} {:>7.1} ms / {:>7.1} ms", quantile(v, 0.5), quantile(v, 0.9));
        }
        let t0 = last["fetchStart"].as_f64().unwrap_or(0.0);
        for f in last["files"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let n = |i: usize| f[i].as_f64().unwrap_or(f64::NAN);
            println!(
                "  last run: {:<36} requested at {:>6.1} ms, done at {:>6.1} ms, {} bytes over the network",
                f[0].as_str().unwrap_or("?"),
                n(1) - t0,
                n(2) - t0,
                n(3)
            );
        }
    }
    // A floor for the browser on this machine: the start page `/` (same stylesheets, a few
    // lines of content, no script), cache on, the same number of times.
    let mut fcp = Vec::new();
    let mut load = Vec::new();
    for _ in 0..=runs {
        browser.goto(&format!("{base}/")).await?;
        let t = timings(browser).await?;
        let t0 = t["fetchStart"].as_f64().unwrap_or(0.0);
        fcp.push(t["fcp"].as_f64().unwrap_or(f64::NAN) - t0);
        load.push(t["load"].as_f64().unwrap_or(f64::NAN) - t0);
    }
    // The first visit filled the cache.
    fcp.remove(0);
    load.remove(0);
    fcp.sort_by(f64::total_cmp);
    load.sort_by(f64::total_cmp);
    println!(
        "the start page / for comparison (cache on, {runs} runs): first contentful paint {:.1} ms / {:.1} ms, load event end {:.1} ms / {:.1} ms (median / p90)",
        quantile(&fcp, 0.5),
        quantile(&fcp, 0.9),
        quantile(&load, 0.5),
        quantile(&load, 0.9)
    );
    Ok(())
}

/// The current page's timings once it has painted and loaded (polled every 50 ms, at most 5 s).
async fn timings(browser: &fantoccini::Client) -> anyhow::Result<Value> {
    for _ in 0..100 {
        let t = browser.execute(TIMINGS, vec![]).await?;
        if !t.is_null() {
            return Ok(t);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the page had not painted and loaded 5 s after WebDriver's navigation returned")
}

/// One visit through a fresh connect link; the page's timings, after checking it is `/ui` with
/// every card.
async fn load_once(
    browser: &fantoccini::Client,
    client: &reqwest::Client,
    base: &str,
    key: &str,
    offered: usize,
) -> anyhow::Result<Value> {
    let link = connect_url(client, base, key).await?;
    browser.goto(&link).await?;
    let t = timings(browser).await?;
    let url = t["url"].as_str().unwrap_or_default();
    if url != format!("{base}/ui") {
        bail!("the browser ended on {url}, not {base}/ui");
    }
    if t["redirects"].as_u64() != Some(1) {
        bail!("the navigation to /ui counted {} redirects, not 1", t["redirects"]);
    }
    let cards = t["cards"].as_u64().unwrap_or(0) as usize;
    if cards != offered {
        bail!("the rendered marketplace has {cards} cards; {offered} providers are connectable");
    }
    Ok(t)
}

/// Nearest rank of sorted `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}
