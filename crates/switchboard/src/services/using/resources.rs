//! Resource listings and name resolution: what a connection's account holds
//! (spreadsheets, a spreadsheet's sheets, channels…) page by page as the
//! catalog describes each kind, through the listing cache, and names, ids or
//! provider URLs resolved to items.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_core::access::Principal;
use switchboard_core::catalog::{Provider, RequestSpec, ResourceKind};
use switchboard_core::resources::{self as core_resources, Item, NameMatch, NextPage};

use super::cache::{Cached, Key};
use super::call::{Answer, Signer};
use crate::services::access_cache::ConnectionGate;
use crate::services::{ServiceError, ServiceResult, Services};
use crate::store::ConnectionRecord;

/// Items a listing answers when the caller gives no limit.
const DEFAULT_LIMIT: u32 = 50;

/// Who is listing, and the connection's access rules; its record when this request read it.
pub(super) struct Caller<'a> {
    pub(super) actor: &'a Principal,
    pub(super) gate: ConnectionGate,
    pub(super) read: Option<ConnectionRecord>,
}

/// One page of a listing, kept as the JSON array the API answers with: that is what the cache
/// holds (its bound counts these bytes) and what a cache hit copies out; resolve reads the items
/// back from it.
#[derive(Debug, Clone)]
pub struct Page {
    items: Box<RawValue>,
    pub next: Option<NextPage>,
}

impl Page {
    pub fn new(items: &[Item], next: Option<NextPage>) -> ServiceResult<Self> {
        let text = serde_json::to_string(items).map_err(|e| ServiceError::Internal(format!("a listing page: {e}")))?;
        let items = RawValue::from_string(text).map_err(|e| ServiceError::Internal(format!("a listing page: {e}")))?;
        Ok(Self { items, next })
    }

    /// The items, read back from the page's JSON.
    #[must_use]
    pub fn items(&self) -> Vec<Item> {
        serde_json::from_str(self.items.get()).unwrap_or_default()
    }

    /// The items as the API's JSON array.
    #[must_use]
    pub fn items_json(&self) -> &RawValue {
        &self.items
    }

    /// What the page costs in memory, for the cache's bound.
    #[must_use]
    pub fn approximate_bytes(&self) -> usize {
        let next = match &self.next {
            Some(NextPage::Cursor(c) | NextPage::Url(c)) => c.len(),
            _ => 0,
        };
        // The map node, the key's and the entry's own allocations: measured at about 300 bytes.
        self.items.get().len() + next + std::mem::size_of::<Self>() + 320
    }
}

/// A kind as a caller sees it.
#[derive(Debug, Clone)]
pub struct KindView {
    pub kind: String,
    pub label: String,
    pub parents: Vec<String>,
    pub searchable: bool,
    /// Scopes the connection lacks for this kind (any one of them would do).
    pub missing_scopes: Vec<String>,
}

/// What `GET …/resources/{kind}` asks for.
#[derive(Debug, Default, Clone)]
pub struct ListRequest {
    pub kind: String,
    pub parents: BTreeMap<String, String>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
    pub fresh: bool,
}

/// A page as answered.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The items, as the API's JSON array.
    pub items: Box<RawValue>,
    pub next_cursor: Option<String>,
    /// Served from the cache because the provider failed; `provider_error` says how.
    pub stale: bool,
    pub provider_error: Option<String>,
}

/// One step of a resolve: a kind, a name (or id, or URL), and its parents' ids.
#[derive(Debug, Clone)]
pub struct ResolveStep {
    pub kind: String,
    pub name: String,
    pub parents: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub enum Resolution {
    Found(Vec<Item>),
    Ambiguous { step: usize, candidates: Vec<Item> },
    NotFound { step: usize, suggestions: Vec<Item> },
}

/// A resolve's answer, and whether a step stopped at the scanning bound before seeing every item.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub resolution: Resolution,
    pub truncated: bool,
}

impl Services {
    pub(super) fn kind_of<'p>(
        &self,
        provider: &'p Provider,
        auth_mode: &str,
        kind: &str,
    ) -> ServiceResult<&'p ResourceKind> {
        provider.resources.get(kind).filter(|k| k.serves(auth_mode)).ok_or_else(|| {
            let known: Vec<&str> =
                provider.resources.iter().filter(|(_, k)| k.serves(auth_mode)).map(|(n, _)| n.as_str()).collect();
            ServiceError::not_found(if known.is_empty() {
                format!("this {} connection has no resource kinds to list", provider.name)
            } else {
                format!(
                    "this {} connection has no resource kind {kind:?}; it lists: {}",
                    provider.name,
                    known.join(", ")
                )
            })
        })
    }

    /// The kinds a connection can list.
    pub async fn resource_kinds(&self, actor: &Principal, id: &str) -> ServiceResult<Vec<KindView>> {
        let rec = self.visible_connection(actor, id).await?;
        let granted: Vec<String> = serde_json::from_str(&rec.scopes).unwrap_or_default();
        self.kind_views(&rec.provider, &rec.auth_mode, &granted)
    }

    /// The kinds of a connection already read (from a listing the caller may see).
    pub fn kinds_of(&self, c: &crate::services::credentials::connections::Connection) -> ServiceResult<Vec<KindView>> {
        self.kind_views(&c.provider, &c.auth_mode, &c.scopes)
    }

    fn kind_views(&self, provider: &str, auth_mode: &str, granted: &[String]) -> ServiceResult<Vec<KindView>> {
        let provider = self.provider(provider)?;
        Ok(provider
            .resources
            .iter()
            .filter(|(_, k)| k.serves(auth_mode))
            .map(|(name, k)| KindView {
                kind: name.clone(),
                label: k.label.clone(),
                parents: k.parents.clone(),
                searchable: k.search.is_some(),
                missing_scopes: missing_scopes(auth_mode, &k.scopes, granted),
            })
            .collect())
    }

    /// One page of a kind.
    pub async fn list_resources(&self, actor: &Principal, id: &str, req: ListRequest) -> ServiceResult<Listing> {
        let conn = self.connection_gate(actor, id).await?;
        let provider = self.provider(&conn.gate.provider)?;
        let kind = self.kind_of(&provider, &conn.gate.auth_mode, &req.kind)?;
        if let Some(unknown) = req.parents.keys().find(|k| !kind.parents.contains(k)) {
            return Err(ServiceError::invalid(
                unknown,
                if kind.parents.is_empty() {
                    format!("{} takes no parent; the query takes q, cursor, limit and fresh", kind.label)
                } else {
                    format!("{} takes the parents {}, and q, cursor, limit, fresh", kind.label, kind.parents.join(", "))
                },
            ));
        }
        check_parents(kind, &req.parents)?;
        let limit = req.limit.unwrap_or(DEFAULT_LIMIT).min(self.settings.listing_max_limit).min(kind.max_limit);
        if limit == 0 {
            return Err(ServiceError::invalid("limit", "limit must be at least 1"));
        }
        let cursor = match req.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => Some(NextPage::decode(c).ok_or_else(|| {
                ServiceError::invalid(
                    "cursor",
                    "cursor is not one this server handed out; pass a next_cursor unchanged",
                )
            })?),
            None => None,
        };
        let q = req.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let page = self
            .cached_page(&conn, &provider, &req.kind, kind, &req.parents, q, cursor.as_ref(), limit, req.fresh)
            .await?;
        Ok(Listing {
            items: page.0.items_json().to_owned(),
            next_cursor: page.0.next.as_ref().map(NextPage::encode),
            stale: page.1.is_some(),
            provider_error: page.1,
        })
    }

    /// A page through the cache: fresh from it, else from the provider (one call for all who
    /// ask at once), else — when the provider fails — the last good page, marked stale.
    #[allow(clippy::too_many_arguments)]
    async fn cached_page(
        &self,
        conn: &Caller<'_>,
        provider: &Arc<Provider>,
        kind_name: &str,
        kind: &ResourceKind,
        parents: &BTreeMap<String, String>,
        q: Option<&str>,
        cursor: Option<&NextPage>,
        limit: u32,
        fresh: bool,
    ) -> ServiceResult<(Arc<Page>, Option<String>)> {
        let key = Key {
            connection: conn.gate.id.clone(),
            kind: kind_name.to_owned(),
            selector: selector(parents, q, cursor, limit),
        };
        let fresh_for = Duration::from_secs(kind.cache_s);
        if !fresh && let Cached::Fresh(page) = self.listing_cache.get(&key, fresh_for) {
            self.metrics.observe_listing(&provider.id, kind_name, "cache_hit");
            return Ok((page, None));
        }
        let flight = self.listing_cache.flight(&key);
        let result = {
            let _turn = flight.lock().await;
            // Someone else may have fetched it while this caller waited its turn.
            match self.listing_cache.get(&key, fresh_for) {
                Cached::Fresh(page) if !fresh => {
                    self.metrics.observe_listing(&provider.id, kind_name, "cache_hit");
                    Ok((page, None))
                }
                _ => match self.fetch_listed(conn, kind, parents, q, cursor, limit).await {
                    Ok(page) => {
                        self.metrics.observe_listing(&provider.id, kind_name, "provider_call");
                        let page = Arc::new(page);
                        self.listing_cache.put(key.clone(), page.clone());
                        Ok((page, None))
                    }
                    Err(
                        e @ (ServiceError::RateLimited { .. }
                        | ServiceError::Provider(_)
                        | ServiceError::Unavailable(_)),
                    ) => match self.listing_cache.get(&key, fresh_for) {
                        Cached::Fresh(page) | Cached::Stale(page) => {
                            self.metrics.observe_listing(&provider.id, kind_name, "stale");
                            Ok((page, Some(e.to_string())))
                        }
                        Cached::Missing => {
                            self.metrics.observe_listing(&provider.id, kind_name, "error");
                            Err(e)
                        }
                    },
                    Err(e) => {
                        self.metrics.observe_listing(&provider.id, kind_name, "error");
                        Err(e)
                    }
                },
            }
        };
        drop(flight);
        self.listing_cache.land(&key);
        result
    }

    /// A page from the provider, as the connection's record.
    pub(super) async fn fetch_listed(
        &self,
        conn: &Caller<'_>,
        kind: &ResourceKind,
        parents: &BTreeMap<String, String>,
        q: Option<&str>,
        cursor: Option<&NextPage>,
        limit: u32,
    ) -> ServiceResult<Page> {
        let rec = self.record_of(conn).await?;
        self.fetch_page(rec, kind, parents, q, cursor, limit).await
    }

    /// Who may see the connection: from the access cache, else read (and remembered, and kept
    /// for this request so a provider call need not read it again).
    pub(super) async fn connection_gate<'a>(&self, actor: &'a Principal, id: &str) -> ServiceResult<Caller<'a>> {
        let now = self.clock.now().millis();
        if let Some(gate) = self.connection_gates.get(id, now).filter(|g| g.admits(actor)) {
            return Ok(Caller { actor, gate, read: None });
        }
        let rec = self.visible_connection(actor, id).await?;
        let gate = ConnectionGate::from(&rec);
        self.connection_gates.put(id, gate.clone(), now, None);
        self.connection_records.put(id, rec.clone(), now, None);
        Ok(Caller { actor, gate, read: Some(rec) })
    }

    /// The connection's record for a provider call: the one this request read, else one read
    /// within the access cache time, else read now. A record a little stale is safe to sign
    /// with: a refresh re-reads the row under its lease, and a token another instance replaced
    /// meets a 401 that fetches the current one.
    pub(super) async fn record_of(&self, conn: &Caller<'_>) -> ServiceResult<ConnectionRecord> {
        if let Some(rec) = &conn.read {
            return Ok(rec.clone());
        }
        let now = self.clock.now().millis();
        if let Some(rec) = self.connection_records.get(&conn.gate.id, now) {
            return Ok(rec);
        }
        let rec = self.visible_connection(conn.actor, &conn.gate.id).await?;
        self.connection_records.put(&conn.gate.id, rec.clone(), now, None);
        Ok(rec)
    }

    /// One page from the provider.
    async fn fetch_page(
        &self,
        rec: ConnectionRecord,
        kind: &ResourceKind,
        parents: &BTreeMap<String, String>,
        q: Option<&str>,
        cursor: Option<&NextPage>,
        limit: u32,
    ) -> ServiceResult<Page> {
        let mut vars: BTreeMap<String, String> = parents.clone();
        vars.insert("limit".into(), limit.to_string());
        let (offset, page_no) = match cursor {
            Some(NextPage::Offset(o)) => (*o, 1),
            Some(NextPage::Page(p)) => (0, *p),
            _ => (0, 1),
        };
        vars.insert("offset".into(), offset.to_string());
        vars.insert("page".into(), page_no.to_string());
        vars.insert(
            "cursor".into(),
            match cursor {
                Some(NextPage::Cursor(c)) => c.clone(),
                _ => String::new(),
            },
        );
        let searching = q.is_some() && kind.search.is_some();
        if let Some(q) = q {
            let mut text = q.to_owned();
            if let Some(search) = &kind.search {
                for (from, to) in &search.escape {
                    text = text.replace(from.as_str(), to);
                }
            }
            vars.insert("q".into(), text);
        } else {
            vars.insert("q".into(), String::new());
        }
        let spec = request_for(kind, searching);
        let next_url = match cursor {
            Some(NextPage::Url(u)) => Some(u.clone()),
            _ => None,
        };
        let make = |s: &Signer| {
            require_path_values(s, &spec, &vars)?;
            let mut first = s.build(&drop_empty(&spec, s, &vars), &vars)?;
            // Someone is waiting on a dropdown: a rate limit serves the cached page, not a wait.
            first.wait_out_rate_limits = false;
            let Some(next) = &next_url else { return Ok(first) };
            // A next-page URL the provider handed out (relative ones against the request's): signed
            // only for the provider's own origin.
            let u = first
                .url
                .join(next)
                .map_err(|_| ServiceError::invalid("cursor", "cursor is not one this server handed out"))?;
            if u.origin() != first.url.origin() {
                return Err(ServiceError::invalid("cursor", "cursor does not belong to this provider"));
            }
            let mut signed = s.sign_url(u)?;
            signed.wait_out_rate_limits = false;
            Ok(signed)
        };
        let (signer, answer) = self.send_signed(rec, &spec, &make).await?;
        let (doc, link) = answer_doc(&signer, kind, parents, answer)?;
        let items_path = signer.vars(&vars).render(&kind.items)?;
        let mut items = core_resources::read_items(kind, &items_path, &doc).map_err(|e| {
            // An items path that picks a parent out of the answer (Airtable's `tables.[id={table}]`)
            // finds nothing when that parent does not exist: the caller's mistake, not the provider's.
            let picked = kind.parents.iter().find(|p| kind.items.contains(&format!("={{{p}}}]")));
            match picked {
                Some(p) => ServiceError::not_found(format!(
                    "no {p} {:?} in this {} connection; list the {p} kind for the ids it has",
                    parents.get(p).map_or("", String::as_str),
                    signer.provider.name
                )),
                None => {
                    ServiceError::Provider(format!("{} answered in an unexpected shape: {e}", signer.provider.name))
                }
            }
        })?;
        let raw_count = items.len();
        let last_id = items.last().map(|i| i.id.clone());
        let next = core_resources::next_page(kind, &doc, link.as_deref(), cursor, raw_count, limit, last_id.as_deref());
        // A provider that cannot search by name is filtered here.
        if let (Some(q), false) = (q, searching) {
            let wanted = core_resources::normalize(q);
            items.retain(|i| core_resources::normalize(&i.name).contains(&wanted));
        }
        Page::new(&items, next)
    }

    /// Resolves one name, or a chain where each step is the parent of the next.
    pub async fn resolve(&self, actor: &Principal, id: &str, steps: Vec<ResolveStep>) -> ServiceResult<Resolved> {
        if steps.is_empty() {
            return Err(ServiceError::invalid("path", "give a kind and a name, or a path of steps"));
        }
        let conn = self.connection_gate(actor, id).await?;
        let provider = self.provider(&conn.gate.provider)?;
        let mut found: Vec<(String, Item)> = Vec::new();
        let mut truncated = false;
        for (i, step) in steps.iter().enumerate() {
            let kind = self.kind_of(&provider, &conn.gate.auth_mode, &step.kind)?;
            let mut parents = step.parents.clone();
            for (k, item) in &found {
                if kind.parents.contains(k) {
                    parents.entry(k.clone()).or_insert_with(|| item.id.clone());
                }
            }
            check_parents(kind, &parents).map_err(|e| match e {
                ServiceError::Invalid { field, message } => ServiceError::Invalid {
                    field: format!("path.{i}.parents.{}", field.trim_start_matches("parents.")),
                    message,
                },
                other => other,
            })?;
            let (m, cut) = self.resolve_step(&conn, &provider, &step.kind, kind, &parents, &step.name).await?;
            truncated |= cut;
            match m {
                NameMatch::Found(item) => found.push((step.kind.clone(), item)),
                NameMatch::Ambiguous(candidates) => {
                    return Ok(Resolved { resolution: Resolution::Ambiguous { step: i, candidates }, truncated });
                }
                NameMatch::NotFound(suggestions) => {
                    return Ok(Resolved { resolution: Resolution::NotFound { step: i, suggestions }, truncated });
                }
            }
        }
        Ok(Resolved { resolution: Resolution::Found(found.into_iter().map(|(_, i)| i).collect()), truncated })
    }

    /// One step: a provider URL or an id fetched directly where the kind can, else the
    /// listing scanned (searched at the provider where it can) up to the bounds.
    pub(super) async fn resolve_step(
        &self,
        conn: &Caller<'_>,
        provider: &Arc<Provider>,
        kind_name: &str,
        kind: &ResourceKind,
        parents: &BTreeMap<String, String>,
        wanted: &str,
    ) -> ServiceResult<(NameMatch, bool)> {
        let wanted = wanted.trim();
        if wanted.is_empty() {
            return Err(ServiceError::invalid(
                "name",
                "name is empty: give a name, an id or the provider's URL of the item",
            ));
        }
        let from_url = core_resources::id_from_url(kind, wanted);
        if let (Some(get), Some(item_id)) = (&kind.get, from_url.as_deref()) {
            match self.fetch_one(self.record_of(conn).await?, kind, get, parents, item_id).await {
                Ok(item) => return Ok((NameMatch::Found(item), false)),
                Err(ServiceError::NotFound(_)) => return Ok((NameMatch::NotFound(Vec::new()), false)),
                Err(e) => return Err(e),
            }
        }
        let target = from_url.unwrap_or_else(|| wanted.to_owned());
        // Narrow at the provider by name where it searches (an id or URL needs the plain listing).
        let by_name = kind.search.is_some() && core_resources::id_from_url(kind, wanted).is_none();
        let q = by_name.then_some(target.as_str());
        let mut seen: Vec<Item> = Vec::new();
        let mut cursor: Option<NextPage> = None;
        let mut truncated = false;
        let limit = self.settings.listing_max_limit.min(kind.max_limit);
        for round in 0..self.settings.listing_max_pages {
            let (page, _) =
                self.cached_page(conn, provider, kind_name, kind, parents, q, cursor.as_ref(), limit, false).await?;
            seen.extend(page.items());
            if seen.iter().any(|i| i.id == target) {
                break;
            }
            let Some(next) = &page.next else { break };
            // More pages, but the bounds are reached: say the answer may be incomplete.
            if seen.len() >= self.settings.resolve_max_items || round + 1 == self.settings.listing_max_pages {
                truncated = true;
                break;
            }
            cursor = Some(next.clone());
        }
        let m = core_resources::match_name(&seen, &target);
        // Not a name: maybe an id the provider can fetch directly.
        if let (NameMatch::NotFound(_), Some(get)) = (&m, &kind.get) {
            match self.fetch_one(self.record_of(conn).await?, kind, get, parents, &target).await {
                Ok(item) => return Ok((NameMatch::Found(item), truncated)),
                Err(ServiceError::NotFound(_) | ServiceError::Provider(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // A search narrowed the list: suggestions need the plain one.
        if by_name
            && let NameMatch::NotFound(ref s) = m
            && s.is_empty()
        {
            let (page, _) =
                self.cached_page(conn, provider, kind_name, kind, parents, None, None, limit, false).await?;
            return Ok((
                NameMatch::NotFound(core_resources::suggestions(&page.items(), &core_resources::normalize(&target), 5)),
                truncated,
            ));
        }
        Ok((m, truncated))
    }

    async fn fetch_one(
        &self,
        rec: ConnectionRecord,
        kind: &ResourceKind,
        get: &switchboard_core::catalog::ResourceGet,
        parents: &BTreeMap<String, String>,
        item_id: &str,
    ) -> ServiceResult<Item> {
        let mut vars = parents.clone();
        vars.insert("id".into(), item_id.to_owned());
        let make = |s: &Signer| {
            require_path_values(s, &get.request, &vars)?;
            let mut one = s.build(&get.request, &vars)?;
            one.wait_out_rate_limits = false;
            Ok(one)
        };
        let (signer, answer) = self.send_signed(rec, &get.request, &make).await?;
        let (doc, _) = answer_doc(&signer, kind, parents, answer)?;
        let item_doc = switchboard_core::catalog::path::get(&doc, &get.item).cloned().unwrap_or(Value::Null);
        let renamed;
        let kind = match &get.name {
            Some(name) => {
                renamed = ResourceKind { name: name.clone(), ..kind.clone() };
                &renamed
            }
            None => kind,
        };
        core_resources::item_of(kind, &item_doc)
            .ok_or_else(|| ServiceError::Provider(format!("{} answered without the item's id", signer.provider.name)))
    }
}

/// The request of a listing, with the kind's search parameters when searching.
fn request_for(kind: &ResourceKind, searching: bool) -> RequestSpec {
    let mut spec = kind.request.clone();
    if searching && let Some(search) = &kind.search {
        spec.query.extend(search.query.iter().map(|(k, v)| (k.clone(), v.clone())));
        spec.params.extend(search.params.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    spec
}

/// Every value the request's path takes from the connection is there: an optional field left
/// empty (a WhatsApp connection without its business account id) cannot list what needs it.
fn require_path_values(signer: &Signer, spec: &RequestSpec, vars: &BTreeMap<String, String>) -> ServiceResult<()> {
    let template = spec.path.as_deref().or(spec.url.as_deref()).unwrap_or_default();
    let rendered = signer.vars(vars);
    for name in switchboard_core::catalog::template::names(template).unwrap_or_default() {
        if !vars.contains_key(name) && rendered.render(&format!("{{{name}}}")).is_ok_and(|v| v.is_empty()) {
            return Err(ServiceError::Conflict(format!(
                "this {} connection has no {name}, which this listing needs; connect it again with {name} given",
                signer.provider.name
            )));
        }
    }
    Ok(())
}

/// The spec without query and body parameters whose templates render empty (no cursor yet).
fn drop_empty(spec: &RequestSpec, signer: &Signer, vars: &BTreeMap<String, String>) -> RequestSpec {
    let v = signer.vars(vars);
    let mut out = spec.clone();
    out.query.retain(|_, t| v.render(t).map(|s| !s.is_empty()).unwrap_or(true));
    out.params.retain(|_, t| t.as_str().is_none_or(|t| v.render(t).map(|s| !s.is_empty()).unwrap_or(true)));
    out
}

/// A provider's answer as a document, or the error API.md maps it to.
fn answer_doc(
    signer: &Signer,
    kind: &ResourceKind,
    parents: &BTreeMap<String, String>,
    answer: Answer,
) -> ServiceResult<(Value, Option<String>)> {
    let name = &signer.provider.name;
    match answer {
        Answer::Ok { doc, link } => Ok((doc, link)),
        Answer::Forbidden { reason, scope } => {
            // The provider's own word on the scope, else every scope the catalog says would do.
            let mut scopes: Vec<String> = scope.into_iter().collect();
            if scopes.is_empty() {
                scopes = kind.scopes.clone();
            }
            Err(ServiceError::InsufficientScope {
                message: if scopes.is_empty() {
                    format!("{name} refused the listing: {reason}")
                } else {
                    format!(
                        "{name} refused the listing for want of a scope ({reason}); connect again asking for {}",
                        scopes.join(" or ")
                    )
                },
                scopes,
            })
        }
        Answer::NotFound(reason) => Err(ServiceError::not_found(match parents.iter().next_back() {
            Some((parent, id)) => format!(
                "{name} has no {parent} {:?} this connection can see ({reason})",
                switchboard_core::ids::truncate_for_message(id)
            ),
            None => format!("{name} answered not found ({reason})"),
        })),
        Answer::RateLimited { reason, retry_after_s } => Err(ServiceError::RateLimited {
            message: format!("{name} is rate-limiting this connection ({reason})"),
            retry_after_s,
        }),
        Answer::Unauthorized(reason) => {
            Err(ServiceError::NeedsReauth(format!("{name} refused the connection: {reason}")))
        }
        Answer::Failed(reason) => Err(ServiceError::Provider(format!("{name} failed: {reason}"))),
    }
}

/// Scopes that would allow the kind, when the connection has none of them.
/// The scopes an OAuth connection lacks for something that needs any one of `scopes`: all of
/// them when it holds none, else none. Other connections have no scopes to lack.
pub(super) fn missing_scopes(auth_mode: &str, scopes: &[String], granted: &[String]) -> Vec<String> {
    if auth_mode != "oauth2" || scopes.is_empty() || scopes.iter().any(|s| granted.contains(s)) {
        return Vec::new();
    }
    scopes.to_vec()
}

/// Every parent the kind needs must be given (a 400 naming the first missing one).
fn check_parents(kind: &ResourceKind, given: &BTreeMap<String, String>) -> ServiceResult<()> {
    for p in &kind.parents {
        if given.get(p).is_none_or(|v| v.trim().is_empty()) {
            return Err(ServiceError::invalid(
                p,
                format!("{} needs its {p}: pass ?{p}=ID (list them at …/resources/{p})", kind.label),
            ));
        }
    }
    Ok(())
}

/// The part of a cache key that picks the page.
fn selector(parents: &BTreeMap<String, String>, q: Option<&str>, cursor: Option<&NextPage>, limit: u32) -> String {
    let mut s = String::new();
    for (k, v) in parents {
        s.push_str(k);
        s.push('=');
        s.push_str(v);
        s.push('\u{1f}');
    }
    s.push_str(&format!(
        "q={}\u{1f}c={}\u{1f}l={limit}",
        q.unwrap_or(""),
        cursor.map(NextPage::encode).unwrap_or_default()
    ));
    s
}
