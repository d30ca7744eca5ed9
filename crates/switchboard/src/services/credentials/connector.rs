//! Talking to providers the way the catalog describes them: checking
//! credential fields, building requests from templates, applying
//! credentials, and reading identity or the provider's own reason from answers.

use std::borrow::Cow;
use std::collections::BTreeMap;

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use switchboard_core::catalog::{
    AuthApply, BodyKind, CredentialMode, CredentialSpec, FieldFormat, FieldSpec, Provider, RequestAuth, RequestSpec,
    path, template,
};
use zeroize::Zeroize;

use crate::outbound::{OutboundError, OutboundRequest, OutboundResponse};
use crate::services::ServiceError;

/// Credential field values, plaintext in memory only; wiped on drop, never printed.
#[derive(Clone, Default)]
pub struct Fields(BTreeMap<String, String>);

impl Fields {
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|s| !s.is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// The non-secret fields, safe to show.
    #[must_use]
    pub fn public(&self, spec: &CredentialSpec) -> BTreeMap<String, String> {
        spec.fields
            .iter()
            .filter(|f| !f.secret)
            .filter_map(|f| self.get(&f.name).map(|v| (f.name.clone(), v.to_owned())))
            .collect()
    }

    /// Values that must never appear in an error message or log.
    #[must_use]
    pub fn secrets(&self, spec: &CredentialSpec) -> Vec<String> {
        spec.fields
            .iter()
            .filter(|f| f.secret)
            .filter_map(|f| self.get(&f.name).map(str::to_owned))
            .filter(|s| s.len() >= 4)
            .collect()
    }

    #[must_use]
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
    }

    pub fn from_json(v: &Value) -> Self {
        Self(
            v.as_object()
                .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
                .unwrap_or_default(),
        )
    }
}

impl Drop for Fields {
    fn drop(&mut self) {
        for v in self.0.values_mut() {
            v.zeroize();
        }
    }
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// Who the credentials belong to, as the provider says.
#[derive(Debug, Clone, Default)]
pub struct Account {
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub metadata: BTreeMap<String, Value>,
}

/// Picks the credential mode: the one asked for, the only one, or the one whose fields were given.
pub fn choose_mode<'p>(
    provider: &'p Provider,
    asked: Option<&str>,
    input: &Map<String, Value>,
) -> Result<(CredentialMode, &'p CredentialSpec), ServiceError> {
    let modes: Vec<_> = provider.credentials.iter().collect();
    let names = || modes.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>().join(", ");
    if modes.is_empty() {
        return Err(ServiceError::invalid(
            "provider",
            if provider.oauth2.is_some() {
                format!("{} connects with OAuth 2.0: start it with POST /v1/oauth/start", provider.name)
            } else {
                format!("{} takes no credentials to connect", provider.name)
            },
        ));
    }
    if let Some(a) = asked {
        let mode = CredentialMode::parse(a).filter(|m| provider.credentials.contains_key(m)).ok_or_else(|| {
            ServiceError::invalid("auth_mode", format!("{} supports the modes: {} (got {a:?})", provider.name, names()))
        })?;
        return Ok((mode, &provider.credentials[&mode]));
    }
    if let [(m, spec)] = modes.as_slice() {
        return Ok((**m, spec));
    }
    let fitting: Vec<_> =
        modes.iter().filter(|(_, spec)| input.keys().all(|k| spec.fields.iter().any(|f| &f.name == k))).collect();
    match fitting.as_slice() {
        [(m, spec)] => Ok((**m, spec)),
        _ => Err(ServiceError::invalid(
            "auth_mode",
            format!("{} supports several modes ({}); say which in auth_mode", provider.name, names()),
        )),
    }
}

/// Checks the given fields against the mode's declaration: names, required, formats.
pub fn check_fields(
    provider: &Provider,
    spec: &CredentialSpec,
    input: &Map<String, Value>,
    allow_plain_http: bool,
) -> Result<Fields, ServiceError> {
    for key in input.keys() {
        if !spec.fields.iter().any(|f| &f.name == key) {
            let known: Vec<_> = spec.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(ServiceError::invalid(
                &format!("credentials.{key}"),
                format!(
                    "{} ({}) takes no field {key:?}; its fields are: {}",
                    provider.name,
                    spec.label,
                    known.join(", ")
                ),
            ));
        }
    }
    let mut out = BTreeMap::new();
    for f in &spec.fields {
        let value = match input.get(&f.name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if f.trim => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
            Some(Value::Number(n)) if f.format == FieldFormat::Integer => Some(n.to_string()),
            Some(v @ Value::Object(_)) if f.format == FieldFormat::Json => Some(v.to_string()),
            Some(_) => return Err(field_error(provider, f, "must be a string")),
        };
        let value = match (value, &f.default) {
            (Some(v), _) => v,
            (None, Some(d)) => d.clone(),
            (None, None) if f.required => {
                return Err(field_error(
                    provider,
                    f,
                    &format!("is required{}", f.help.as_deref().map(|h| format!(": {h}")).unwrap_or_default()),
                ));
            }
            (None, None) => continue,
        };
        check_value(provider, f, &value, allow_plain_http)?;
        out.insert(f.name.clone(), value);
    }
    Ok(Fields(out))
}

fn field_error(provider: &Provider, f: &FieldSpec, what: &str) -> ServiceError {
    ServiceError::invalid(
        &format!("credentials.{}", f.name),
        format!("{} {} ({}) {what}", provider.name, f.label, f.name),
    )
}

fn check_value(provider: &Provider, f: &FieldSpec, value: &str, allow_plain_http: bool) -> Result<(), ServiceError> {
    let limit = if f.format == FieldFormat::Json { 64 * 1024 } else { 8 * 1024 };
    if value.len() > limit {
        return Err(field_error(provider, f, &format!("is longer than {limit} characters")));
    }
    if !f.prefixes.is_empty() && !f.prefixes.iter().any(|p| value.starts_with(p.as_str())) {
        return Err(field_error(provider, f, &format!("starts with {}", f.prefixes.join(" or "))));
    }
    if let Some(pattern) = &f.pattern {
        let ok = switchboard_core::pattern::is_match(pattern, value);
        if !ok {
            let hint = f
                .example
                .as_deref()
                .map(|e| format!(" such as {e}"))
                .or_else(|| f.help.as_deref().map(|h| format!(": {h}")))
                .unwrap_or_default();
            return Err(field_error(provider, f, &format!("does not have the expected format{hint}")));
        }
    }
    match f.format {
        FieldFormat::Text => Ok(()),
        FieldFormat::Url => {
            let u = url::Url::parse(value).map_err(|_| field_error(provider, f, "must be a URL such as https://…"))?;
            match u.scheme() {
                "https" => Ok(()),
                "http" if allow_plain_http => Ok(()),
                _ => Err(field_error(provider, f, "must be an https URL")),
            }
        }
        FieldFormat::Email => {
            let ok = value.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !d.starts_with('.') && !value.contains(char::is_whitespace)
            });
            if ok { Ok(()) } else { Err(field_error(provider, f, "must be an email address such as name@example.com")) }
        }
        FieldFormat::Integer => {
            value.parse::<u64>().map(|_| ()).map_err(|_| field_error(provider, f, "must be a whole number"))
        }
        FieldFormat::Enum => {
            if f.options.iter().any(|o| o == value) {
                Ok(())
            } else {
                Err(field_error(provider, f, &format!("must be one of: {}", f.options.join(", "))))
            }
        }
        FieldFormat::Json => match serde_json::from_str::<Value>(value) {
            Ok(Value::Object(_)) => Ok(()),
            _ => Err(field_error(provider, f, "must be a JSON object (paste the whole file)")),
        },
    }
}

/// Values templates may use.
pub struct Vars<'a> {
    pub fields: Option<&'a Fields>,
    pub extra: BTreeMap<&'static str, String>,
    pub placeholders: BTreeMap<String, String>,
    pub metadata: Option<&'a BTreeMap<String, Value>>,
}

impl<'a> Vars<'a> {
    #[must_use]
    pub fn of_fields(fields: &'a Fields) -> Self {
        Self { fields: Some(fields), extra: BTreeMap::new(), placeholders: BTreeMap::new(), metadata: None }
    }

    fn lookup(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(m) = name.strip_prefix("metadata.") {
            return self.metadata.and_then(|md| md.get(m)).and_then(|v| match v {
                Value::String(s) => Some(Cow::Borrowed(s.as_str())),
                Value::Number(n) => Some(Cow::Owned(n.to_string())),
                _ => None,
            });
        }
        if let Some(v) = self.extra.get(name) {
            return Some(Cow::Borrowed(v));
        }
        if let Some(v) = self.placeholders.get(name) {
            return Some(Cow::Borrowed(v));
        }
        // Absent optional fields render as empty text (e.g. an empty key prefix).
        self.fields.map(|f| Cow::Borrowed(f.0.get(name).map_or("", String::as_str)))
    }

    pub fn render(&self, t: &str) -> Result<String, ServiceError> {
        template::render(t, |n| self.lookup(n)).map_err(template_error)
    }

    pub fn render_url(&self, t: &str) -> Result<String, ServiceError> {
        template::render_url(t, |n| self.lookup(n)).map_err(template_error)
    }
}

fn template_error(e: template::TemplateError) -> ServiceError {
    ServiceError::Internal(format!("catalog template: {e}"))
}

/// How a request authenticates, beyond the mode's own `auth`.
pub struct Credentials<'a> {
    pub apply: Option<&'a AuthApply>,
    pub bearer: Option<&'a str>,
    pub client: Option<(&'a str, &'a str)>,
}

/// Builds the HTTP request a catalog request spec describes.
pub fn build_request(
    provider: &Provider,
    spec: &RequestSpec,
    base_template: Option<&str>,
    vars: &Vars<'_>,
    creds: &Credentials<'_>,
) -> Result<OutboundRequest, ServiceError> {
    let url = match (&spec.url, &spec.path) {
        (Some(u), _) => vars.render_url(u)?,
        (None, Some(p)) => {
            let base = base_template
                .ok_or_else(|| ServiceError::Internal(format!("{}: relative path without a base URL", provider.id)))?;
            format!("{}{}{}", vars.render_url(base)?, path_prefix(spec, creds, vars)?, vars.render_url(p)?)
        }
        (None, None) => return Err(ServiceError::Internal(format!("{}: request without path or url", provider.id))),
    };
    let mut url = url::Url::parse(&url).map_err(|e| {
        ServiceError::invalid(
            "credentials",
            format!("the {} URL made from these fields is not valid: {e}", provider.name),
        )
    })?;
    let method =
        Method::from_bytes(spec.method.as_bytes()).map_err(|_| ServiceError::Internal("catalog method".into()))?;
    let mut req = OutboundRequest::new(method, url.clone());
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    for (k, v) in provider.api_headers.iter().chain(spec.headers.iter()) {
        insert_header(&mut headers, &vars.render(k)?, &vars.render(v)?)?;
    }
    let mut query: Vec<(String, String)> = Vec::new();
    for (k, v) in &spec.query {
        query.push((k.clone(), vars.render(v)?));
    }
    let apply_basic = |headers: &mut HeaderMap, user: &str, pass: &str| -> Result<(), ServiceError> {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        insert_header(headers, "authorization", &format!("Basic {token}"))
    };
    match spec.auth {
        RequestAuth::None => {}
        RequestAuth::Bearer => {
            if let Some(t) = creds.bearer {
                insert_header(&mut headers, "authorization", &format!("Bearer {t}"))?;
            }
        }
        RequestAuth::ClientBasic => {
            if let Some((id, secret)) = creds.client {
                apply_basic(&mut headers, id, secret)?;
            }
        }
        RequestAuth::Default => match creds.apply {
            Some(apply) => {
                for (k, v) in &apply.header {
                    insert_header(&mut headers, &vars.render(k)?, &vars.render(v)?)?;
                }
                for (k, v) in &apply.query {
                    query.push((k.clone(), vars.render(v)?));
                }
                if let Some(b) = &apply.basic {
                    apply_basic(&mut headers, &vars.render(&b.username)?, &vars.render(&b.password)?)?;
                }
            }
            None => {
                if let Some(t) = creds.bearer {
                    insert_header(&mut headers, "authorization", &format!("Bearer {t}"))?;
                }
            }
        },
    }
    match spec.body {
        BodyKind::None => {}
        BodyKind::Form => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &spec.params {
                form.append_pair(k, &param_text(v, vars)?);
            }
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
            req.body = Some(form.finish().into());
        }
        BodyKind::Json => {
            let mut obj = Map::new();
            for (k, v) in &spec.params {
                obj.insert(k.clone(), render_json(v, vars)?);
            }
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            req.body = Some(Value::Object(obj).to_string().into());
        }
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    req.url = url;
    req.headers = headers;
    Ok(req)
}

/// The credential's part of every relative path (Telegram's `/bot{bot_token}`), where it has one.
pub fn path_prefix(spec: &RequestSpec, creds: &Credentials<'_>, vars: &Vars<'_>) -> Result<String, ServiceError> {
    match (spec.auth, creds.apply.and_then(|a| a.path_prefix.as_deref())) {
        (RequestAuth::Default, Some(prefix)) => vars.render_url(prefix),
        _ => Ok(String::new()),
    }
}

/// Placeholders whose value is a count: a JSON body string that is exactly one of them is sent as
/// a number, since APIs such as Notion's `page_size` refuse `"50"`.
const NUMERIC_PLACEHOLDERS: [&str; 3] = ["{limit}", "{offset}", "{page}"];

/// A JSON body value with every string in it rendered as a template.
fn render_json(v: &Value, vars: &Vars<'_>) -> Result<Value, ServiceError> {
    Ok(match v {
        Value::String(s) if NUMERIC_PLACEHOLDERS.contains(&s.as_str()) => {
            let text = vars.render(s)?;
            text.parse::<u64>().map_or(Value::String(text), Value::from)
        }
        Value::String(s) => Value::String(vars.render(s)?),
        Value::Array(items) => Value::Array(items.iter().map(|i| render_json(i, vars)).collect::<Result<_, _>>()?),
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, i)| Ok((k.clone(), render_json(i, vars)?))).collect::<Result<_, ServiceError>>()?,
        ),
        other => other.clone(),
    })
}

fn param_text(v: &Value, vars: &Vars<'_>) -> Result<String, ServiceError> {
    match v {
        Value::String(s) => vars.render(s),
        other => Ok(other.to_string()),
    }
}

fn insert_header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), ServiceError> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ServiceError::invalid("credentials", format!("{name:?} is not a valid header name")))?;
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        ServiceError::invalid("credentials", "a credential contains characters that cannot go in an HTTP header")
    })?;
    if name == AUTHORIZATION || name.as_str().contains("key") || name.as_str().contains("token") {
        value.set_sensitive(true);
    }
    headers.insert(name, value);
    Ok(())
}

/// The provider's own reason in an error answer, with any secret scrubbed.
#[must_use]
pub fn provider_reason(provider: &Provider, res: &OutboundResponse, secrets: &[String]) -> String {
    let json = res.json();
    let from_paths = json.as_ref().and_then(|doc| {
        provider
            .error_paths
            .iter()
            .chain(["error_description", "message", "error.message", "error"].map(str::to_owned).iter())
            .find_map(|p| {
                path::get(doc, p).and_then(|v| match v {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Array(items) if !items.is_empty() => Some(
                        items
                            .iter()
                            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    Value::Object(_) | Value::Number(_) | Value::Bool(_) => None,
                    _ => None,
                })
            })
    });
    let reason = from_paths.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&res.body);
        let text = text.trim();
        if !text.is_empty() && text.len() <= 200 && !text.starts_with('<') {
            text.to_owned()
        } else {
            format!("HTTP {}", res.status)
        }
    });
    scrub(&reason, secrets)
}

/// Replaces secrets in provider text and keeps it short.
#[must_use]
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s.as_str(), "[REDACTED]");
        }
    }
    if out.chars().count() > 300 {
        out = format!("{}…", out.chars().take(300).collect::<String>());
    }
    out
}

/// What an outbound failure means to the caller: the provider was unreachable or broken.
pub fn unreachable(provider: &Provider, e: OutboundError) -> ServiceError {
    match e {
        OutboundError::Refused(m) => ServiceError::invalid("credentials", m),
        other => ServiceError::Provider(format!("{} could not be reached: {other}", provider.name)),
    }
}

/// Reads a test or identity answer: wrong credentials → 422, rate limits → 429,
/// provider failures → 502, otherwise the account found at the spec's paths.
pub fn interpret(
    provider: &Provider,
    spec: &RequestSpec,
    res: &OutboundResponse,
    secrets: &[String],
) -> Result<Account, ServiceError> {
    let status = res.status.as_u16();
    if let Some(after) = rate_limited(provider, res) {
        return Err(ServiceError::RateLimited {
            message: format!(
                "{} is rate-limiting these requests ({}){}",
                provider.name,
                provider_reason(provider, res, secrets),
                after.map(|s| format!("; retry after {s} s")).unwrap_or_default()
            ),
            retry_after_s: after,
        });
    }
    if spec.invalid_statuses().contains(&status) {
        return Err(ServiceError::InvalidCredentials(format!(
            "{} refused these credentials: {}",
            provider.name,
            provider_reason(provider, res, secrets)
        )));
    }
    if status >= 500 {
        return Err(ServiceError::Provider(format!(
            "{} failed with HTTP {status}: {}",
            provider.name,
            provider_reason(provider, res, secrets)
        )));
    }
    if (300..400).contains(&status) {
        return Err(ServiceError::Provider(format!(
            "{} answered with a redirect (HTTP {status}), which is not followed for requests that carry credentials",
            provider.name
        )));
    }
    if status >= 400 {
        return Err(ServiceError::InvalidCredentials(format!(
            "{} refused the request (HTTP {status}): {}",
            provider.name,
            provider_reason(provider, res, secrets)
        )));
    }
    let doc = res.json().unwrap_or(Value::Null);
    if let Some(ok) = &spec.ok_field
        && path::get(&doc, ok) != Some(&Value::Bool(true))
    {
        return Err(ServiceError::InvalidCredentials(format!(
            "{} refused these credentials: {}",
            provider.name,
            provider_reason(provider, res, secrets)
        )));
    }
    Ok(read_account(spec, &doc))
}

/// `Some(retry_after)` when the answer means "slow down": HTTP 429, or the
/// provider's own signals (an error code — in a 2xx too, as GraphQL APIs answer — or a
/// spent-quota header on a 403).
#[must_use]
pub fn rate_limited(provider: &Provider, res: &OutboundResponse) -> Option<Option<u64>> {
    let status = res.status.as_u16();
    let signals = provider.rate_limit.as_ref();
    // A 2xx is throttled only by its code (GraphQL APIs answer THROTTLED with HTTP 200).
    if status < 400 && signals.and_then(|s| s.path.as_ref()).is_none() {
        return None;
    }
    let doc = res.json();
    let by_code = signals
        .and_then(|s| s.path.as_ref().map(|p| (p, &s.values)))
        .is_some_and(|(p, values)| doc.as_ref().and_then(|d| path::get(d, p)).is_some_and(|v| values.contains(v)));
    let by_header = status == 403
        && signals
            .and_then(|s| s.exhausted_header.as_deref())
            .is_some_and(|h| res.headers.get(h).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == "0"));
    if status != 429 && !by_code && !by_header {
        return None;
    }
    if status < 400 && !by_code {
        return None;
    }
    let from_body = signals
        .and_then(|s| s.retry_after_path.as_deref())
        .and_then(|p| doc.as_ref().and_then(|d| path::get(d, p)))
        .and_then(Value::as_u64);
    Some(res.retry_after().or(from_body))
}

/// Identity and metadata at the spec's paths.
#[must_use]
pub fn read_account(spec: &RequestSpec, doc: &Value) -> Account {
    let text = |p: &Option<String>| p.as_deref().and_then(|p| path::get_text(doc, p));
    Account {
        id: text(&spec.id),
        name: text(&spec.name),
        email: text(&spec.email),
        metadata: spec
            .metadata
            .iter()
            .filter_map(|(k, p)| path::get(doc, p).filter(|v| !v.is_null()).map(|v| (k.clone(), v.clone())))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::catalog::{Catalog, Source};

    fn github() -> Provider {
        let text = include_str!("../../../../../providers/github.toml");
        let cat = Catalog::load(&[Source { origin: "github.toml".into(), text: text.into() }]).unwrap();
        (**cat.get("github").unwrap()).clone()
    }

    #[test]
    fn fields_are_checked_by_name_prefix_and_presence() {
        let p = github();
        let spec = &p.credentials[&CredentialMode::ApiKey];
        let ok = serde_json::json!({"token": "ghp_abc"});
        assert!(check_fields(&p, spec, ok.as_object().unwrap(), false).is_ok());
        let e = check_fields(&p, spec, serde_json::json!({"token": "nope"}).as_object().unwrap(), false).unwrap_err();
        assert!(e.to_string().contains("starts with ghp_ or github_pat_"), "{e}");
        let e = check_fields(&p, spec, serde_json::json!({}).as_object().unwrap(), false).unwrap_err();
        assert!(e.to_string().contains("is required"), "{e}");
        let e = check_fields(&p, spec, serde_json::json!({"token": "ghp_x", "extra": 1}).as_object().unwrap(), false)
            .unwrap_err();
        assert!(matches!(e, ServiceError::Invalid { ref field, .. } if field == "credentials.extra"), "{e}");
    }

    #[test]
    fn requests_apply_credentials_and_headers_and_secrets_stay_out_of_debug() {
        let p = github();
        let spec = &p.credentials[&CredentialMode::ApiKey];
        let fields =
            check_fields(&p, spec, serde_json::json!({"token": "ghp_secret"}).as_object().unwrap(), false).unwrap();
        let vars = Vars::of_fields(&fields);
        let test = spec.test.as_ref().unwrap();
        let req = build_request(
            &p,
            test,
            p.api_base_url.as_deref(),
            &vars,
            &Credentials { apply: spec.auth.as_ref(), bearer: None, client: None },
        )
        .unwrap();
        assert_eq!(req.url.as_str(), "https://api.github.com/user");
        assert_eq!(req.headers["authorization"], "Bearer ghp_secret");
        assert_eq!(req.headers["x-github-api-version"], "2022-11-28");
        assert!(!format!("{:?}", req.headers).contains("ghp_secret"), "sensitive headers are redacted in debug output");
        assert!(!format!("{fields:?}").contains("ghp_secret"));
    }

    #[test]
    fn provider_reasons_are_scrubbed() {
        assert_eq!(scrub("bad key sk-12345 given", &["sk-12345".into()]), "bad key [REDACTED] given");
    }
}
