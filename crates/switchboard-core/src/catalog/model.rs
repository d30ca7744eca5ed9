//! The catalog file format (see providers/FORMAT.md), as serde types.
//! `deny_unknown_fields` everywhere: a typo in a provider file is an error, not a silent default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub description: String,
    pub categories: Vec<String>,
    pub docs_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub api_headers: BTreeMap<String, String>,
    /// The provider API version this entry pins, and when the provider stops serving it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<ApiVersion>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSignals>,
    /// Errors the provider reports inside successful answers (Slack's `{"ok": false, "error": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_errors: Option<BodyErrors>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub placeholders: BTreeMap<String, Placeholder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<CredentialMode, CredentialSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<Webhooks>,
    /// What a connection can list, by kind name (`spreadsheet`, `channel`…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, ResourceKind>,
    /// What a connection can do, by action name (`post_message`, `append_row`…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<String, Action>,
}

/// One thing a connection can do: its input (a JSON Schema 2020-12 document), the request it
/// makes with templates over that input, and how its output is read from the answer — or, where
/// data cannot say it, the named handler in code that does it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The name callers use, when the table key differs: one action done differently per way of
    /// connecting (Discord's `send_message` as a bot and through a webhook URL) has one entry per
    /// mode, each with its `modes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub title: String,
    /// For people and for AI models: what it does, what the inputs mean, what comes back.
    pub description: String,
    /// The provider's documentation of what the action calls.
    pub docs_url: String,
    /// Scopes that allow the action; any one of them will do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The ways of connecting that can run it (`oauth2`, `api_key`…); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<String>,
    /// Whether running it twice does no more than running it once (a read, a set, a clear).
    #[serde(default)]
    pub retry_safe: bool,
    /// JSON Schema 2020-12 of the input. A top-level property bound to a resource kind says so
    /// with `"x-resource" = "kind"`; it takes an id, a provider URL or a name.
    pub input: serde_json::Value,
    /// JSON Schema of the output, where the answer is stable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<serde_json::Value>,
    /// The request, templates over `{input.…}`, `{resolved.PROPERTY.id|name|field}` and the
    /// connection's values. JSON and form `params` keep the input's types; an absent optional
    /// value drops its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestSpec>,
    /// Paths in a successful answer any of which, when it holds anything (a non-empty list or
    /// text), means the provider refused: GraphQL's top-level `errors` and a mutation's
    /// `userErrors`. One path or a list.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "one_or_many")]
    pub refused_if: Vec<String>,
    /// Output field → path into the answer. Empty: the answer as it is.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output: BTreeMap<String, String>,
    /// The code that runs an action data cannot express.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<ActionHandler>,
}

impl Action {
    /// The name callers use: `name`, else the table key.
    #[must_use]
    pub fn exposed<'a>(&'a self, key: &'a str) -> &'a str {
        self.name.as_deref().unwrap_or(key)
    }

    /// Whether a connection of this mode can run the action.
    #[must_use]
    pub fn serves(&self, mode: &str) -> bool {
        self.modes.is_empty() || self.modes.iter().any(|m| m == mode)
    }

    /// The top-level input properties bound to a resource kind, parents before children.
    #[must_use]
    pub fn bound_inputs(&self, resources: &BTreeMap<String, ResourceKind>) -> Vec<(String, String)> {
        let mut bound: Vec<(String, String)> = self
            .input
            .get("properties")
            .and_then(serde_json::Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(prop, schema)| {
                schema.get("x-resource").and_then(serde_json::Value::as_str).map(|k| (prop.clone(), k.to_owned()))
            })
            .collect();
        // A kind's depth in its parent chain orders the resolution.
        let depth = |kind: &str| {
            let mut d = 0usize;
            let mut cur = resources.get(kind);
            while let Some(k) = cur.and_then(|k| k.parents.last()) {
                d += 1;
                cur = resources.get(k.as_str());
                if d > resources.len() {
                    break;
                }
            }
            d
        };
        bound.sort_by_key(|(_, k)| depth(k));
        bound
    }
}

/// Actions written in code, each documented in providers/FORMAT.md.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ActionHandler {
    /// Google Sheets: `values` by column name, mapped through the sheet's header row.
    SheetsAppendRow,
    /// SMTP: a MIME message (text, HTML, attachments) sent through the connection's server. It
    /// makes no HTTP request.
    SmtpSendEmail,
    /// SendGrid: the v3 mail/send body built from the email input.
    SendgridMail,
    /// Gmail: the MIME message, base64url-encoded as messages.send's `raw`.
    GmailRaw,
    /// Microsoft Graph: the `message` of sendMail (recipients, body, file attachments).
    GraphMail,
    /// Airtable: a record's `fields` by field name, typed against the table's fields.
    AirtableCreateRecord,
    /// Notion: a page's `properties` from plain values, by the data source's property types.
    NotionCreatePage,
    /// Facebook: the resolved Page's own access token, fetched with the user's.
    FacebookPageToken,
    /// Google Drive: the file's metadata and bytes as one multipart/related body.
    DriveMultipartUpload,
    /// Telegram: a photo or document given as bytes, sent as multipart/form-data.
    TelegramUpload,
}

impl ActionHandler {
    /// The `{handler.…}` values the handler computes for its request's templates.
    #[must_use]
    pub fn computed_names(self) -> &'static [&'static str] {
        match self {
            Self::SheetsAppendRow => &["handler.range", "handler.row"],
            Self::SmtpSendEmail => &[],
            Self::SendgridMail => &["handler.body"],
            Self::GmailRaw => &["handler.raw"],
            Self::GraphMail => &["handler.message"],
            Self::AirtableCreateRecord => &["handler.fields"],
            Self::NotionCreatePage => &["handler.properties", "handler.children"],
            Self::FacebookPageToken => &["handler.page_token"],
            Self::DriveMultipartUpload => &[],
            Self::TelegramUpload => &[],
        }
    }

    /// Whether it ends in the action's own catalog `request` (else it does the whole action).
    #[must_use]
    pub fn ends_in_request(self) -> bool {
        !matches!(self, Self::SmtpSendEmail)
    }
}

/// One kind of thing a connection can list: its request, where the items are,
/// how to read them, how the provider pages and searches.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceKind {
    pub label: String,
    /// The provider's page documenting the listing.
    pub docs_url: String,
    /// Kinds whose id the request needs (`sheet` needs its `spreadsheet`), each a template name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    /// Scopes that allow the listing: any one of them will do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The connection modes that can list it (`oauth2`, `bot_token`…); empty: every mode.
    /// A webhook-URL connection, say, holds nothing to list with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<String>,
    /// How long a page may be served from the cache.
    #[serde(default = "default_cache_s")]
    pub cache_s: u64,
    /// The largest page the provider serves.
    #[serde(default = "default_max_limit")]
    pub max_limit: u32,
    pub request: RequestSpec,
    /// Path of the array of items in the answer; empty: the answer itself.
    #[serde(default)]
    pub items: String,
    /// Paths of each item's id and display name.
    pub id: String,
    pub name: String,
    /// Further fields of each item, `name = path` (a column's letter, a file's MIME type…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// A named shape the data cannot express (see FORMAT.md): applied to the answer before `items`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<ResourceTransform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<Pagination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<ResourceSearch>,
    /// Regexes over a provider URL of an item; the first capture group is its id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub url_patterns: Vec<String>,
    /// How to fetch one item by id (`{id}` in its templates), when the provider can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get: Option<ResourceGet>,
}

impl ResourceKind {
    /// Whether a connection of this mode can list the kind.
    #[must_use]
    pub fn serves(&self, mode: &str) -> bool {
        self.modes.is_empty() || self.modes.iter().any(|m| m == mode)
    }
}

fn default_cache_s() -> u64 {
    300
}

fn default_max_limit() -> u32 {
    100
}

/// Shapes only code can read, each a small named function in the server.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResourceTransform {
    /// The array at `items` is one row of cell values (a sheet's header row): each
    /// non-empty cell becomes an item `{id: letter, name: text, letter, position}`.
    HeaderRow,
    /// The object at `items` maps names to objects (a Notion database's properties):
    /// each entry becomes its object with `key` added.
    ObjectEntries,
}

/// How the provider hands out further pages.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pagination {
    pub style: PageStyle,
    /// `cursor`: path of the next cursor in the answer; `next_url`: path of the next page's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Path of a boolean that says whether more pages follow (Notion's `has_more`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PageStyle {
    /// An opaque cursor read from the answer, sent back as `{cursor}`.
    Cursor,
    /// `{offset}` counts items; the last page is the one shorter than `{limit}`.
    Offset,
    /// `{page}` counts pages from 1; the last page is the one shorter than `{limit}`.
    Page,
    /// The `Link` header's `rel="next"` URL (GitHub).
    LinkHeader,
    /// A URL in the answer at `next` (Microsoft Graph's `@odata.nextLink`); a relative one is
    /// taken against the request's URL (Twilio's `next_page_uri`).
    NextUrl,
    /// The last item's id, sent back as `{cursor}` while pages come back full (Discord's `after`).
    LastId,
}

/// Searching by name at the provider: these replace or add to the request's query and body
/// parameters when `q` is given; `{q}` in them is the text with `escape` applied.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSearch {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, serde_json::Value>,
    /// Replacements applied to `q`, in order, before it is put in a template (Drive's query
    /// language: `[["\\", "\\\\"], ["'", "\\'"]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escape: Vec<(String, String)>,
}

/// Fetching one item by `{id}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceGet {
    pub request: RequestSpec,
    /// Path of the item in the answer; empty: the answer itself.
    #[serde(default)]
    pub item: String,
    /// Path of the item's name in it, where it differs from the listing's (a Notion database's
    /// `data_sources.0` carries `name`, a listed data source `title`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A pinned API version (in `api_base_url`, a header, or a mode's `base_url`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiVersion {
    /// The version string exactly as it appears in the URL or header, e.g. `2026-10` or `v24.0`.
    pub version: String,
    /// The provider's page that says which versions it serves, and until when.
    pub docs_url: String,
    /// The first day the provider no longer serves this version (`YYYY-MM-DD`), where it publishes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<String>,
}

impl ApiVersion {
    /// `ends` as (year, month, day), when given and well-formed.
    #[must_use]
    pub fn end_date(&self) -> Option<(i32, u8, u8)> {
        parse_date(self.ends.as_deref()?)
    }
}

/// `YYYY-MM-DD` as numbers, checked for a real calendar day.
#[must_use]
pub fn parse_date(s: &str) -> Option<(i32, u8, u8)> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i32, u8, u8) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let month = time::Month::try_from(m).ok()?;
    time::Date::from_calendar_date(y, month, d).ok()?;
    Some((y, m, d))
}

/// What the error codes inside a successful answer mean, for requests that have an `ok_field`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BodyErrors {
    /// Path of the error code.
    pub path: String,
    /// Codes meaning the credentials are no longer accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unauthorized: Vec<String>,
    /// Codes meaning a scope is missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbidden: Vec<String>,
    /// Codes meaning the thing asked about does not exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_found: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limited: Vec<String>,
    /// Where a forbidden answer names the scope it needed (Slack's `needed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_path: Option<String>,
}

/// How a provider says "slow down" besides HTTP 429.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSignals {
    /// A path in an error answer whose value, when one of `values`, means rate limiting (Meta's `error.code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<serde_json::Value>,
    /// A header that reads `0` on a 403 when the quota is spent (GitHub's `x-ratelimit-remaining`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exhausted_header: Option<String>,
    /// Where the answer says how many seconds to wait, when not in `Retry-After` (Telegram's `parameters.retry_after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Placeholder {
    pub label: String,
    pub pattern: String,
    /// The end user gives this value when connecting (the `params` of a connect flow, e.g. a
    /// Shopify shop), unless the integration fixes it. Without it, only the operator's
    /// integration settings or the `default` set the value: it may name where the client
    /// secret is sent (a self-managed host), so no caller may choose it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_account: bool,
    /// `"url"`: the value is a whole URL, which must be https (http only where the operator
    /// allows private networks). Never `per_account`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<PlaceholderFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PlaceholderFormat {
    Url,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with client id and secret (RFC 6749 2.3.1's must-support).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the request body.
    Post,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum BodyKind {
    #[default]
    None,
    Form,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    pub authorization_url: String,
    pub token_url: String,
    /// The provider's documentation of its OAuth endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_url: Option<String>,
    /// Extra parameters of the code exchange (templates; one that renders empty is left out),
    /// e.g. Shopify's `expiring = "1"` for expiring offline tokens.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub token_params: BTreeMap<String, String>,
    #[serde(default)]
    pub client_auth: ClientAuth,
    #[serde(default = "form_body")]
    pub token_request_body: BodyKind,
    #[serde(default)]
    pub pkce: bool,
    #[serde(default = "space")]
    pub scope_separator: String,
    #[serde(default = "scope_param")]
    pub scope_param: String,
    #[serde(default)]
    pub default_scopes: Vec<String>,
    #[serde(default)]
    pub optional_scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorize_params: BTreeMap<String, String>,
    #[serde(default)]
    pub refresh: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_s: Option<u64>,
    #[serde(default)]
    pub error_in_ok_false: bool,
    #[serde(default)]
    pub token_fields: TokenFields,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub token_metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<RequestSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke: Option<RequestSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<RequestSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthApply>,
    /// The authorization server's issuer identifier, checked against `iss` on the callback (RFC 9207).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The server always sends `iss` on its authorization responses (its metadata's
    /// `authorization_response_iss_parameter_supported`): a callback without it is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authorization_response_iss_parameter_supported: bool,
    /// A refresh endpoint other than `token_url` (Figma).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_url: Option<String>,
    /// Extra secrets in the token answer to keep with the tokens, `name = path` (Slack's user token).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub token_extra: BTreeMap<String, String>,
    /// Callback query parameters to record as metadata, `name = parameter` (QuickBooks' `realmId`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub callback_metadata: BTreeMap<String, String>,
    /// Per-account placeholder values the provider names on the callback (Zoho's data centre in
    /// `accounts-server`): `name = { param, pattern }`, the pattern's first group being the value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub callback_placeholders: BTreeMap<String, CallbackPlaceholder>,
    /// A signature over the callback query to verify before anything else (Shopify).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_signature: Option<CallbackSignature>,
}

/// Where a callback carries a placeholder's value.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackPlaceholder {
    /// The callback query parameter.
    pub param: String,
    /// An anchored regex over the parameter; its first capture group is the value.
    pub pattern: String,
}

/// How a provider signs the callback query.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CallbackSignature {
    /// `hmac` = hex HMAC-SHA256, keyed with the client secret, over the other parameters sorted and joined as `k=v&…`.
    ShopifyHmac,
}

fn form_body() -> BodyKind {
    BodyKind::Form
}
fn space() -> String {
    " ".to_owned()
}
fn scope_param() -> String {
    "scope".to_owned()
}

/// Where the tokens sit in the token answer (paths).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenFields {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: String,
    pub scope: String,
    pub token_type: String,
}

impl Default for TokenFields {
    fn default() -> Self {
        Self {
            access_token: "access_token".into(),
            refresh_token: "refresh_token".into(),
            expires_in: "expires_in".into(),
            scope: "scope".into(),
            token_type: "token_type".into(),
        }
    }
}

/// The non-OAuth ways to connect. Order is the order the catalog lists them.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum CredentialMode {
    ApiKey,
    Basic,
    BotToken,
    ServiceAccount,
    Smtp,
    Webhook,
}

impl CredentialMode {
    pub const ALL: [CredentialMode; 6] =
        [Self::ApiKey, Self::Basic, Self::BotToken, Self::ServiceAccount, Self::Smtp, Self::Webhook];

    /// The modes' names, in [`Self::ALL`]'s order.
    pub const NAMES: [&'static str; 6] = {
        let mut names = [""; 6];
        let mut i = 0;
        while i < names.len() {
            names[i] = Self::ALL[i].as_str();
            i += 1;
        }
        names
    };

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::Basic => "basic",
            Self::BotToken => "bot_token",
            Self::ServiceAccount => "service_account",
            Self::Smtp => "smtp",
            Self::Webhook => "webhook",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSpec {
    pub label: String,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthApply>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<RequestSpec>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FieldFormat {
    #[default]
    Text,
    Url,
    Email,
    Json,
    Integer,
    Enum,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    pub label: String,
    pub secret: bool,
    #[serde(default = "yes")]
    pub required: bool,
    /// Strip surrounding whitespace from pasted values (default); off where spaces matter.
    #[serde(default = "yes")]
    pub trim: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default)]
    pub format: FieldFormat,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

fn yes() -> bool {
    true
}

/// How credentials are applied to a request.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthApply {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicApply>,
    /// Put between the base URL and every relative path (Telegram's `/bot{bot_token}`): the
    /// credential is part of the URL, so catalog paths and proxied paths leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicApply {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RequestAuth {
    /// The mode's `auth` (for OAuth: the bearer access token).
    #[default]
    Default,
    ClientBasic,
    Bearer,
    None,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    Smtp,
    ServiceAccount,
}

/// A templated HTTP request, and how to read identity from its answer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TestKind>,
    /// The provider's documentation of this endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_url: Option<String>,
    /// The request runs only when this field has a value (optional test paths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_if: Option<String>,
    #[serde(default = "get")]
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    #[serde(default)]
    pub body: BodyKind,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, serde_json::Value>,
    /// Instead of `params`, the whole JSON body as one typed template: `"{input.payload}"` sends
    /// an input object as it is (a webhook's payload). Actions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<serde_json::Value>,
    #[serde(default)]
    pub auth: RequestAuth,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_statuses: Option<Vec<u16>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

fn get() -> String {
    "GET".to_owned()
}

impl Default for RequestSpec {
    fn default() -> Self {
        Self {
            kind: None,
            docs_url: None,
            only_if: None,
            method: get(),
            path: None,
            url: None,
            headers: BTreeMap::new(),
            query: BTreeMap::new(),
            body: BodyKind::None,
            params: BTreeMap::new(),
            document: None,
            auth: RequestAuth::default(),
            ok_field: None,
            invalid_statuses: None,
            id: None,
            name: None,
            email: None,
            metadata: BTreeMap::new(),
        }
    }
}

impl RequestSpec {
    /// Statuses that mean "the credentials are wrong".
    #[must_use]
    pub fn invalid_statuses(&self) -> &[u16] {
        self.invalid_statuses.as_deref().unwrap_or(&[401, 403])
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookScheme {
    Stripe,
    Github,
    Slack,
    Shopify,
    Meta,
    Twilio,
    Discord,
    StandardWebhooks,
    MicrosoftGraph,
    Trello,
    Generic,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Webhooks {
    pub scheme: WebhookScheme,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_url: Option<String>,
}

/// Allowed category names.
pub const CATEGORIES: &[&str] = &[
    "ai",
    "accounting",
    "analytics",
    "automation",
    "calendar",
    "communication",
    "crm",
    "databases",
    "design",
    "developer-tools",
    "documents",
    "e-commerce",
    "email",
    "forms",
    "hr",
    "marketing",
    "payments",
    "productivity",
    "project-management",
    "sms",
    "social",
    "spreadsheets",
    "storage",
    "support",
    "video",
    "other",
];

/// A string or a list of strings, as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}
