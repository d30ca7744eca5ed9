//! `GET /v1/context`: the connections one user may use, each with its account, its actions (input
//! schemas, resource-bound inputs marked) and its resource kinds — optionally with the names of the
//! items of each top-level kind — as JSON or compact Markdown for a prompt, within a byte budget the
//! caller gives. What does not fit is left out in a fixed order, and the answer says what.

use serde::Serialize;
use serde_json::Value;
use switchboard_core::access::Principal;

use super::user_view;
use crate::services::credentials::connections::{Connection, status};
use crate::services::using::resources::ListRequest;
use crate::services::{ServiceError, ServiceResult, Services};
use crate::store::Page;

/// What the caller asks for.
#[derive(Debug, Clone)]
pub struct ContextRequest {
    pub org: Option<String>,
    pub user: Option<String>,
    /// Add item names per top-level kind.
    pub resources: bool,
    /// Names per kind, 1–50.
    pub limit: u32,
    /// The answer's size bound in bytes (as JSON, or as Markdown text).
    pub max_bytes: usize,
    pub markdown: bool,
}

pub const DEFAULT_MAX_BYTES: usize = 64 * 1024;
pub const MAX_MAX_BYTES: usize = 1024 * 1024;
pub const MIN_MAX_BYTES: usize = 512;

#[derive(Debug, Clone, Serialize)]
pub struct ContextAccount {
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContextAction {
    pub name: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    /// Inputs that take a resource (a name, id or URL of an item of the kind), by property.
    pub resource_inputs: std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_scopes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContextItem {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContextKind {
    pub kind: String,
    pub label: String,
    pub parents: Vec<String>,
    pub searchable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ContextItem>>,
    /// More items exist than are listed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
    /// Why the items could not be listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContextConnection {
    pub id: String,
    pub provider: String,
    pub provider_name: String,
    pub label: String,
    pub account: ContextAccount,
    pub status: String,
    pub usable: bool,
    /// Why an unusable connection cannot be used, and who must act.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unusable_reason: Option<String>,
    pub actions: Vec<ContextAction>,
    pub kinds: Vec<ContextKind>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub org: String,
    pub user: String,
    pub connections: Vec<ContextConnection>,
    /// What was left out to stay within `max_bytes`, in the order it was dropped.
    pub omitted: Vec<String>,
}

/// Why a connection cannot be used, in words a model can pass on.
fn unusable(c: &Connection) -> Option<String> {
    let error = c.last_error.as_deref().map(|e| format!(" (last error: {e})")).unwrap_or_default();
    match c.status.as_str() {
        status::NEEDS_REAUTH => Some(format!(
            "needs_reauth: the provider no longer accepts it{error}; the user must reconnect it on the integrations page"
        )),
        status::ERROR => Some(format!(
            "error: token refreshes keep failing{error}; it may recover by itself, else the user must reconnect it"
        )),
        status::REVOKED => {
            Some(format!("revoked: access was withdrawn{error}; the user must connect the account again"))
        }
        _ => None,
    }
}

impl Services {
    /// The context of one user's connections.
    pub async fn context(&self, actor: &Principal, req: &ContextRequest) -> ServiceResult<(Context, String)> {
        let view = user_view(actor, req.org.as_deref(), req.user.as_deref())?;
        let Principal::Session { org, user, .. } = &view else {
            return Err(ServiceError::Internal("a user view is a session".into()));
        };
        let connections = self.list_connections(&view, None, None, None, Page { after: None, limit: 500 }).await?;
        let mut out = Vec::with_capacity(connections.len());
        for c in &connections {
            out.push(self.context_connection(&view, c, req).await);
        }
        let mut ctx = Context { org: org.to_string(), user: user.to_string(), connections: out, omitted: Vec::new() };
        let text = fit(&mut ctx, req);
        Ok((ctx, text))
    }

    async fn context_connection(&self, view: &Principal, c: &Connection, req: &ContextRequest) -> ContextConnection {
        let provider = self.catalog.get(&c.provider).cloned();
        let provider_name = provider.as_ref().map_or_else(|| c.provider.clone(), |p| p.name.clone());
        let reason = unusable(c);
        let actions = match self.actions_of(c) {
            Ok(list) => list
                .into_iter()
                .map(|a| {
                    let resource_inputs = provider
                        .as_ref()
                        .and_then(|p| {
                            p.actions
                                .iter()
                                .find(|(k, x)| x.exposed(k) == a.name && x.serves(&c.auth_mode))
                                .map(|(_, x)| (p, x))
                        })
                        .map(|(p, x)| x.bound_inputs(&p.resources).into_iter().collect())
                        .unwrap_or_default();
                    ContextAction {
                        name: a.name,
                        title: a.title,
                        description: Some(a.description),
                        input_schema: Some(a.input_schema),
                        resource_inputs,
                        missing_scopes: a.missing_scopes,
                    }
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let mut kinds: Vec<ContextKind> = match self.kinds_of(c) {
            Ok(list) => list
                .into_iter()
                .map(|k| ContextKind {
                    kind: k.kind,
                    label: k.label,
                    parents: k.parents,
                    searchable: k.searchable,
                    items: None,
                    more: false,
                    items_error: None,
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        if req.resources && reason.is_none() {
            for k in kinds.iter_mut().filter(|k| k.parents.is_empty()) {
                let asked = ListRequest {
                    kind: k.kind.clone(),
                    parents: std::collections::BTreeMap::new(),
                    q: None,
                    cursor: None,
                    limit: Some(req.limit),
                    fresh: false,
                };
                match self.list_resources(view, &c.id, asked).await {
                    Ok(listing) => {
                        let items: Vec<Value> = serde_json::from_str(listing.items.get()).unwrap_or_default();
                        k.items = Some(
                            items
                                .iter()
                                .filter_map(|i| {
                                    Some(ContextItem {
                                        id: i.get("id")?.as_str()?.to_owned(),
                                        name: i.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                                    })
                                })
                                .collect(),
                        );
                        k.more = listing.next_cursor.is_some();
                    }
                    Err(e) => k.items_error = Some(e.to_string()),
                }
            }
        }
        ContextConnection {
            id: c.id.clone(),
            provider: c.provider.clone(),
            provider_name,
            label: c.label.clone(),
            account: ContextAccount {
                id: c.account_id.clone(),
                name: c.account_name.clone(),
                email: c.account_email.clone(),
            },
            status: c.status.clone(),
            usable: reason.is_none(),
            unusable_reason: reason,
            actions,
            kinds,
        }
    }
}

/// One way of making a context smaller.
type Shrink = fn(&mut Context);

/// Renders the context and, while it is over the budget, leaves things out: item names, then
/// input schemas, then descriptions, then whole connections from the end (unusable ones first).
/// Returns the text (JSON or Markdown) that fits.
fn fit(ctx: &mut Context, req: &ContextRequest) -> String {
    let render = |c: &Context| if req.markdown { markdown(c) } else { serde_json::to_string(c).unwrap_or_default() };
    let mut text = render(ctx);
    let steps: [(&str, Shrink); 3] = [
        ("resource item names", |c| {
            c.connections.iter_mut().flat_map(|x| x.kinds.iter_mut()).for_each(|k| {
                k.items = None;
                k.more = false;
            })
        }),
        ("action input schemas (GET /v1/connections/{id}/actions has them)", |c| {
            c.connections.iter_mut().flat_map(|x| x.actions.iter_mut()).for_each(|a| a.input_schema = None);
        }),
        ("action descriptions", |c| {
            c.connections.iter_mut().flat_map(|x| x.actions.iter_mut()).for_each(|a| a.description = None);
        }),
    ];
    for (what, drop) in steps {
        if text.len() <= req.max_bytes {
            return text;
        }
        drop(ctx);
        ctx.omitted.push(what.to_owned());
        text = render(ctx);
    }
    // Whole connections, unusable ones first, then from the end.
    ctx.connections.sort_by_key(|c| !c.usable);
    let mut dropped = 0;
    while text.len() > req.max_bytes && !ctx.connections.is_empty() {
        let idx = ctx.connections.iter().rposition(|c| !c.usable).unwrap_or(ctx.connections.len() - 1);
        ctx.connections.remove(idx);
        dropped += 1;
        ctx.omitted.retain(|o| !o.ends_with("connections"));
        ctx.omitted.push(format!("{dropped} connections"));
        text = render(ctx);
    }
    text
}

/// Compact text for a prompt: one block per connection, one line per action and kind.
#[must_use]
pub fn markdown(c: &Context) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "# Connections of user {} in org {}", c.user, c.org);
    for x in &c.connections {
        let account = x.account.name.as_deref().or(x.account.email.as_deref()).unwrap_or("");
        let _ = writeln!(s, "\n## {} — {} ({}) · connection `{}`", x.provider_name, x.label, account, x.id);
        match &x.unusable_reason {
            Some(r) => {
                let _ = writeln!(s, "UNUSABLE: {r}");
            }
            None => {
                let _ = writeln!(s, "status: {}", x.status);
            }
        }
        if !x.actions.is_empty() {
            let _ = writeln!(s, "actions:");
        }
        for a in &x.actions {
            let _ = write!(s, "- `{}`({})", a.name, signature(a));
            if let Some(d) = &a.description {
                let first = d.split(". ").next().unwrap_or(d).trim_end_matches('.');
                let _ = write!(s, " — {first}.");
            }
            if !a.missing_scopes.is_empty() {
                let _ = write!(s, " [missing scope: {}]", a.missing_scopes.join(" or "));
            }
            s.push('\n');
        }
        if !x.kinds.is_empty() {
            let _ = writeln!(s, "resources:");
        }
        for k in &x.kinds {
            let parents = if k.parents.is_empty() { String::new() } else { format!(" (in {})", k.parents.join(", ")) };
            let _ = write!(s, "- {}{parents}", k.kind);
            if let Some(items) = &k.items {
                let names: Vec<String> = items.iter().map(|i| format!("{:?} ({})", i.name, i.id)).collect();
                let _ = write!(s, ": {}{}", names.join(", "), if k.more { ", …" } else { "" });
            }
            if let Some(e) = &k.items_error {
                let _ = write!(s, ": could not list ({e})");
            }
            s.push('\n');
        }
    }
    if !c.omitted.is_empty() {
        let _ = writeln!(s, "\n(left out to fit the size limit: {})", c.omitted.join("; "));
    }
    s
}

/// `channel*: channel, text*, blocks` — required inputs starred, resource inputs with their kind.
fn signature(a: &ContextAction) -> String {
    let Some(schema) = &a.input_schema else {
        return a.resource_inputs.iter().map(|(p, k)| format!("{p}: {k}")).collect::<Vec<_>>().join(", ");
    };
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    // Required inputs first, in the schema's order; then the others.
    let props: Vec<&String> =
        schema.get("properties").and_then(Value::as_object).into_iter().flatten().map(|(p, _)| p).collect();
    let mut ordered: Vec<&String> =
        required.iter().filter_map(|r| props.iter().copied().find(|p| p.as_str() == *r)).collect();
    ordered.extend(props.iter().copied().filter(|p| !required.contains(&p.as_str())));
    ordered
        .into_iter()
        .map(|p| {
            let star = if required.contains(&p.as_str()) { "*" } else { "" };
            match a.resource_inputs.get(p) {
                Some(k) => format!("{p}{star}: {k}"),
                None => format!("{p}{star}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
