//! The MCP server's tools, per principal: one tool per action of each usable connection the
//! caller may use (named `{provider}__{action}`, `{provider}_2__{action}` for a second account of
//! the same provider, in the order the connections were made), and `list_resources`, `resolve`
//! and `connect`. A tool call is an action run through `run_action` (checked, audited, metered,
//! idempotent with `idempotency_key`); what goes wrong comes back as a [`ToolFailure`] for the
//! transport to answer as a tool result with `isError`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use switchboard_core::access::Principal;

use crate::services::browser::ConnectLink;
use crate::services::credentials::connections::{Connection, status};
use crate::services::using::resources::{ListRequest, Resolution, ResolveStep};
use crate::services::{ServiceError, ServiceResult, Services};
use crate::store::Page;

/// The longest tool name the MCP specification allows.
pub const MAX_TOOL_NAME: usize = 128;

/// The argument every action tool takes besides the action's own input.
pub const IDEMPOTENCY_ARG: &str = "idempotency_key";

const LIST_RESOURCES: &str = "list_resources";
const RESOLVE: &str = "resolve";
const CONNECT: &str = "connect";

/// One tool as listed.
#[derive(Debug, Clone)]
pub struct McpTool {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Shared: a listed page clones it, the catalogue keeps it.
    pub input_schema: Arc<Map<String, Value>>,
    pub read_only: bool,
    pub idempotent: bool,
}

/// What a tool name stands for.
#[derive(Debug, Clone)]
enum Target {
    Action { connection: String, action: String },
    ListResources,
    Resolve,
    Connect,
}

/// The tools of one principal, in a stable order, with what each name stands for.
#[derive(Debug, Default)]
pub struct Catalogue {
    pub tools: Vec<McpTool>,
    targets: BTreeMap<String, Target>,
    /// The tool-name prefix of each listed connection (`google_sheets_2`), to its id.
    prefixes: BTreeMap<String, String>,
    /// Providers (by tool-name prefix, `google_sheets`) the user has a connection of, usable or not.
    connected: BTreeMap<String, bool>,
}

/// Why a tool call did not do what was asked: the service's error (its message says what to
/// change), and for a provider the user has not connected (or must reconnect), a link for them.
#[derive(Debug)]
pub struct ToolFailure {
    pub error: ServiceError,
    pub provider: Option<String>,
    pub connect: Option<ConnectLink>,
}

impl From<ServiceError> for ToolFailure {
    fn from(error: ServiceError) -> Self {
        Self { error, provider: None, connect: None }
    }
}

/// A call whose tool name is not one of this principal's tools, nor of a provider of the catalog.
#[derive(Debug)]
pub struct UnknownTool(pub String);

/// A provider id as tool names spell it: `google-sheets` → `google_sheets`.
fn name_part(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c } else { '_' }).collect()
}

/// Whether `name` is a valid MCP tool name: 1–128 of `[A-Za-z0-9_.-]`.
#[must_use]
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOOL_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn usable(c: &Connection) -> bool {
    !matches!(c.status.as_str(), status::NEEDS_REAUTH | status::ERROR | status::REVOKED)
}

fn account_words(c: &Connection) -> String {
    match (c.account_name.as_deref(), c.account_email.as_deref()) {
        (Some(n), Some(e)) if n != e => format!("{n} <{e}>"),
        (Some(n), _) => n.to_owned(),
        (None, Some(e)) => e.to_owned(),
        (None, None) => c.account_id.clone().unwrap_or_else(|| "unnamed account".into()),
    }
}

fn object_schema(properties: Value, required: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("object"));
    m.insert("properties".into(), properties);
    m.insert("required".into(), json!(required));
    m.insert("additionalProperties".into(), json!(false));
    m
}

fn connection_arg(prefixes: &BTreeMap<String, String>) -> Value {
    let known: Vec<&str> = prefixes.keys().map(String::as_str).collect();
    json!({
        "type": "string",
        "minLength": 1,
        "description": format!(
            "the connection: its id, or the prefix of its tools' names ({})",
            if known.is_empty() { "none yet".to_owned() } else { known.join(", ") }
        ),
    })
}

fn parents_arg() -> Value {
    json!({
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "the ids of the kind's parents, by parent kind (e.g. {\"spreadsheet\": \"1Bxi…\"} for a sheet)",
    })
}

impl Services {
    /// The tools `actor` (a session: one org, user and role) can use.
    /// The tools of `actor`, built at most once per access cache time (and again at once after a
    /// connection changes on this instance). A call still goes through `run_action`, which checks
    /// the connection afresh, so a tool listed a moment ago cannot act for a connection since
    /// deleted or made private.
    pub async fn mcp_catalogue(&self, actor: &Principal) -> ServiceResult<Arc<Catalogue>> {
        let key = match actor {
            Principal::Session { org, user, role } => format!("{org}\u{0}{user}\u{0}{}", role.as_str()),
            _ => return Ok(Arc::new(self.build_mcp_catalogue(actor).await?)),
        };
        let now = self.clock.now().millis();
        if let Some(cat) = self.mcp_catalogues.get(&key, now) {
            return Ok(cat);
        }
        let cat = Arc::new(self.build_mcp_catalogue(actor).await?);
        self.mcp_catalogues.put(&key, cat.clone(), now, None);
        Ok(cat)
    }

    async fn build_mcp_catalogue(&self, actor: &Principal) -> ServiceResult<Catalogue> {
        let connections = self.list_connections(actor, None, None, None, Page { after: None, limit: 500 }).await?;
        let mut cat = Catalogue::default();
        let mut per_provider: BTreeMap<String, usize> = BTreeMap::new();
        let mut sections = Vec::new();
        for c in &connections {
            let base = name_part(&c.provider);
            let ok = usable(c);
            let seen = cat.connected.entry(base.clone()).or_insert(false);
            *seen |= ok;
            if !ok {
                continue;
            }
            let Ok(actions) = self.actions_of(c) else { continue };
            let n = per_provider.entry(base.clone()).or_insert(0);
            *n += 1;
            let prefix = if *n == 1 { base } else { format!("{base}_{n}") };
            let provider_name = self.catalog.get(&c.provider).map_or_else(|| c.provider.clone(), |p| p.name.clone());
            let account = account_words(c);
            cat.prefixes.insert(prefix.clone(), c.id.clone());
            sections.push(format!("{prefix}: {provider_name} \"{}\" ({account}), connection {}", c.label, c.id));
            for a in actions {
                let name = format!("{prefix}__{}", name_part(&a.name));
                if !valid_tool_name(&name) || cat.targets.contains_key(&name) {
                    tracing::warn!(tool = %name, "an action's tool name is not a valid MCP tool name; left out");
                    continue;
                }
                let mut description = format!(
                    "{}\n\nRuns as the {provider_name} account \"{}\" ({account}), connection {}.",
                    a.description.trim_end(),
                    c.label,
                    c.id
                );
                if !a.missing_scopes.is_empty() {
                    description.push_str(&format!(
                        " This account lacks a scope it needs ({}); the user must reconnect it with more access.",
                        a.missing_scopes.join(" or ")
                    ));
                }
                description.push_str(
                    " Pass idempotency_key to make a retry answer the first run's result instead of running again.",
                );
                cat.tools.push(McpTool {
                    name: name.clone(),
                    title: format!("{} ({provider_name}: {})", a.title, c.label),
                    description,
                    input_schema: Arc::new(action_schema(a.input_schema)),
                    read_only: false,
                    idempotent: a.retry_safe,
                });
                cat.targets.insert(name, Target::Action { connection: c.id.clone(), action: a.name });
            }
        }
        let accounts = if sections.is_empty() { "none".to_owned() } else { sections.join("; ") };
        let kinds = |what: &str| format!("{what} Connections (prefix: provider, label, account, id): {accounts}.");
        cat.tools.push(McpTool {
            name: LIST_RESOURCES.into(),
            title: "List resources".into(),
            description: kinds(
                "Lists one page of a connection's items of a kind (spreadsheets, sheets, channels, …): ids and names, with next_cursor for the next page. q filters by name.",
            ),
            input_schema: Arc::new(object_schema(
                json!({
                    "connection": connection_arg(&cat.prefixes),
                    "kind": {"type": "string", "minLength": 1, "description": "the resource kind, e.g. spreadsheet, sheet, channel"},
                    "parents": parents_arg(),
                    "q": {"type": "string", "description": "only items whose name contains this"},
                    "cursor": {"type": "string", "description": "next_cursor of the previous page"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "items per page"},
                }),
                &["connection", "kind"],
            )),
            read_only: true,
            idempotent: true,
        });
        cat.tools.push(McpTool {
            name: RESOLVE.into(),
            title: "Resolve a resource name".into(),
            description: kinds(
                "Finds the item of a kind a name (or an id, or the provider's URL of it) means: found, ambiguous with candidates, or not_found with the closest names.",
            ),
            input_schema: Arc::new(object_schema(
                json!({
                    "connection": connection_arg(&cat.prefixes),
                    "kind": {"type": "string", "minLength": 1, "description": "the resource kind, e.g. spreadsheet, sheet, channel"},
                    "name": {"type": "string", "minLength": 1, "description": "the item's name, id or URL"},
                    "parents": parents_arg(),
                }),
                &["connection", "kind", "name"],
            )),
            read_only: true,
            idempotent: true,
        });
        let mut providers: Vec<&str> = self.catalog.iter().map(|p| p.id.as_str()).collect();
        providers.sort_unstable();
        cat.tools.push(McpTool {
            name: CONNECT.into(),
            title: "Connect an account".into(),
            description: format!(
                "Answers a link (connect_url, single use, valid for a few minutes) that the user opens to connect an account of a provider; give it to the user. Providers: {}.",
                providers.join(", ")
            ),
            input_schema: Arc::new(object_schema(
                json!({"provider": {"type": "string", "minLength": 1, "description": "a provider id, e.g. slack, google-sheets"}}),
                &["provider"],
            )),
            read_only: true,
            idempotent: false,
        });
        for t in [LIST_RESOURCES, RESOLVE, CONNECT] {
            cat.targets.insert(
                t.into(),
                match t {
                    LIST_RESOURCES => Target::ListResources,
                    RESOLVE => Target::Resolve,
                    _ => Target::Connect,
                },
            );
        }
        Ok(cat)
    }

    /// Calls tool `name` as `actor`, whose session token is `token` (for connect links).
    pub async fn mcp_call(
        &self,
        actor: &Principal,
        token: &str,
        name: &str,
        mut args: Map<String, Value>,
    ) -> Result<Result<Value, ToolFailure>, UnknownTool> {
        let cat = match self.mcp_catalogue(actor).await {
            Ok(cat) => cat,
            Err(e) => return Ok(Err(e.into())),
        };
        let Some(target) = cat.targets.get(name).cloned() else {
            return match self.not_connected(&cat, token, name).await {
                Some(failure) => Ok(Err(failure)),
                None => Err(UnknownTool(name.to_owned())),
            };
        };
        Ok(match target {
            Target::Action { connection, action } => {
                let key = match args.remove(IDEMPOTENCY_ARG) {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s),
                    Some(_) => {
                        return Ok(Err(
                            ServiceError::invalid(IDEMPOTENCY_ARG, "idempotency_key must be a string").into()
                        ));
                    }
                };
                match self.run_action(actor, &connection, &action, args, key.as_deref()).await {
                    Ok(run) => {
                        let mut out = json!({"output": run.output});
                        if run.replayed {
                            out["replayed"] = json!(true);
                        }
                        Ok(out)
                    }
                    Err(error @ ServiceError::NeedsReauth(_)) => {
                        let provider = self.connection_provider(actor, &connection).await;
                        let connect = match &provider {
                            Some(p) => self.connect_link_for_token(token, Some(p)).await.ok(),
                            None => None,
                        };
                        Err(ToolFailure { error, provider, connect })
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Target::ListResources => self.mcp_list_resources(actor, &cat, &args).await.map_err(Into::into),
            Target::Resolve => self.mcp_resolve(actor, &cat, &args).await.map_err(Into::into),
            Target::Connect => self.mcp_connect(token, &args).await.map_err(Into::into),
        })
    }

    async fn connection_provider(&self, actor: &Principal, id: &str) -> Option<String> {
        self.list_connections(actor, None, None, None, Page { after: None, limit: 500 })
            .await
            .ok()?
            .into_iter()
            .find(|c| c.id == id)
            .map(|c| c.provider)
    }

    /// For a tool name of a catalog provider (`slack__post_message`) the user has no usable
    /// connection of: a failure with a link to connect one.
    async fn not_connected(&self, cat: &Catalogue, token: &str, name: &str) -> Option<ToolFailure> {
        let (prefix, _action) = name.split_once("__")?;
        let provider = self.catalog.iter().find(|p| {
            let base = name_part(&p.id);
            prefix == base
                || prefix
                    .strip_prefix(&base)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })?;
        let base = name_part(&provider.id);
        let message = match cat.connected.get(&base) {
            Some(false) => format!(
                "the user's {} account cannot be used now (it needs reconnecting); give the user connect_url to connect it again, then list the tools again",
                provider.name
            ),
            Some(true) => format!(
                "there is no tool {name:?}: list the tools again to see the {} accounts' tools and their names",
                provider.name
            ),
            None => format!(
                "the user has not connected a {} account; give the user connect_url to connect one, then list the tools again",
                provider.name
            ),
        };
        let connect = match cat.connected.get(&base) {
            Some(true) => None,
            _ => self.connect_link_for_token(token, Some(&provider.id)).await.ok(),
        };
        let error = ServiceError::NotFound(message);
        Some(ToolFailure { error, provider: Some(provider.id.clone()), connect })
    }

    async fn mcp_connect(&self, token: &str, args: &Map<String, Value>) -> ServiceResult<Value> {
        let provider = str_arg(args, "provider")?;
        if self.catalog.get(provider).is_none() {
            let mut known: Vec<&str> = self.catalog.iter().map(|p| p.id.as_str()).collect();
            known.sort_unstable();
            return Err(ServiceError::invalid(
                "provider",
                format!(
                    "{:?} is not a provider of this server; use one of: {}",
                    switchboard_core::ids::truncate_for_message(provider),
                    known.join(", ")
                ),
            ));
        }
        let link = self.connect_link_for_token(token, Some(provider)).await?;
        Ok(json!({
            "provider": provider,
            "connect_url": link.url.as_str(),
            "expires_at": link.expires_at.millis(),
            "message": "give this link to the user: it opens the integrations page on this provider, once, for a few minutes; list the tools again once they have connected",
        }))
    }

    async fn mcp_list_resources(
        &self,
        actor: &Principal,
        cat: &Catalogue,
        args: &Map<String, Value>,
    ) -> ServiceResult<Value> {
        check_args(args, &["connection", "kind", "parents", "q", "cursor", "limit"])?;
        let connection = cat.connection_of(str_arg(args, "connection")?);
        let limit = match args.get("limit") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| ServiceError::invalid("limit", "limit must be a positive integer"))?,
            ),
        };
        let req = ListRequest {
            kind: str_arg(args, "kind")?.to_owned(),
            parents: parents_of(args)?,
            q: opt_str(args, "q")?,
            cursor: opt_str(args, "cursor")?,
            limit,
            fresh: false,
        };
        let listing = self.list_resources(actor, &connection, req).await?;
        let items: Value = serde_json::from_str(listing.items.get()).unwrap_or(Value::Array(Vec::new()));
        let mut out = json!({"items": items, "next_cursor": listing.next_cursor});
        if listing.stale {
            out["stale"] = json!(true);
            out["provider_error"] = json!(listing.provider_error);
        }
        Ok(out)
    }

    async fn mcp_resolve(&self, actor: &Principal, cat: &Catalogue, args: &Map<String, Value>) -> ServiceResult<Value> {
        check_args(args, &["connection", "kind", "name", "parents"])?;
        let connection = cat.connection_of(str_arg(args, "connection")?);
        let step = ResolveStep {
            kind: str_arg(args, "kind")?.to_owned(),
            name: str_arg(args, "name")?.to_owned(),
            parents: parents_of(args)?,
        };
        let resolved = self.resolve(actor, &connection, vec![step]).await?;
        let items = |v: Vec<switchboard_core::resources::Item>| serde_json::to_value(v).unwrap_or(Value::Null);
        Ok(match resolved.resolution {
            Resolution::Found(found) => {
                json!({"status": "found", "items": items(found), "truncated": resolved.truncated})
            }
            Resolution::Ambiguous { candidates, .. } => json!({
                "status": "ambiguous", "candidates": items(candidates), "truncated": resolved.truncated,
                "message": "several items have this name: use one of the candidates' ids",
            }),
            Resolution::NotFound { suggestions, .. } => json!({
                "status": "not_found", "suggestions": items(suggestions), "truncated": resolved.truncated,
                "message": "no item has this name; the suggestions are the closest names",
            }),
        })
    }
}

impl Catalogue {
    /// A connection given by id or by its tools' prefix.
    fn connection_of(&self, given: &str) -> String {
        self.prefixes.get(given).cloned().unwrap_or_else(|| given.to_owned())
    }
}

/// An action's input schema as a tool's: an object schema with `idempotency_key` added.
fn action_schema(schema: Value) -> Map<String, Value> {
    let mut m = match schema {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert("type".into(), json!("object"));
    let props = m.entry("properties").or_insert_with(|| json!({}));
    if let Some(p) = props.as_object_mut() {
        p.insert(
            IDEMPOTENCY_ARG.into(),
            json!({
                "type": "string", "minLength": 1, "maxLength": 255,
                "description": "optional: a key for this run; a repeat with the same key and input answers the first run's result without running again",
            }),
        );
    }
    m
}

fn check_args(args: &Map<String, Value>, known: &[&str]) -> ServiceResult<()> {
    match args.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => {
            Err(ServiceError::invalid(k, format!("unknown argument {k:?}; this tool takes {}", known.join(", "))))
        }
        None => Ok(()),
    }
}

fn str_arg<'a>(args: &'a Map<String, Value>, name: &str) -> ServiceResult<&'a str> {
    match args.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(ServiceError::invalid(name, format!("{name} must be a non-empty string"))),
        None => Err(ServiceError::invalid(name, format!("{name} is required"))),
    }
}

fn opt_str(args: &Map<String, Value>, name: &str) -> ServiceResult<Option<String>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ServiceError::invalid(name, format!("{name} must be a string"))),
    }
}

fn parents_of(args: &Map<String, Value>) -> ServiceResult<BTreeMap<String, String>> {
    match args.get("parents") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(ServiceError::invalid("parents", format!("parents.{k} must be a string id"))),
            })
            .collect(),
        Some(_) => Err(ServiceError::invalid("parents", "parents must be an object of ids by parent kind")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_follow_the_specification() {
        assert!(valid_tool_name("google_sheets_2__append_row"));
        assert!(valid_tool_name("a.b-c"));
        assert!(!valid_tool_name(""));
        assert!(!valid_tool_name("has space"));
        assert!(!valid_tool_name(&"x".repeat(129)));
        assert_eq!(name_part("microsoft-teams"), "microsoft_teams");
    }

    #[test]
    fn action_schemas_take_an_idempotency_key() {
        let s = action_schema(
            json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"], "additionalProperties": false}),
        );
        assert_eq!(s["properties"][IDEMPOTENCY_ARG]["type"], "string");
        assert_eq!(s["required"], json!(["text"]));
    }
}
