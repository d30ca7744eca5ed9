//! Whole-entry checks: ids, URLs, placeholders, auth modes, templates.

use std::collections::BTreeSet;
use std::fmt;

use regex::Regex;

use super::model::*;
use super::{path, template};

/// One thing wrong with one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub origin: String,
    pub key: String,
    pub message: String,
}

impl Problem {
    pub(crate) fn new(origin: &str, key: &str, message: impl Into<String>) -> Self {
        Self { origin: origin.to_owned(), key: key.to_owned(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.key, self.message)
        }
    }
}

/// OAuth names usable in OAuth templates besides the placeholders.
const OAUTH_NAMES: &[&str] = &["access_token", "refresh_token", "client_id", "client_secret"];

struct Checker<'a> {
    origin: &'a str,
    problems: Vec<Problem>,
    /// The generic entries (custom-oauth2, custom-api-key) have no provider documentation to name.
    generic: bool,
}

impl Checker<'_> {
    fn report(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(self.origin, key, message));
    }

    fn non_empty(&mut self, key: &str, value: &str) {
        if value.trim().is_empty() {
            self.report(key, "must not be empty");
        }
    }

    fn https_url(&mut self, key: &str, value: &str) {
        match url::Url::parse(value) {
            Ok(u) if u.scheme() == "https" => {}
            Ok(_) => self.report(key, format!("{value:?} must be an https URL")),
            Err(e) => self.report(key, format!("{value:?} is not a URL: {e}")),
        }
    }

    /// A template must parse, use only `allowed` names, and with sample values be a URL (when `url`).
    fn template(&mut self, key: &str, value: &str, allowed: &BTreeSet<String>, url: bool, relative_ok: bool) {
        let names = match template::names(value) {
            Ok(n) => n,
            Err(e) => return self.report(key, e.to_string()),
        };
        for n in &names {
            if !allowed.contains(*n) {
                let known: Vec<_> = allowed.iter().map(String::as_str).collect();
                self.report(key, format!("uses {{{n}}}, which is not declared here (declared: {})", known.join(", ")));
            }
        }
        if url {
            let sample = template::render_url(value, |n| {
                Some(if n.starts_with("metadata.") || names.first() == Some(&n) && value.starts_with('{') {
                    "https://sample.example".into()
                } else {
                    "sample".into()
                })
            });
            match sample {
                Ok(s) if relative_ok && s.starts_with('/') => {}
                Ok(s) => {
                    if let Err(e) = url::Url::parse(&s) {
                        self.report(key, format!("{value:?} does not make a URL: {e}"));
                    }
                }
                Err(e) => self.report(key, e.to_string()),
            }
        }
    }

    /// Every string inside a JSON body value is a template.
    fn json_templates(&mut self, key: &str, v: &serde_json::Value, allowed: &BTreeSet<String>) {
        match v {
            serde_json::Value::String(s) => self.template(key, s, allowed, false, false),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.json_templates(&format!("{key}.{i}"), item, allowed);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    self.json_templates(&format!("{key}.{k}"), item, allowed);
                }
            }
            _ => {}
        }
    }

    /// Every endpoint names the provider's page it comes from: a wrong endpoint passes every
    /// local test, so the page is how a reviewer checks it.
    fn docs(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.https_url(key, v),
            None if self.generic => {}
            None => self.report(key, "name the provider's documentation page this endpoint comes from (https)"),
        }
    }

    /// A path that may hold `{names}` (an Airtable table id in a filter), rendered with samples.
    fn templated_path(&mut self, key: &str, value: &str, allowed: &BTreeSet<String>) {
        if value.contains('{') {
            self.template(key, value, allowed, false, false);
            let sample = template::render(value, |_| Some("sample".into())).unwrap_or_default();
            self.path(key, &sample);
        } else {
            self.path(key, value);
        }
    }

    fn path(&mut self, key: &str, value: &str) {
        if !path::is_valid(value) {
            self.report(key, format!("{value:?} is not a path like \"result.username\" or \"data.0.id\""));
        }
    }

    fn regex(&mut self, key: &str, pattern: &str) -> Option<Regex> {
        if !pattern.starts_with('^') || !pattern.ends_with('$') {
            self.report(key, format!("pattern {pattern:?} must be anchored with ^ and $"));
        }
        match Regex::new(pattern) {
            Ok(r) => Some(r),
            Err(e) => {
                self.report(key, format!("pattern {pattern:?} does not compile: {e}"));
                None
            }
        }
    }

    fn request(&mut self, key: &str, req: &RequestSpec, allowed: &BTreeSet<String>, has_base: bool) {
        if req.kind.is_some() {
            return;
        }
        self.docs(&format!("{key}.docs_url"), req.docs_url.as_deref());
        if let Some(f) = &req.only_if
            && !allowed.contains(f)
        {
            self.report(&format!("{key}.only_if"), format!("{f:?} is not a field of this mode"));
        }
        let method_ok = matches!(req.method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD");
        if !method_ok {
            self.report(&format!("{key}.method"), format!("{:?} is not an HTTP method in capitals", req.method));
        }
        match (&req.path, &req.url) {
            (Some(_), Some(_)) => self.report(key, "give either `path` or `url`, not both"),
            (None, None) => self.report(key, "needs a `path` (relative to the base URL) or a `url`"),
            (Some(p), None) => {
                if !has_base {
                    self.report(
                        &format!("{key}.path"),
                        "a relative path needs `api_base_url` (or the mode's `base_url`)",
                    );
                }
                if !p.starts_with('/') && !p.starts_with('{') {
                    self.report(&format!("{key}.path"), format!("{p:?} must start with '/'"));
                }
                self.template(&format!("{key}.path"), p, allowed, true, true);
            }
            (None, Some(u)) => self.template(&format!("{key}.url"), u, allowed, true, false),
        }
        for (h, v) in &req.headers {
            self.template(&format!("{key}.headers.{h}"), v, allowed, false, false);
        }
        for (q, v) in &req.query {
            self.template(&format!("{key}.query.{q}"), v, allowed, false, false);
        }
        if req.body == BodyKind::None && !req.params.is_empty() {
            self.report(&format!("{key}.params"), "params need `body = \"form\"` or `body = \"json\"`");
        }
        for (p, v) in &req.params {
            self.json_templates(&format!("{key}.params.{p}"), v, allowed);
        }
        if let Some(doc) = &req.document {
            if req.body != BodyKind::Json || !req.params.is_empty() {
                self.report(
                    &format!("{key}.document"),
                    "a document is a whole JSON body: `body = \"json\"` and no `params`",
                );
            }
            self.json_templates(&format!("{key}.document"), doc, allowed);
        }
        for (name, p) in [("ok_field", &req.ok_field), ("id", &req.id), ("name", &req.name), ("email", &req.email)] {
            if let Some(p) = p {
                self.path(&format!("{key}.{name}"), p);
            }
        }
        for (m, p) in &req.metadata {
            self.path(&format!("{key}.metadata.{m}"), p);
        }
        if let Some(statuses) = &req.invalid_statuses
            && statuses.iter().any(|s| !(400..500).contains(s))
        {
            self.report(&format!("{key}.invalid_statuses"), "only 4xx statuses can mean wrong credentials");
        }
    }

    fn auth_apply(&mut self, key: &str, auth: &AuthApply, allowed: &BTreeSet<String>) {
        for (h, v) in &auth.header {
            // Header names may be templates too (custom-api-key's header name is a field).
            self.template(&format!("{key}.header"), h, allowed, false, false);
            self.template(&format!("{key}.header.{h}"), v, allowed, false, false);
        }
        for (q, v) in &auth.query {
            self.template(&format!("{key}.query.{q}"), v, allowed, false, false);
        }
        if let Some(b) = &auth.basic {
            self.template(&format!("{key}.basic.username"), &b.username, allowed, false, false);
            self.template(&format!("{key}.basic.password"), &b.password, allowed, false, false);
        }
        if let Some(prefix) = &auth.path_prefix {
            if !prefix.starts_with('/') || prefix.ends_with('/') {
                self.report(
                    &format!("{key}.path_prefix"),
                    "starts with '/' and does not end with one, e.g. \"/bot{bot_token}\"",
                );
            }
            self.template(&format!("{key}.path_prefix"), prefix, allowed, false, false);
        }
    }

    fn source(&mut self, key: &str, value: &Option<String>) {
        let Some(v) = value else { return };
        match v.split_once(':') {
            Some(("header", h)) if !h.is_empty() => {}
            Some(("body", p)) => self.path(key, p),
            Some(("query", q)) if !q.is_empty() => {}
            _ => self.report(key, format!("{v:?} must be \"header:NAME\", \"query:NAME\" or \"body:PATH\"")),
        }
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

fn is_snake(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Every problem with one entry (empty when it is sound).
#[must_use]
pub fn validate_provider(p: &Provider, origin: &str) -> Vec<Problem> {
    let mut c = Checker { origin, problems: Vec::new(), generic: p.id.starts_with("custom-") };
    if !is_slug(&p.id) {
        c.report("id", format!("{:?} must be lowercase letters and digits joined by single hyphens", p.id));
    }
    c.non_empty("name", &p.name);
    c.non_empty("description", &p.description);
    if p.categories.is_empty() {
        c.report("categories", "list at least one category");
    }
    for cat in &p.categories {
        if !CATEGORIES.contains(&cat.as_str()) {
            c.report("categories", format!("{cat:?} is not one of: {}", CATEGORIES.join(", ")));
        }
    }
    c.https_url("docs_url", &p.docs_url);

    let placeholders: BTreeSet<String> = p.placeholders.keys().cloned().collect();
    for (name, ph) in &p.placeholders {
        let key = format!("placeholders.{name}");
        if !is_snake(name) {
            c.report(&key, "placeholder names are snake_case");
        }
        c.non_empty(&format!("{key}.label"), &ph.label);
        if ph.per_account && ph.format.is_some() {
            c.report(
                &format!("{key}.per_account"),
                "a URL placeholder names an endpoint: only the operator's integration sets it",
            );
        }
        let integration_supplied = p.id == "custom-oauth2";
        if ph.default.is_none() && ph.example.is_none() && !integration_supplied {
            c.report(
                &key,
                "give a `default` or an `example` value (it documents the format and lets tests render the URLs)",
            );
        }
        if let Some(re) = c.regex(&format!("{key}.pattern"), &ph.pattern) {
            for (what, v) in [("default", &ph.default), ("example", &ph.example)] {
                if let Some(v) = v
                    && !re.is_match(v)
                {
                    c.report(&format!("{key}.{what}"), format!("{v:?} does not match the pattern"));
                }
            }
        }
    }

    // Metadata names an entry records, usable as {metadata.NAME} in api_base_url and oauth2.auth.
    let mut metadata: BTreeSet<String> = BTreeSet::new();
    if let Some(o) = &p.oauth2 {
        metadata.extend(o.token_metadata.keys().map(|k| format!("metadata.{k}")));
        metadata.extend(o.callback_metadata.keys().map(|k| format!("metadata.{k}")));
        if let Some(i) = &o.identity {
            metadata.extend(i.metadata.keys().map(|k| format!("metadata.{k}")));
        }
    }
    for spec in p.credentials.values() {
        if let Some(t) = &spec.test {
            metadata.extend(t.metadata.keys().map(|k| format!("metadata.{k}")));
        }
    }

    if let Some(base) = &p.api_base_url {
        // The base URL serves every mode, so it may use placeholders, any mode's fields, or metadata.
        let mut allowed: BTreeSet<String> = placeholders.clone();
        allowed.extend(metadata.iter().cloned());
        for spec in p.credentials.values() {
            allowed.extend(spec.fields.iter().map(|f| f.name.clone()));
        }
        c.template("api_base_url", base, &allowed, true, false);
        if base.ends_with('/') {
            c.report("api_base_url", "must not end with '/'");
        }
    }
    for (h, v) in &p.api_headers {
        c.template(&format!("api_headers.{h}"), v, &BTreeSet::new(), false, false);
    }
    if let Some(v) = &p.api_version {
        check_api_version(&mut c, p, v);
    }
    if let Some(rl) = &p.rate_limit {
        if let Some(path) = &rl.path {
            c.path("rate_limit.path", path);
            if rl.values.is_empty() {
                c.report("rate_limit.values", "list the values at `path` that mean rate limiting");
            }
        }
        if let Some(path) = &rl.retry_after_path {
            c.path("rate_limit.retry_after_path", path);
        }
    }
    for (i, ep) in p.error_paths.iter().enumerate() {
        c.path(&format!("error_paths[{i}]"), ep);
    }

    if let Some(o) = &p.oauth2 {
        check_oauth2(&mut c, p, o, &placeholders, &metadata);
    }
    for (mode, spec) in &p.credentials {
        check_mode(&mut c, p, *mode, spec);
    }
    check_resources(&mut c, p, &placeholders, &metadata);
    check_actions(&mut c, p, &placeholders, &metadata);
    if let Some(w) = &p.webhooks {
        c.source("webhooks.event_id", &w.event_id);
        c.source("webhooks.event_type", &w.event_type);
        c.source("webhooks.account", &w.account);
        if let Some(d) = &w.docs_url {
            c.https_url("webhooks.docs_url", d);
        }
    }
    if p.oauth2.is_none() && p.credentials.is_empty() && p.webhooks.is_none() {
        c.report("", "declares no way to connect: add [oauth2], a [credentials.MODE] or [webhooks]");
    }
    if !p.placeholders.is_empty() && p.oauth2.is_none() {
        c.report("placeholders", "placeholders are only used by [oauth2]; credential modes declare fields");
    }
    c.problems
}

/// Names a resource kind's templates may use besides its parents (and the connection's values).
pub const RESOURCE_NAMES: &[&str] = &["q", "cursor", "limit", "offset", "page"];

/// Every kind: parents that exist and form no cycle, templates that use only declared names,
/// paths that read, a pagination that is complete, URL patterns that capture an id.
fn check_resources(c: &mut Checker<'_>, p: &Provider, placeholders: &BTreeSet<String>, metadata: &BTreeSet<String>) {
    let mut base: BTreeSet<String> = placeholders.clone();
    base.extend(metadata.iter().cloned());
    base.extend(RESOURCE_NAMES.iter().map(|s| (*s).to_owned()));
    base.insert("access_token".to_owned());
    for spec in p.credentials.values() {
        base.extend(spec.fields.iter().map(|f| f.name.clone()));
    }
    let has_base = p.api_base_url.is_some() || p.credentials.values().any(|m| m.base_url.is_some());
    let granted: BTreeSet<&String> =
        p.oauth2.iter().flat_map(|o| o.default_scopes.iter().chain(o.optional_scopes.iter())).collect();
    for (name, kind) in &p.resources {
        let key = format!("resources.{name}");
        if !is_snake(name) {
            c.report(&key, "kind names are singular snake_case nouns");
        }
        c.non_empty(&format!("{key}.label"), &kind.label);
        c.https_url(&format!("{key}.docs_url"), &kind.docs_url);
        let mut allowed = base.clone();
        for parent in &kind.parents {
            if !p.resources.contains_key(parent) {
                c.report(&format!("{key}.parents"), format!("{parent:?} is not a kind of this provider"));
            }
            allowed.insert(parent.clone());
        }
        if let Some(cycle) = parent_cycle(p, name) {
            c.report(&format!("{key}.parents"), format!("parents form a cycle: {}", cycle.join(" → ")));
        }
        scopes_and_modes(c, &key, p, &granted, &kind.scopes, &kind.modes);
        if kind.max_limit == 0 {
            c.report(&format!("{key}.max_limit"), "must be at least 1");
        }
        // The kind's own docs_url documents its request.
        let mut request = kind.request.clone();
        request.docs_url.get_or_insert_with(|| kind.docs_url.clone());
        c.request(&format!("{key}.request"), &request, &allowed, has_base);
        for (what, path) in [("items", &kind.items), ("id", &kind.id), ("name", &kind.name)] {
            if !(what == "items" && path.is_empty()) {
                c.templated_path(&format!("{key}.{what}"), path, &allowed);
            }
        }
        for (f, path) in &kind.fields {
            if !is_snake(f) || matches!(f.as_str(), "id" | "name") {
                c.report(&format!("{key}.fields.{f}"), "extra field names are snake_case and not id or name");
            }
            c.path(&format!("{key}.fields.{f}"), path);
        }
        if let Some(pages) = &kind.pages {
            let needs_next = matches!(pages.style, PageStyle::Cursor | PageStyle::NextUrl);
            match (&pages.next, needs_next) {
                (Some(n), true) => c.path(&format!("{key}.pages.next"), n),
                (None, true) => c.report(&format!("{key}.pages.next"), "this style reads the next page from `next`"),
                (Some(_), false) => c.report(&format!("{key}.pages.next"), "only cursor and next_url pages use `next`"),
                (None, false) => {}
            }
            if let Some(h) = &pages.has_more {
                c.path(&format!("{key}.pages.has_more"), h);
            }
            let carrier = match pages.style {
                PageStyle::Cursor | PageStyle::LastId => Some("cursor"),
                PageStyle::Offset => Some("offset"),
                PageStyle::Page => Some("page"),
                PageStyle::LinkHeader | PageStyle::NextUrl => None,
            };
            if let Some(n) = carrier
                && !request_uses(&kind.request, n)
            {
                c.report(&format!("{key}.request"), format!("{:?} pages need {{{n}}} in the request", pages.style));
            }
        }
        if let Some(search) = &kind.search {
            for (k, v) in &search.query {
                c.template(&format!("{key}.search.query.{k}"), v, &allowed, false, false);
            }
            for (k, v) in &search.params {
                if let Some(t) = v.as_str() {
                    c.template(&format!("{key}.search.params.{k}"), t, &allowed, false, false);
                }
            }
        }
        for (i, pattern) in kind.url_patterns.iter().enumerate() {
            let at = format!("{key}.url_patterns[{i}]");
            if !pattern.starts_with('^') {
                c.report(&at, "must start with ^ (a URL is matched from its beginning)");
            }
            match Regex::new(pattern) {
                Ok(re) if re.captures_len() < 2 => c.report(&at, "needs a capture group: the id is its first group"),
                Ok(_) => {}
                Err(e) => c.report(&at, format!("does not compile: {e}")),
            }
        }
        if let Some(get) = &kind.get {
            let mut with_id = allowed.clone();
            with_id.insert("id".to_owned());
            c.request(&format!("{key}.get.request"), &get.request, &with_id, has_base);
            if !get.item.is_empty() {
                c.path(&format!("{key}.get.item"), &get.item);
            }
            if let Some(name) = &get.name {
                c.path(&format!("{key}.get.name"), name);
            }
        }
    }
}

/// A kind's or an action's `scopes` must be the provider's OAuth scopes, and its `modes` ways to
/// connect it.
fn scopes_and_modes(
    c: &mut Checker<'_>,
    key: &str,
    p: &Provider,
    granted: &BTreeSet<&String>,
    scopes: &[String],
    modes: &[String],
) {
    if p.oauth2.is_some() {
        for s in scopes {
            if !granted.contains(s) {
                c.report(&format!("{key}.scopes"), format!("{s:?} is not among [oauth2]'s default or optional scopes"));
            }
        }
    }
    for m in modes {
        let declared = (m == "oauth2" && p.oauth2.is_some())
            || CredentialMode::parse(m).is_some_and(|cm| p.credentials.contains_key(&cm));
        if !declared {
            c.report(&format!("{key}.modes"), format!("{m:?} is not a way to connect this provider"));
        }
    }
}

/// Whether any template of the request names `{name}`.
fn request_uses(req: &RequestSpec, name: &str) -> bool {
    let uses = |t: &str| template::names(t).is_ok_and(|n| n.contains(&name));
    req.path.as_deref().is_some_and(uses)
        || req.url.as_deref().is_some_and(uses)
        || req.query.values().any(|v| uses(v))
        || req.params.values().any(|v| v.as_str().is_some_and(uses))
        || req.document.as_ref().and_then(serde_json::Value::as_str).is_some_and(uses)
}

/// The first cycle through `start`'s parents, if any.
fn parent_cycle(p: &Provider, start: &str) -> Option<Vec<String>> {
    fn walk(p: &Provider, at: &str, start: &str, trail: &mut Vec<String>, depth: usize) -> bool {
        if depth > p.resources.len() {
            return false;
        }
        let Some(kind) = p.resources.get(at) else { return false };
        for parent in &kind.parents {
            trail.push(parent.clone());
            if parent == start || walk(p, parent, start, trail, depth + 1) {
                return true;
            }
            trail.pop();
        }
        false
    }
    let mut trail = vec![start.to_owned()];
    walk(p, start, start, &mut trail, 0).then_some(trail)
}

/// The pinned version must be where requests carry it, and its end a real date.
fn check_api_version(c: &mut Checker<'_>, p: &Provider, v: &ApiVersion) {
    c.non_empty("api_version.version", &v.version);
    c.https_url("api_version.docs_url", &v.docs_url);
    if let Some(ends) = &v.ends
        && v.end_date().is_none()
    {
        c.report("api_version.ends", format!("{ends:?} is not a date like 2027-01-21"));
    }
    let carried = p.api_base_url.iter().chain(p.api_headers.values()).chain(
        p.credentials.values().flat_map(|m| m.base_url.iter().chain(m.auth.iter().flat_map(|a| a.header.values()))),
    );
    if !v.version.is_empty() && !carried.into_iter().any(|s| s.contains(&v.version)) {
        c.report(
            "api_version.version",
            format!("{:?} appears in neither api_base_url, api_headers nor a mode's base_url", v.version),
        );
    }
}

/// Entries whose pinned API version ends on or before `day` + `within_days`, with that end date.
#[must_use]
pub fn versions_ending<'a>(
    providers: impl IntoIterator<Item = &'a Provider>,
    day: time::Date,
    within_days: i64,
) -> Vec<(String, String, time::Date)> {
    let limit = day.saturating_add(time::Duration::days(within_days));
    let mut out = Vec::new();
    for p in providers {
        if let Some(v) = &p.api_version
            && let Some((y, m, d)) = v.end_date()
            && let Ok(month) = time::Month::try_from(m)
            && let Ok(end) = time::Date::from_calendar_date(y, month, d)
            && end <= limit
        {
            out.push((p.id.clone(), v.version.clone(), end));
        }
    }
    out.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    out
}

fn check_oauth2(
    c: &mut Checker<'_>,
    p: &Provider,
    o: &OAuth2,
    placeholders: &BTreeSet<String>,
    metadata: &BTreeSet<String>,
) {
    let mut allowed = placeholders.clone();
    allowed.extend(OAUTH_NAMES.iter().map(|s| (*s).to_owned()));
    c.docs("oauth2.docs_url", o.docs_url.as_deref());
    for (k, v) in &o.token_params {
        if matches!(
            k.as_str(),
            "grant_type" | "code" | "redirect_uri" | "code_verifier" | "client_id" | "client_secret"
        ) {
            c.report(&format!("oauth2.token_params.{k}"), "is set by the flow itself");
        }
        c.template(&format!("oauth2.token_params.{k}"), v, placeholders, false, false);
    }
    c.template("oauth2.authorization_url", &o.authorization_url, placeholders, true, false);
    c.template("oauth2.token_url", &o.token_url, placeholders, true, false);
    if o.scope_separator.is_empty() {
        c.report("oauth2.scope_separator", "must not be empty");
    }
    if o.token_request_body == BodyKind::None {
        c.report("oauth2.token_request_body", "must be \"form\" or \"json\"");
    }
    let tf = &o.token_fields;
    for (k, v) in [
        ("access_token", &tf.access_token),
        ("refresh_token", &tf.refresh_token),
        ("expires_in", &tf.expires_in),
        ("scope", &tf.scope),
        ("token_type", &tf.token_type),
    ] {
        c.path(&format!("oauth2.token_fields.{k}"), v);
    }
    for (m, v) in &o.token_metadata {
        c.path(&format!("oauth2.token_metadata.{m}"), v);
    }
    let dupes: BTreeSet<_> = o.default_scopes.iter().filter(|s| o.optional_scopes.contains(s)).collect();
    if !dupes.is_empty() {
        c.report("oauth2.optional_scopes", format!("{dupes:?} are already default scopes"));
    }
    let has_base = p.api_base_url.is_some();
    for (name, req) in [("identity", &o.identity), ("revoke", &o.revoke), ("exchange", &o.exchange)] {
        if let Some(r) = req {
            // Identity and revocation run with the account's metadata (Salesforce's My Domain host).
            let mut with_metadata = allowed.clone();
            if name != "exchange" {
                with_metadata.extend(metadata.iter().cloned());
            }
            c.request(&format!("oauth2.{name}"), r, &with_metadata, has_base);
        }
    }
    for (name, cp) in &o.callback_placeholders {
        let key = format!("oauth2.callback_placeholders.{name}");
        match p.placeholders.get(name) {
            Some(ph) if ph.per_account => {}
            Some(_) => c.report(&key, "only a per_account placeholder can come from the callback"),
            None => c.report(&key, format!("{name:?} is not a declared placeholder")),
        }
        c.non_empty(&format!("{key}.param"), &cp.param);
        if let Some(re) = c.regex(&format!("{key}.pattern"), &cp.pattern)
            && re.captures_len() < 2
        {
            c.report(&format!("{key}.pattern"), "needs a capture group: the value is its first group");
        }
    }
    if let Some(i) = &o.issuer {
        c.template("oauth2.issuer", i, placeholders, true, false);
    } else if o.authorization_response_iss_parameter_supported {
        c.report("oauth2.authorization_response_iss_parameter_supported", "declare the `issuer` it sends");
    }
    if let Some(r) = &o.refresh_url {
        c.template("oauth2.refresh_url", r, placeholders, true, false);
    }
    for (k, v) in &o.token_extra {
        c.path(&format!("oauth2.token_extra.{k}"), v);
    }
    if let Some(auth) = &o.auth {
        let mut with_meta = allowed.clone();
        with_meta.extend(metadata.iter().cloned());
        c.auth_apply("oauth2.auth", auth, &with_meta);
    }
}

fn check_mode(c: &mut Checker<'_>, p: &Provider, mode: CredentialMode, spec: &CredentialSpec) {
    let key = format!("credentials.{}", mode.as_str());
    c.non_empty(&format!("{key}.label"), &spec.label);
    let mut names = BTreeSet::new();
    if spec.fields.is_empty() {
        c.report(&format!("{key}.fields"), "declare at least one field");
    }
    for (i, f) in spec.fields.iter().enumerate() {
        let fk = format!("{key}.fields[{i}]");
        if !is_snake(&f.name) {
            c.report(&format!("{fk}.name"), format!("{:?} must be snake_case", f.name));
        }
        if !names.insert(f.name.clone()) {
            c.report(&format!("{fk}.name"), format!("{:?} is declared twice", f.name));
        }
        c.non_empty(&format!("{fk}.label"), &f.label);
        if f.prefixes.iter().any(String::is_empty) {
            c.report(&format!("{fk}.prefixes"), "prefixes must not be empty strings");
        }
        let re = f.pattern.as_ref().and_then(|pat| c.regex(&format!("{fk}.pattern"), pat));
        match (f.format, f.options.is_empty()) {
            (FieldFormat::Enum, true) => c.report(&format!("{fk}.options"), "an enum field lists its options"),
            (FieldFormat::Enum, false) => {}
            (_, false) => c.report(&format!("{fk}.options"), "options are only for format = \"enum\""),
            _ => {}
        }
        if let Some(d) = &f.default {
            if f.format == FieldFormat::Enum && !f.options.contains(d) {
                c.report(&format!("{fk}.default"), format!("{d:?} is not one of the options"));
            }
            if let Some(re) = &re
                && !re.is_match(d)
            {
                c.report(&format!("{fk}.default"), format!("{d:?} does not match the pattern"));
            }
        }
    }
    let base = spec.base_url.as_ref().or(p.api_base_url.as_ref());
    if let Some(b) = &spec.base_url {
        let mut allowed = names.clone();
        allowed.extend(spec.test.iter().flat_map(|t| t.metadata.keys().map(|k| format!("metadata.{k}"))));
        c.template(&format!("{key}.base_url"), b, &allowed, true, false);
    }
    if let Some(auth) = &spec.auth {
        c.auth_apply(&format!("{key}.auth"), auth, &names);
    }
    let expected_kind = match mode {
        CredentialMode::Smtp => Some(TestKind::Smtp),
        CredentialMode::ServiceAccount => Some(TestKind::ServiceAccount),
        _ => None,
    };
    match &spec.test {
        Some(t) => {
            if t.kind != expected_kind {
                c.report(
                    &format!("{key}.test.kind"),
                    match expected_kind {
                        Some(k) => format!("the {} mode's test must be kind = {:?}", mode.as_str(), k),
                        None => "`kind` is only for the smtp and service_account modes".to_owned(),
                    },
                );
            }
            c.request(&format!("{key}.test"), t, &names, base.is_some());
        }
        None if expected_kind.is_some() => {
            c.report(&format!("{key}.test"), format!("the {} mode needs its built-in test", mode.as_str()));
        }
        None if mode != CredentialMode::Webhook => {
            c.report(&format!("{key}.test"), "every mode but webhook URLs needs a test request");
        }
        None => {}
    }
}

/// Action names that are a verb alone: what they act on is the connection (API.md's `send`).
const LONE_VERBS: [&str; 1] = ["send"];

/// Every action: a name in verb_noun style, words for people and models, an input schema that is
/// valid JSON Schema 2020-12 whose resource bindings name this provider's kinds (with their
/// parents bound too), a request whose templates use only declared inputs (and, in its path,
/// only required ones), or a handler.
fn check_actions(c: &mut Checker<'_>, p: &Provider, placeholders: &BTreeSet<String>, metadata: &BTreeSet<String>) {
    let mut base: BTreeSet<String> = placeholders.clone();
    base.extend(metadata.iter().cloned());
    base.insert("access_token".to_owned());
    for spec in p.credentials.values() {
        base.extend(spec.fields.iter().map(|f| f.name.clone()));
    }
    let has_base = p.api_base_url.is_some() || p.credentials.values().any(|m| m.base_url.is_some());
    let granted: BTreeSet<&String> =
        p.oauth2.iter().flat_map(|o| o.default_scopes.iter().chain(o.optional_scopes.iter())).collect();
    for (key_name, action) in &p.actions {
        let key = format!("actions.{key_name}");
        let name = action.exposed(key_name);
        let twins: Vec<&Action> = p.actions.iter().filter(|(k, a)| a.exposed(k) == name).map(|(_, a)| a).collect();
        if twins.len() > 1 && twins.iter().any(|a| a.modes.is_empty()) {
            c.report(&key, format!("several entries are named {name:?}: give each its own `modes`"));
        }
        for r in &action.refused_if {
            c.path(&format!("{key}.refused_if"), r);
        }
        // A verb alone only where the object is the connection itself (a webhook's `send`).
        if !is_snake(name) || !(name.contains('_') || LONE_VERBS.contains(&name)) {
            c.report(&key, "action names are snake_case verb_noun (post_message, append_row)");
        }
        c.non_empty(&format!("{key}.title"), &action.title);
        if action.description.trim().len() < 40 {
            c.report(
                &format!("{key}.description"),
                "say what it does and what its inputs mean (40 characters at least)",
            );
        }
        c.https_url(&format!("{key}.docs_url"), &action.docs_url);
        scopes_and_modes(c, &key, p, &granted, &action.scopes, &action.modes);
        check_schema(c, &format!("{key}.input"), &action.input);
        if action.input.get("type").and_then(serde_json::Value::as_str) != Some("object") {
            c.report(&format!("{key}.input"), "the input schema must be `type = \"object\"`");
        }
        if let Some(out) = &action.output_schema {
            check_schema(c, &format!("{key}.output_schema"), out);
        }
        let bound = action.bound_inputs(&p.resources);
        let mut allowed = base.clone();
        allowed.extend(crate::actions::input_names(&action.input));
        for (prop, kind) in &bound {
            let Some(k) = p.resources.get(kind) else {
                c.report(
                    &format!("{key}.input.properties.{prop}"),
                    format!("x-resource {kind:?} is not a resource kind of this provider"),
                );
                continue;
            };
            for parent in &k.parents {
                if !bound.iter().any(|(_, bk)| bk == parent) {
                    c.report(
                        &format!("{key}.input.properties.{prop}"),
                        format!("a {kind} needs its {parent}: bind another input to x-resource {parent:?}"),
                    );
                }
            }
            for f in ["id", "name"].into_iter().map(str::to_owned).chain(k.fields.keys().cloned()) {
                allowed.insert(format!("resolved.{prop}.{f}"));
            }
        }
        if let Some(h) = action.handler {
            allowed.extend(h.computed_names().iter().map(|n| (*n).to_owned()));
        }
        nested_bindings(c, &key, &action.input, 0);
        match (&action.request, action.handler) {
            (None, None) => c.report(&key, "needs a `request` (or a `handler` where data cannot say it)"),
            (Some(_), Some(h)) if !h.ends_in_request() => {
                c.report(&key, format!("handler {h:?} does the whole action: it takes no `request`"));
            }
            (Some(req), _) => {
                let mut req = req.clone();
                req.docs_url.get_or_insert_with(|| action.docs_url.clone());
                c.request(&format!("{key}.request"), &req, &allowed, has_base);
                let required = crate::actions::required(&action.input);
                let path = req.path.as_deref().or(req.url.as_deref()).unwrap_or_default();
                for n in template::names(path).unwrap_or_default() {
                    if let Some(prop) = n.strip_prefix("input.")
                        && !required.contains(prop)
                    {
                        c.report(
                            &format!("{key}.request"),
                            format!("the URL uses {{{n}}}, so {prop:?} must be a required input"),
                        );
                    }
                }
            }
            (None, Some(h)) if h.ends_in_request() => {
                c.report(&key, format!("handler {h:?} ends in the action's `request`; give it"));
            }
            (None, Some(_)) => {}
        }
        for (field, path) in &action.output {
            if !is_snake(field) {
                c.report(&format!("{key}.output.{field}"), "output names are snake_case");
            }
            c.path(&format!("{key}.output.{field}"), path);
        }
    }
}

/// A schema must be valid JSON Schema 2020-12 and compile.
fn check_schema(c: &mut Checker<'_>, key: &str, schema: &serde_json::Value) {
    if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
        c.report(key, format!("is not valid JSON Schema 2020-12: {e}"));
        return;
    }
    if let Err(e) = jsonschema::draft202012::new(schema) {
        c.report(key, format!("does not compile: {e}"));
    }
}

/// `x-resource` is read on top-level properties only; deeper ones would be silently ignored.
fn nested_bindings(c: &mut Checker<'_>, key: &str, schema: &serde_json::Value, depth: usize) {
    let Some(props) = schema.get("properties").and_then(serde_json::Value::as_object) else { return };
    for (name, sub) in props {
        if depth > 0 && sub.get("x-resource").is_some() {
            c.report(
                &format!("{key}.input"),
                format!("x-resource on nested property {name:?}: only top-level inputs bind to kinds"),
            );
        }
        nested_bindings(c, key, sub, depth + 1);
    }
}
