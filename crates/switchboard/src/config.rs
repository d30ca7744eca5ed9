//! Settings: built-in defaults, then an optional TOML file (`--config`), then
//! `SWITCHBOARD_*` environment variables, which win. Every value is checked at
//! start; a wrong one is refused with the setting's name and what is expected.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

/// Each setting: its key (file) — the env name is `SWITCHBOARD_` + upper-case key — and what it is.
pub const SETTINGS: &[(&str, &str)] = &[
    ("listen", "address to listen on, host:port (default 127.0.0.1:8080)"),
    ("database_url", "sqlite://PATH (default sqlite://switchboard.db) or postgres://…"),
    ("database_max_connections", "pool size (default 16 on PostgreSQL, 8 on SQLite)"),
    ("database_wait_ms", "how long a request waits for a database connection before answering 503 (default 10000)"),
    ("master_key", "the vault's master key, base64 of 32 bytes"),
    ("master_key_file", "a file holding the master key"),
    ("previous_master_key", "an older master key still accepted while `rotate-key` runs"),
    ("previous_master_key_file", "a file holding an older master key"),
    ("public_url", "the URL providers and browsers reach this server at (default http://LISTEN)"),
    ("allowed_redirects", "comma-separated URL prefixes a connect flow may send the browser back to"),
    ("outbound_overrides", "comma-separated ORIGIN=REPLACEMENT pairs for provider calls"),
    ("allow_private_networks", "true lets subscriber and custom-provider URLs reach private addresses"),
    ("max_body_bytes", "largest request body accepted (default 1048576)"),
    ("metrics_public", "true (default) serves /metrics without a key; false asks for a secret key"),
    ("log_format", "text (default) or json"),
    ("log_level", "tracing filter, e.g. info (default) or switchboard=debug"),
    ("providers_dir", "a folder of operator provider files that add to or override the catalog"),
    ("shutdown_grace_s", "seconds to let in-flight requests finish after SIGTERM (default 30)"),
    ("session_max_ttl_s", "longest session lifetime a caller may ask for (default 86400)"),
    ("extra_ca_file", "a PEM file of extra CA certificates trusted for outbound TLS (internal CAs, SMTP relays)"),
    ("oauth_state_ttl_s", "how long a connect flow's state stays valid (default 600)"),
    ("refresh_window_s", "refresh OAuth tokens this many seconds before they expire (default 300)"),
    ("refresh_interval_s", "how often the background refresher looks for due tokens (default 60)"),
    ("refresh_max_failures", "consecutive transient refresh failures before a connection shows `error` (default 4)"),
    ("refresh_lease_s", "how long one instance may hold a connection while refreshing it (default 60)"),
    ("sync_interval_s", "how often each connection's account metadata is re-read (default 3600)"),
    ("jobs", "true (default) runs the background refresher, metadata sync and webhook delivery in this process"),
    (
        "delivery_schedule_s",
        "seconds before each delivery attempt, comma-separated (default 0,5,300,1800,7200,18000,36000,36000)",
    ),
    ("delivery_timeout_s", "seconds a subscriber has to answer one delivery, 1 to 30 (default 20)"),
    (
        "webhook_replay_window_s",
        "for provider schemes that sign neither a timestamp nor an id: how long a repeat of the same body is the same event (default 86400)",
    ),
    ("event_retention_days", "days each org's received events are kept once delivered (default 30)"),
    ("event_quota_mb", "MiB of stored event bodies per org; beyond it webhooks are refused with 507 (default 1024)"),
    ("listing_max_limit", "the largest page of a resource listing a caller may ask for (default 100)"),
    ("listing_cache_mb", "MiB of resource listings kept in memory across all connections (default 64)"),
    ("resolve_max_items", "how many items one resolve step scans at most before it stops (default 2000)"),
    ("listing_max_pages", "provider pages one resolve step reads at most (default 20)"),
    (
        "access_cache_ms",
        "how long a checked bearer token or connection access rule is reused without asking the database; changes made on other instances are seen within it (default 1000, 0 turns it off)",
    ),
    (
        "idempotency_retention_h",
        "hours an action run's answer is kept for a repeat with the same Idempotency-Key (default 24)",
    ),
    ("proxy_max_request_mb", "largest request body the proxy streams to a provider, in MiB (default 256)"),
    ("proxy_max_response_mb", "largest answer the proxy streams back from a provider, in MiB (default 1024)"),
    (
        "proxy_timeout_s",
        "seconds a provider has to start answering a proxied request, and the longest pause inside a streamed body (default 60)",
    ),
    (
        "proxy_replay_kb",
        "request bodies up to this many KiB are kept so a proxied request can be sent again after a refresh or a rate limit (default 1024)",
    ),
    ("ui_product_name", "the product name the integrations page and the operator console show (default Switchboard)"),
    (
        "ui_logo_url",
        "the logo those pages show: an https URL, a data:image/… URL, or a path on this server (default: none)",
    ),
    ("ui_accent", "the pages' accent colour, #rrggbb; text on it keeps WCAG AA contrast (default #0b5cad)"),
    (
        "ui_frame_ancestors",
        "comma-separated origins allowed to embed the integrations page in an iframe and to receive its messages (default: none)",
    ),
    (
        "mcp_allowed_origins",
        "comma-separated origins whose browser pages may call the MCP server at /mcp; requests without an Origin always may (default: none)",
    ),
    ("ui_connect_link_ttl_s", "how long a session's connect_url stays usable, 30 to 3600 (default 300)"),
    (
        "rate_limit_key_per_s",
        "requests per second each secret API key may make, refilled continuously; 0 turns the limit off (default 5000)",
    ),
    ("rate_limit_key_burst", "requests a secret key may make at once above its rate (default twice the rate)"),
    (
        "rate_limit_session_per_s",
        "requests per second each session (token, page or MCP client) may make; 0 off (default 100)",
    ),
    ("rate_limit_session_burst", "requests a session may make at once above its rate (default twice the rate)"),
    (
        "rate_limit_webhook_per_s",
        "webhook requests per second each inbound endpoint takes, checked before verification; 0 off (default 1000)",
    ),
    ("rate_limit_webhook_burst", "webhook requests an endpoint takes at once above its rate (default twice the rate)"),
    ("max_connections", "open client connections served at once; more are closed as they arrive (default 4096)"),
    (
        "header_read_timeout_s",
        "seconds a client has to send a request's headers, and the longest a kept-alive connection waits idle (default 30)",
    ),
    (
        "max_header_kb",
        "largest request head (request line and headers) accepted, in KiB; larger ones get 431 (default 64)",
    ),
    (
        "proxy_max_wait_s",
        "the most seconds a proxied request asking to wait out rate limits (Switchboard-Rate-Limit-Retries) may wait in all (default 30)",
    ),
];

/// A setting that is wrong, and why.
#[derive(Debug, thiserror::Error)]
#[error("setting {env} ({key}): {message}")]
pub struct ConfigError {
    pub key: String,
    pub env: String,
    pub message: String,
}

fn env_name(key: &str) -> String {
    format!("SWITCHBOARD_{}", key.to_ascii_uppercase())
}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { key: key.to_owned(), env: env_name(key), message: message.into() }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite { url: String, path: PathBuf },
    Postgres { url: String },
}

impl Database {
    #[must_use]
    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url } => url,
        }
    }
}

/// Where a master key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    Inline(SecretString),
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// One origin rewrite: requests to `from` go to `to`, path and query kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginOverride {
    pub from: String,
    pub to: String,
}

/// The consoles' branding and embedding.
#[derive(Debug, Clone)]
pub struct UiSettings {
    pub product_name: String,
    pub logo_url: Option<String>,
    pub accent: switchboard_core::colour::Rgb,
    /// Origins (`scheme://host[:port]`) that may frame the integrations page and receive its messages.
    pub frame_ancestors: Vec<String>,
    pub connect_link_ttl: Duration,
}

/// A token bucket: `per_s` tokens a second, up to `burst` saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateQuota {
    pub per_s: u32,
    pub burst: u32,
}

/// What one client may ask of the server: request rates by who asks, and the connection limits
/// that keep a slow or flooding client from starving the others.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Per secret API key (`None`: no limit).
    pub key: Option<RateQuota>,
    /// Per session: its token, its browser pages, its MCP client.
    pub session: Option<RateQuota>,
    /// Per inbound webhook endpoint.
    pub webhook: Option<RateQuota>,
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub max_header_bytes: usize,
}

/// Limits of the proxy (`/v1/proxy/{connection}/…`).
#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub max_request_bytes: u64,
    pub max_response_bytes: u64,
    /// Until the provider's status line, and the longest silence inside a body.
    pub timeout: Duration,
    /// Request bodies up to this size are buffered, so the request can be sent again.
    pub replay_bytes: usize,
    /// The whole time a caller-requested rate-limit wait may take.
    pub max_wait: Duration,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database: Database,
    pub database_max_connections: u32,
    /// How long a request waits for a database connection before it answers 503.
    pub database_wait: Duration,
    pub master_key: Option<KeySource>,
    pub previous_master_key: Option<KeySource>,
    pub public_url: Url,
    pub allowed_redirects: Vec<String>,
    pub outbound_overrides: Vec<OriginOverride>,
    pub allow_private_networks: bool,
    pub max_body_bytes: usize,
    pub metrics_public: bool,
    pub log_format: LogFormat,
    pub log_level: String,
    pub providers_dir: Option<PathBuf>,
    pub shutdown_grace: Duration,
    pub session_max_ttl: Duration,
    /// PEM bytes of extra trusted CA certificates.
    pub extra_ca_pem: Option<std::sync::Arc<Vec<u8>>>,
    pub oauth_state_ttl: Duration,
    pub refresh_window: Duration,
    pub refresh_interval: Duration,
    pub refresh_max_failures: u32,
    pub refresh_lease: Duration,
    pub sync_interval: Duration,
    pub jobs: bool,
    /// Wait before each delivery attempt; after the last one a delivery is dead-lettered.
    pub delivery_schedule: Vec<Duration>,
    pub delivery_timeout: Duration,
    pub webhook_replay_window: Duration,
    pub event_retention: Duration,
    /// Bytes of stored event bodies allowed per org.
    pub event_quota_bytes: u64,
    pub listing_max_limit: u32,
    pub listing_cache_bytes: usize,
    pub resolve_max_items: usize,
    pub listing_max_pages: u32,
    /// Milliseconds a checked token or connection gate is reused (0: never).
    pub access_cache_ms: i64,
    /// How long action answers are kept for `Idempotency-Key` repeats.
    pub idempotency_retention: Duration,
    pub proxy: ProxySettings,
    pub ui: UiSettings,
    /// Origins (`scheme://host[:port]`) whose requests `/mcp` takes; a request without `Origin` is always taken.
    pub mcp_allowed_origins: Vec<String>,
    pub limits: LimitSettings,
}

/// Raw values by key, after layering, before parsing.
type Raw = BTreeMap<String, String>;

impl Settings {
    /// Layers the file (if any) and the environment, then parses. Also returns
    /// warnings for unknown `SWITCHBOARD_*` variables (likely typos).
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<(Self, Vec<String>), ConfigError> {
        let mut raw = Raw::new();
        if let Some(path) = file {
            raw.extend(read_file(path)?);
        }
        let mut warnings = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("SWITCHBOARD_") else { continue };
            let key = rest.to_ascii_lowercase();
            if SETTINGS.iter().any(|(k, _)| *k == key) {
                raw.insert(key, value.clone());
            } else if !rest.starts_with("TEST_") {
                warnings.push(format!(
                    "ignoring unknown environment variable {name}; see `switchboard settings` for the known ones"
                ));
            }
        }
        warnings.sort();
        Ok((Self::parse(&raw)?, warnings))
    }

    fn parse(raw: &Raw) -> Result<Self, ConfigError> {
        let get = |k: &str| raw.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
        let listen: SocketAddr = match get("listen") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => {
                v.parse().map_err(|_| err("listen", format!("expected host:port such as 127.0.0.1:8080, got {v:?}")))?
            }
        };
        let database = parse_database(get("database_url").unwrap_or("sqlite://switchboard.db"))?;
        let default_pool = if matches!(database, Database::Postgres { .. }) { 16 } else { 8 };
        let database_max_connections =
            parse_number(get("database_max_connections"), "database_max_connections", default_pool, 1, 1000)?;
        let master_key = key_source(get("master_key"), get("master_key_file"), "master_key")?;
        let previous_master_key =
            key_source(get("previous_master_key"), get("previous_master_key_file"), "previous_master_key")?;
        let public_url = match get("public_url") {
            None => Url::parse(&format!("http://{listen}")).map_err(|e| err("listen", e.to_string()))?,
            Some(v) => parse_http_url(v, "public_url")?,
        };
        let allowed_redirects = match get("allowed_redirects") {
            None => Vec::new(),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| parse_http_url(s, "allowed_redirects").map(|_| s.to_owned()))
                .collect::<Result<_, _>>()?,
        };
        let outbound_overrides = match get("outbound_overrides") {
            None => Vec::new(),
            Some(v) => parse_overrides(v)?,
        };
        let log_format = match get("log_format").unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(err("log_format", format!("expected text or json, got {other:?}"))),
        };
        Ok(Self {
            listen,
            database,
            database_max_connections,
            database_wait: Duration::from_millis(parse_number(
                get("database_wait_ms"),
                "database_wait_ms",
                10_000,
                100,
                60_000,
            )?),
            master_key,
            previous_master_key,
            public_url,
            allowed_redirects,
            outbound_overrides,
            allow_private_networks: parse_bool(get("allow_private_networks"), "allow_private_networks", false)?,
            max_body_bytes: parse_number(get("max_body_bytes"), "max_body_bytes", 1 << 20, 1024, 1 << 30)?,
            metrics_public: parse_bool(get("metrics_public"), "metrics_public", true)?,
            log_format,
            log_level: get("log_level").unwrap_or("info").to_owned(),
            providers_dir: get("providers_dir").map(PathBuf::from),
            shutdown_grace: Duration::from_secs(parse_number(
                get("shutdown_grace_s"),
                "shutdown_grace_s",
                30,
                0,
                3600,
            )?),
            session_max_ttl: Duration::from_secs(parse_number(
                get("session_max_ttl_s"),
                "session_max_ttl_s",
                86_400,
                60,
                31_536_000,
            )?),
            extra_ca_pem: match get("extra_ca_file") {
                None => None,
                Some(f) => {
                    let pem = std::fs::read(f).map_err(|e| err("extra_ca_file", format!("cannot read {f}: {e}")))?;
                    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                        return Err(err("extra_ca_file", format!("{f} holds no PEM certificate")));
                    }
                    Some(std::sync::Arc::new(pem))
                }
            },
            oauth_state_ttl: secs(get("oauth_state_ttl_s"), "oauth_state_ttl_s", 600, 30, 3600)?,
            refresh_window: secs(get("refresh_window_s"), "refresh_window_s", 300, 0, 86_400)?,
            refresh_interval: secs(get("refresh_interval_s"), "refresh_interval_s", 60, 1, 3600)?,
            refresh_max_failures: parse_number(get("refresh_max_failures"), "refresh_max_failures", 4, 1, 100)?,
            refresh_lease: secs(get("refresh_lease_s"), "refresh_lease_s", 60, 2, 3600)?,
            sync_interval: secs(get("sync_interval_s"), "sync_interval_s", 3600, 10, 604_800)?,
            jobs: parse_bool(get("jobs"), "jobs", true)?,
            delivery_schedule: parse_schedule(
                get("delivery_schedule_s").unwrap_or("0,5,300,1800,7200,18000,36000,36000"),
            )?,
            delivery_timeout: secs(get("delivery_timeout_s"), "delivery_timeout_s", 20, 1, 30)?,
            webhook_replay_window: secs(
                get("webhook_replay_window_s"),
                "webhook_replay_window_s",
                86_400,
                60,
                31_536_000,
            )?,
            event_retention: Duration::from_secs(
                86_400 * parse_number::<u64>(get("event_retention_days"), "event_retention_days", 30, 1, 3650)?,
            ),
            event_quota_bytes: (1 << 20)
                * parse_number::<u64>(get("event_quota_mb"), "event_quota_mb", 1024, 1, 1 << 20)?,
            listing_max_limit: parse_number(get("listing_max_limit"), "listing_max_limit", 100, 1, 1000)?,
            listing_cache_bytes: (1 << 20)
                * parse_number::<usize>(get("listing_cache_mb"), "listing_cache_mb", 64, 1, 65_536)?,
            resolve_max_items: parse_number(get("resolve_max_items"), "resolve_max_items", 2000, 10, 1_000_000)?,
            listing_max_pages: parse_number(get("listing_max_pages"), "listing_max_pages", 20, 1, 1000)?,
            access_cache_ms: parse_number(get("access_cache_ms"), "access_cache_ms", 1000, 0, 60_000)?,
            idempotency_retention: Duration::from_secs(
                3600 * parse_number::<u64>(get("idempotency_retention_h"), "idempotency_retention_h", 24, 1, 24 * 90)?,
            ),
            proxy: ProxySettings {
                max_request_bytes: (1 << 20)
                    * parse_number::<u64>(get("proxy_max_request_mb"), "proxy_max_request_mb", 256, 1, 1 << 20)?,
                max_response_bytes: (1 << 20)
                    * parse_number::<u64>(get("proxy_max_response_mb"), "proxy_max_response_mb", 1024, 1, 1 << 20)?,
                timeout: Duration::from_secs(parse_number(get("proxy_timeout_s"), "proxy_timeout_s", 60, 1, 3600)?),
                replay_bytes: 1024 * parse_number::<usize>(get("proxy_replay_kb"), "proxy_replay_kb", 1024, 0, 65_536)?,
                max_wait: Duration::from_secs(parse_number(get("proxy_max_wait_s"), "proxy_max_wait_s", 30, 0, 600)?),
            },
            ui: parse_ui(&get)?,
            mcp_allowed_origins: parse_origins(get("mcp_allowed_origins"), "mcp_allowed_origins")?,
            limits: LimitSettings {
                key: parse_quota(&get, "rate_limit_key", 5000)?,
                session: parse_quota(&get, "rate_limit_session", 100)?,
                webhook: parse_quota(&get, "rate_limit_webhook", 1000)?,
                max_connections: parse_number(get("max_connections"), "max_connections", 4096, 1, 1_000_000)?,
                header_read_timeout: secs(get("header_read_timeout_s"), "header_read_timeout_s", 30, 1, 3600)?,
                max_header_bytes: 1024 * parse_number::<usize>(get("max_header_kb"), "max_header_kb", 64, 8, 1024)?,
            },
        })
    }

    /// Settings for tests and tools: defaults plus the given raw values.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        let raw: Raw = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        for k in raw.keys() {
            if !SETTINGS.iter().any(|(s, _)| s == k) {
                return Err(err(k, "unknown setting"));
            }
        }
        Self::parse(&raw)
    }

    /// Where the embedded default keeps its generated master key: beside the database.
    #[must_use]
    pub fn default_key_file(&self) -> Option<PathBuf> {
        match &self.database {
            Database::Sqlite { path, .. } => {
                let stem = path.file_stem().map_or_else(|| "switchboard".into(), |s| s.to_string_lossy().into_owned());
                Some(path.with_file_name(format!("{stem}.master.key")))
            }
            Database::Postgres { .. } => None,
        }
    }
}

fn read_file(path: &Path) -> Result<Raw, ConfigError> {
    let file_err =
        |m: String| ConfigError { key: "config".into(), env: format!("--config {}", path.display()), message: m };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(format!("cannot read the file: {e}")))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| file_err(format!("not valid TOML: {e}")))?;
    let mut raw = Raw::new();
    for (key, value) in table {
        if !SETTINGS.iter().any(|(k, _)| *k == key) {
            let known: Vec<_> = SETTINGS.iter().map(|(k, _)| *k).collect();
            return Err(file_err(format!("unknown setting `{key}`; known settings: {}", known.join(", "))));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s),
                    other => Err(err(&key, format!("expected a list of strings, found {other}"))),
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            other => return Err(err(&key, format!("expected a string, number, boolean or list, found {other}"))),
        };
        raw.insert(key, text);
    }
    Ok(raw)
}

fn parse_database(v: &str) -> Result<Database, ConfigError> {
    if v.starts_with("postgres://") || v.starts_with("postgresql://") {
        Url::parse(v).map_err(|e| err("database_url", format!("not a valid PostgreSQL URL: {e}")))?;
        return Ok(Database::Postgres { url: v.to_owned() });
    }
    let Some(rest) = v.strip_prefix("sqlite://").or_else(|| v.strip_prefix("sqlite:")) else {
        return Err(err("database_url", format!("expected sqlite://PATH or postgres://…, got {:?}", redact_url(v))));
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Err(err(
            "database_url",
            "an in-memory SQLite database would lose everything on exit and differ per connection; give a file path such as sqlite://switchboard.db",
        ));
    }
    // Create the file on first run.
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty() && !p.starts_with("mode=")).collect();
    params.push("mode=rwc");
    Ok(Database::Sqlite { url: format!("sqlite://{path}?{}", params.join("&")), path: PathBuf::from(path) })
}

/// A URL with any password replaced, for messages.
#[must_use]
pub fn redact_url(v: &str) -> String {
    match Url::parse(v) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparsable)".to_owned(),
    }
}

fn key_source(inline: Option<&str>, file: Option<&str>, key: &str) -> Result<Option<KeySource>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            Err(err(key, format!("give {} or {}, not both", env_name(key), env_name(&format!("{key}_file")))))
        }
        (Some(v), None) => Ok(Some(KeySource::Inline(SecretString::from(v.to_owned())))),
        (None, Some(f)) => Ok(Some(KeySource::File(PathBuf::from(f)))),
        (None, None) => Ok(None),
    }
}

fn parse_http_url(v: &str, key: &str) -> Result<Url, ConfigError> {
    let u = Url::parse(v)
        .map_err(|e| err(key, format!("{v:?} is not a URL ({e}); expected e.g. https://hub.example.com")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(err(key, format!("{v:?} must be an http(s) URL with a host")));
    }
    Ok(u)
}

fn parse_overrides(v: &str) -> Result<Vec<OriginOverride>, ConfigError> {
    let mut out = Vec::new();
    for pair in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((from, to)) = pair.split_once('=') else {
            return Err(err(
                "outbound_overrides",
                format!("{pair:?} is not ORIGIN=REPLACEMENT, e.g. https://api.telegram.org=http://127.0.0.1:9001"),
            ));
        };
        let from_url = parse_http_url(from.trim(), "outbound_overrides")?;
        let to_url = parse_http_url(to.trim(), "outbound_overrides")?;
        if from_url.path() != "/" || to_url.path() != "/" {
            return Err(err(
                "outbound_overrides",
                format!("{pair:?}: both sides are origins (scheme://host[:port]) without a path"),
            ));
        }
        out.push(OriginOverride {
            from: from_url.origin().ascii_serialization(),
            to: to_url.origin().ascii_serialization(),
        });
    }
    Ok(out)
}

fn parse_schedule(v: &str) -> Result<Vec<Duration>, ConfigError> {
    let steps: Result<Vec<u64>, _> = v.split(',').map(|s| s.trim().parse::<u64>()).collect();
    match steps {
        Ok(s) if !s.is_empty() && s.len() <= 50 && s.iter().all(|x| *x <= 7 * 86_400) => {
            Ok(s.into_iter().map(Duration::from_secs).collect())
        }
        _ => Err(err(
            "delivery_schedule_s",
            format!("expected 1 to 50 comma-separated whole seconds of at most a week each, e.g. 0,5,300 (got {v:?})"),
        )),
    }
}

fn secs(v: Option<&str>, key: &str, default: u64, min: u64, max: u64) -> Result<Duration, ConfigError> {
    parse_number(v, key, default, min, max).map(Duration::from_secs)
}

fn parse_bool(v: Option<&str>, key: &str, default: bool) -> Result<bool, ConfigError> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(err(key, format!("expected true or false, got {other:?}"))),
    }
}

fn parse_number<T>(v: Option<&str>, key: &str, default: T, min: T, max: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(v) = v else { return Ok(default) };
    let n: T = v.parse().map_err(|_| err(key, format!("expected a whole number, got {v:?}")))?;
    if n < min || n > max {
        return Err(err(key, format!("expected a number from {min} to {max}, got {n}")));
    }
    Ok(n)
}

/// `{prefix}_per_s` and `{prefix}_burst`: `None` when the rate is 0 (no limit).
fn parse_quota<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    prefix: &str,
    default_per_s: u32,
) -> Result<Option<RateQuota>, ConfigError> {
    let (rate_key, burst_key) = (format!("{prefix}_per_s"), format!("{prefix}_burst"));
    let per_s = parse_number(get(&rate_key), &rate_key, default_per_s, 0, 10_000_000)?;
    if per_s == 0 {
        return Ok(None);
    }
    let burst = parse_number(get(&burst_key), &burst_key, per_s.saturating_mul(2), 1, 20_000_000)?;
    Ok(Some(RateQuota { per_s, burst }))
}

/// A comma-separated list of origins, each kept as `scheme://host[:port]`.
fn parse_origins(v: Option<&str>, key: &str) -> Result<Vec<String>, ConfigError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let u = parse_http_url(s, key)?;
            if u.path() != "/" || u.query().is_some() {
                return Err(err(key, format!("expected origins such as https://app.example.com, got {s:?}")));
            }
            Ok(u.origin().ascii_serialization())
        })
        .collect()
}

fn parse_ui<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<UiSettings, ConfigError> {
    let product_name = get("ui_product_name").unwrap_or("Switchboard").to_owned();
    if product_name.chars().count() > 60 || product_name.chars().any(char::is_control) {
        return Err(err("ui_product_name", "expected a name of at most 60 printable characters"));
    }
    let logo_url = match get("ui_logo_url") {
        None => None,
        Some(v) if v.starts_with("data:image/") || (v.starts_with('/') && !v.starts_with("//")) => Some(v.to_owned()),
        Some(v) => match Url::parse(v) {
            Ok(u) if u.scheme() == "https" => Some(u.to_string()),
            _ => {
                return Err(err(
                    "ui_logo_url",
                    format!("expected an https URL, a data:image/… URL or a path such as /logo.svg, got {v:?}"),
                ));
            }
        },
    };
    let accent = match get("ui_accent") {
        None => switchboard_core::colour::Rgb(0x0b, 0x5c, 0xad),
        Some(v) => switchboard_core::colour::Rgb::parse(v)
            .ok_or_else(|| err("ui_accent", format!("expected a colour as #rrggbb, got {v:?}")))?,
    };
    let frame_ancestors = match get("ui_frame_ancestors") {
        None => Vec::new(),
        Some(v) => v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let u = parse_http_url(s, "ui_frame_ancestors")?;
                if u.path() != "/" || u.query().is_some() {
                    return Err(err(
                        "ui_frame_ancestors",
                        format!("expected origins such as https://app.example.com, got {s:?}"),
                    ));
                }
                Ok(u.origin().ascii_serialization())
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(UiSettings {
        product_name,
        logo_url,
        accent,
        frame_ancestors,
        connect_link_ttl: secs(get("ui_connect_link_ttl_s"), "ui_connect_link_ttl_s", 300, 30, 3600)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_are_the_embedded_database_on_loopback() {
        let (s, warnings) = Settings::load(None, &env(&[])).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert!(matches!(&s.database, Database::Sqlite { path, .. } if path == Path::new("switchboard.db")));
        assert_eq!(s.default_key_file().unwrap(), PathBuf::from("switchboard.master.key"));
        assert!(warnings.is_empty());
    }

    #[test]
    fn a_wrong_value_names_the_setting_and_what_is_expected() {
        let e = Settings::load(None, &env(&[("SWITCHBOARD_LISTEN", "localhost")])).unwrap_err();
        assert_eq!(e.env, "SWITCHBOARD_LISTEN");
        assert!(e.to_string().contains("host:port"), "{e}");
        let e = Settings::load(None, &env(&[("SWITCHBOARD_DATABASE_URL", "mysql://x")])).unwrap_err();
        assert!(e.to_string().contains("SWITCHBOARD_DATABASE_URL"), "{e}");
        let e = Settings::load(None, &env(&[("SWITCHBOARD_MAX_BODY_BYTES", "lots")])).unwrap_err();
        assert!(e.to_string().contains("whole number"), "{e}");
        let e = Settings::load(None, &env(&[("SWITCHBOARD_OUTBOUND_OVERRIDES", "https://a.example")])).unwrap_err();
        assert!(e.to_string().contains("ORIGIN=REPLACEMENT"), "{e}");
    }

    #[test]
    fn env_wins_over_the_file_and_unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("switchboard.toml");
        std::fs::write(
            &f,
            "listen = \"127.0.0.1:9000\"\nmax_body_bytes = 2048\nallowed_redirects = [\"https://app.example/\"]\n",
        )
        .unwrap();
        let (s, _) = Settings::load(Some(&f), &env(&[("SWITCHBOARD_LISTEN", "127.0.0.1:9100")])).unwrap();
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.max_body_bytes, 2048);
        assert_eq!(s.allowed_redirects, vec!["https://app.example/".to_owned()]);
        std::fs::write(&f, "lisen = \"x\"\n").unwrap();
        let e = Settings::load(Some(&f), &env(&[])).unwrap_err();
        assert!(e.to_string().contains("unknown setting `lisen`"), "{e}");
    }

    #[test]
    fn unknown_env_vars_warn_and_passwords_stay_out_of_messages() {
        let (_, w) =
            Settings::load(None, &env(&[("SWITCHBOARD_LISTNE", "x"), ("SWITCHBOARD_TEST_POSTGRES_URL", "y")])).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("SWITCHBOARD_LISTNE"));
        assert_eq!(redact_url("postgres://u:hunter2@db/x"), "postgres://u:****@db/x");
    }

    #[test]
    fn overrides_are_origins() {
        let s = Settings::from_pairs(&[(
            "outbound_overrides",
            "https://api.telegram.org=http://127.0.0.1:9001, https://slack.com=http://127.0.0.1:9002",
        )])
        .unwrap();
        assert_eq!(
            s.outbound_overrides[0],
            OriginOverride { from: "https://api.telegram.org".into(), to: "http://127.0.0.1:9001".into() }
        );
        assert_eq!(s.outbound_overrides.len(), 2);
    }
}
