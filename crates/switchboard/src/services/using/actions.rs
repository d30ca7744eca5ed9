//! Actions: things a connection does at its provider (post a message, append a row), as the
//! catalog describes each one — an input schema checked here, resource-bound inputs resolved
//! from names, the request built from templates, the output read from the answer — or as a named
//! handler where data cannot say it. Runs are audited, metered and, with an `Idempotency-Key`,
//! answered once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value};
use switchboard_core::access::Principal;
use switchboard_core::actions::{self as core_actions, text_of};
use switchboard_core::catalog::{Action, BodyKind, Provider, RequestSpec, path, template};
use switchboard_core::resources::{Item, NameMatch};
use switchboard_core::vault::Binding;

use super::call::{Answer, Signer};
use super::resources::{Caller, missing_scopes};
use crate::outbound::OutboundRequest;
use crate::services::audit::{AuditEvent, Outcome};
use crate::services::{InputProblem, ServiceError, ServiceResult, Services};
use crate::store::{ActionRunClaim, ActionRunRecord, ConnectionRecord};

/// An action as a caller sees it.
#[derive(Debug, Clone)]
pub struct ActionView {
    pub name: String,
    pub title: String,
    pub description: String,
    pub input_schema: Value,
    pub output_schema: Option<Value>,
    pub retry_safe: bool,
    /// Scopes the connection lacks for the action; any one of them would do.
    pub missing_scopes: Vec<String>,
}

/// What checking an action's input found without running it (a workflow's validation): the
/// resource-bound inputs resolved, every problem, and the scopes the connection lacks.
#[derive(Debug)]
pub struct InputCheck {
    pub resolved: Resolved,
    pub problems: Vec<InputProblem>,
    pub missing_scopes: Vec<String>,
    pub status: String,
}

/// A run's result: the output, and whether it is the stored answer of an earlier run.
#[derive(Debug)]
pub struct ActionRun {
    pub output: Value,
    pub replayed: bool,
}

/// Compiled input schemas, by `provider/action`: compiling costs more than validating.
#[derive(Default)]
pub struct InputValidators(Mutex<HashMap<String, Arc<jsonschema::Validator>>>);

impl std::fmt::Debug for InputValidators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InputValidators")
    }
}

/// How long a run may stay in flight before its key is considered abandoned (its instance died).
const IN_FLIGHT_STALE_MS: i64 = 10 * 60 * 1000;

/// The resolved items of resource-bound inputs, by property.
pub type Resolved = BTreeMap<String, Item>;

/// Why a run failed, and whether the provider may nevertheless have done it (a timeout, a 5xx):
/// such an answer is kept for its idempotency key so a repeat does not do it twice.
pub(super) struct RunError {
    pub(super) error: ServiceError,
    pub(super) uncertain: bool,
}

impl From<ServiceError> for RunError {
    fn from(error: ServiceError) -> Self {
        let uncertain = matches!(error, ServiceError::ProviderUncertain(_));
        Self { error, uncertain }
    }
}

impl Services {
    fn action_of<'p>(&self, provider: &'p Provider, auth_mode: &str, name: &str) -> ServiceResult<&'p Action> {
        provider.actions.iter().find(|(k, a)| a.exposed(k) == name && a.serves(auth_mode)).map(|(_, a)| a).ok_or_else(
            || {
                let known: Vec<&str> =
                    provider.actions.iter().filter(|(_, a)| a.serves(auth_mode)).map(|(k, a)| a.exposed(k)).collect();
                ServiceError::not_found(if known.is_empty() {
                    format!("this {} connection has no actions", provider.name)
                } else {
                    format!("this {} connection has no action {name:?}; it has: {}", provider.name, known.join(", "))
                })
            },
        )
    }

    /// The actions a connection can run.
    pub async fn list_actions(&self, actor: &Principal, id: &str) -> ServiceResult<Vec<ActionView>> {
        let rec = self.visible_connection(actor, id).await?;
        let granted: Vec<String> = serde_json::from_str(&rec.scopes).unwrap_or_default();
        self.action_views(&rec.provider, &rec.auth_mode, &granted)
    }

    /// The actions of a connection already read (from a listing the caller may see), with the
    /// scopes it lacks for each: no second read of its row.
    pub fn actions_of(
        &self,
        c: &crate::services::credentials::connections::Connection,
    ) -> ServiceResult<Vec<ActionView>> {
        self.action_views(&c.provider, &c.auth_mode, &c.scopes)
    }

    fn action_views(&self, provider: &str, auth_mode: &str, granted: &[String]) -> ServiceResult<Vec<ActionView>> {
        let provider = self.provider(provider)?;
        Ok(provider
            .actions
            .iter()
            .filter(|(_, a)| a.serves(auth_mode))
            .map(|(key, a)| ActionView {
                name: a.exposed(key).to_owned(),
                title: a.title.clone(),
                description: a.description.clone(),
                input_schema: a.input.clone(),
                output_schema: a.output_schema.clone(),
                retry_safe: a.retry_safe,
                missing_scopes: missing_scopes(auth_mode, &a.scopes, granted),
            })
            .collect())
    }

    /// Runs an action. With an idempotency key, a repeat of the same input answers the first
    /// run's output without running again; another input under the same key is a conflict.
    pub async fn run_action(
        &self,
        actor: &Principal,
        id: &str,
        name: &str,
        input: Map<String, Value>,
        idempotency_key: Option<&str>,
    ) -> ServiceResult<ActionRun> {
        let started = Instant::now();
        let conn = self.connection_gate(actor, id).await?;
        let provider = self.provider(&conn.gate.provider)?;
        let action = self.action_of(&provider, &conn.gate.auth_mode, name)?;
        let mut input = input;
        core_actions::apply_defaults(&action.input, &mut input);
        let input = Value::Object(input);
        let observe = |outcome: &str| {
            self.metrics.observe_action(&provider.id, name, outcome, started.elapsed().as_secs_f64());
        };
        if let Err(e) = self.check_input(&provider, name, action, &input) {
            observe("invalid_input");
            return Err(e);
        }
        let claim = match idempotency_key {
            Some(key) => match self.claim_run(&conn.gate, name, key, &input).await? {
                Claim::Replay(output) => {
                    observe("replayed");
                    return output.map(|output| ActionRun { output, replayed: true });
                }
                Claim::Fresh(run_id) => Some(run_id),
            },
            None => None,
        };
        let mut provider_status = None;
        let result = self.execute(&conn, &provider, name, action, input, &mut provider_status).await;
        if let Some(run_id) = &claim {
            self.settle_run(&conn.gate.org, run_id, &result).await;
        }
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => error_outcome(&e.error),
        };
        observe(outcome);
        let audit = self
            .audit(
                actor,
                AuditEvent {
                    org: Some(&conn.gate.org),
                    action: "connection.run_action",
                    target_kind: "connection",
                    target_id: &conn.gate.id,
                    outcome: if result.is_ok() { Outcome::Success } else { Outcome::Failure },
                    // Never the input or the output: either may hold personal data.
                    detail: serde_json::json!({
                        "action": name,
                        "provider": provider.id,
                        "outcome": outcome,
                        "provider_status": provider_status,
                        "idempotency_key": claim.is_some(),
                    }),
                },
            )
            .await;
        if let Err(e) = audit {
            tracing::warn!(error = %e, "could not audit an action run");
        }
        result.map(|output| ActionRun { output, replayed: false }).map_err(|e| e.error)
    }

    /// Checks an input as a run would — schema, resource-bound inputs resolved against the live
    /// account, scopes — and runs nothing. Values at the `deferred` JSON pointers (filled in from an
    /// earlier step's output when the workflow runs) are neither schema-checked nor resolved.
    pub async fn check_action_input(
        &self,
        actor: &Principal,
        id: &str,
        name: &str,
        input: Map<String, Value>,
        deferred: &[String],
    ) -> ServiceResult<InputCheck> {
        let conn = self.connection_gate(actor, id).await?;
        let provider = self.provider(&conn.gate.provider)?;
        let action = self.action_of(&provider, &conn.gate.auth_mode, name)?;
        let rec = self.visible_connection(actor, id).await?;
        let granted: Vec<String> = serde_json::from_str(&rec.scopes).unwrap_or_default();
        let missing = missing_scopes(&rec.auth_mode, &action.scopes, &granted);
        let mut input = input;
        core_actions::apply_defaults(&action.input, &mut input);
        let input = Value::Object(input);
        let is_deferred =
            |pointer: &str| deferred.iter().any(|d| pointer == d || pointer.starts_with(&format!("{d}/")));
        let validator = self.input_validator(&provider, name, action)?;
        let mut problems: Vec<InputProblem> = validator
            .iter_errors(&input)
            .filter(|e| !is_deferred(&e.instance_path().to_string()))
            .map(|e| InputProblem {
                path: format!("/input{}", e.instance_path()),
                message: e.to_string(),
                candidates: None,
            })
            .collect();
        // Without the action's scopes the names cannot be checked either: the scope is the problem.
        if !missing.is_empty() {
            return Ok(InputCheck { resolved: Resolved::new(), problems, missing_scopes: missing, status: rec.status });
        }
        // Resolution leaves out what comes from earlier steps (and so whatever needs it as a parent).
        let mut resolvable = input.clone();
        if let Some(obj) = resolvable.as_object_mut() {
            obj.retain(|k, _| !is_deferred(&format!("/{}", k.replace('~', "~0").replace('/', "~1"))));
        }
        let resolved = match self.resolve_inputs(&conn, &provider, name, action, &mut resolvable).await {
            Ok(r) => r,
            Err(ServiceError::InvalidInput { problems: p, .. }) => {
                problems.extend(p);
                Resolved::new()
            }
            Err(e) => return Err(e),
        };
        Ok(InputCheck { resolved, problems, missing_scopes: missing, status: rec.status })
    }

    /// Every problem with the input at once, each at its JSON pointer under `/input`.
    fn check_input(&self, provider: &Provider, name: &str, action: &Action, input: &Value) -> ServiceResult<()> {
        let validator = self.input_validator(provider, name, action)?;
        let problems: Vec<InputProblem> = validator
            .iter_errors(input)
            .map(|e| InputProblem {
                path: format!("/input{}", e.instance_path()),
                message: e.to_string(),
                candidates: None,
            })
            .collect();
        if problems.is_empty() {
            return Ok(());
        }
        Err(invalid_input(name, problems))
    }

    fn input_validator(
        &self,
        provider: &Provider,
        name: &str,
        action: &Action,
    ) -> ServiceResult<Arc<jsonschema::Validator>> {
        // One name may be several entries, one per connection mode, each with its own schema.
        let key = format!("{}/{name}/{}", provider.id, action.modes.join(","));
        let mut cache = self.input_validators.0.lock().map_err(|_| ServiceError::Internal("validator cache".into()))?;
        if let Some(v) = cache.get(&key) {
            return Ok(v.clone());
        }
        let v = Arc::new(
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&action.input)
                .map_err(|e| ServiceError::Internal(format!("{key}: input schema: {e}")))?,
        );
        cache.insert(key, v.clone());
        Ok(v)
    }

    async fn claim_run(
        &self,
        gate: &crate::services::access_cache::ConnectionGate,
        name: &str,
        key: &str,
        input: &Value,
    ) -> ServiceResult<Claim> {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ServiceError::invalid(
                "Idempotency-Key",
                "the Idempotency-Key header must be 1 to 255 printable ASCII characters (a UUID is typical)",
            ));
        }
        let now = self.clock.now();
        let retention = i64::try_from(self.settings.idempotency_retention.as_millis()).unwrap_or(i64::MAX);
        let rec = ActionRunRecord {
            id: format!("run_{}", switchboard_core::ids::time_ordered_suffix(now)),
            connection_id: gate.id.clone(),
            idempotency_key: key.to_owned(),
            org: gate.org.clone(),
            action: name.to_owned(),
            request_digest: core_actions::request_digest(name, input),
            status: None,
            answer: None,
            created_at: now.millis(),
        };
        let claim = self
            .store
            .claim_action_run(&rec, now.millis() - IN_FLIGHT_STALE_MS, now.millis().saturating_sub(retention))
            .await?;
        let existing = match claim {
            ActionRunClaim::Claimed => return Ok(Claim::Fresh(rec.id)),
            ActionRunClaim::Existing(e) => e,
        };
        if existing.request_digest != rec.request_digest {
            return Err(ServiceError::Conflict(format!(
                "this Idempotency-Key was used for {} with another input; use a new key for a new request",
                if existing.action == name {
                    "this action".to_owned()
                } else {
                    format!("action {:?}", existing.action)
                }
            )));
        }
        let (Some(_), Some(sealed)) = (existing.status, existing.answer) else {
            return Err(ServiceError::Conflict(
                "a run with this Idempotency-Key is still in progress; repeat the request once it has answered".into(),
            ));
        };
        let opened = self.vault.open_sealed(&run_binding(&existing.org, &existing.id), &sealed).await?;
        let stored: Value = serde_json::from_slice(&opened)
            .map_err(|e| ServiceError::Internal(format!("stored action answer: {e}")))?;
        Ok(Claim::Replay(match (stored.get("output"), stored.get("provider_error").and_then(Value::as_str)) {
            (Some(output), _) => Ok(output.clone()),
            (None, Some(message)) => Err(ServiceError::ProviderUncertain(message.to_owned())),
            (None, None) => Err(ServiceError::Internal("stored action answer without output".into())),
        }))
    }

    /// Keeps the answer for the key (an output, or a failure after which the provider may have
    /// acted), or gives the key back when nothing can have happened at the provider.
    async fn settle_run(&self, org: &str, run_id: &str, result: &Result<Value, RunError>) {
        let stored = match result {
            Ok(output) => Some((200, serde_json::json!({ "output": output }))),
            Err(e) if e.uncertain => Some((502, serde_json::json!({ "provider_error": e.error.to_string() }))),
            Err(_) => None,
        };
        let done = match stored {
            Some((status, answer)) => {
                match self.vault.seal(&run_binding(org, run_id), answer.to_string().as_bytes()).await {
                    Ok(sealed) => self.store.finish_action_run(run_id, status, &sealed).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not seal an action answer");
                        self.store.release_action_run(run_id).await
                    }
                }
            }
            None => self.store.release_action_run(run_id).await,
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, run = run_id, "could not record an action run for its idempotency key");
        }
    }

    async fn execute(
        &self,
        conn: &Caller<'_>,
        provider: &Arc<Provider>,
        name: &str,
        action: &Action,
        mut input: Value,
        provider_status: &mut Option<u16>,
    ) -> Result<Value, RunError> {
        let resolved = self.resolve_inputs(conn, provider, name, action, &mut input).await?;
        if let Some(handler) = action.handler {
            let values = Values { input: &input, resolved: &resolved, computed: &Map::new(), body: None };
            return super::handlers::run(self, handler, conn, provider, action, &values, provider_status).await;
        }
        let rec = self.record_of(conn).await?;
        let spec = action
            .request
            .as_ref()
            .ok_or_else(|| ServiceError::Internal(format!("{}/{name}: no request and no handler", provider.id)))?;
        let values = Values { input: &input, resolved: &resolved, computed: &Map::new(), body: None };
        let doc = self.call_action(rec, action, spec, &values, provider_status).await?;
        Ok(read_output(action, &doc))
    }

    /// Sends one of an action's requests as the connection and reads the answer, or the error
    /// API.md maps it to.
    pub(super) async fn call_action(
        &self,
        rec: ConnectionRecord,
        action: &Action,
        spec: &RequestSpec,
        values: &Values<'_>,
        provider_status: &mut Option<u16>,
    ) -> Result<Value, RunError> {
        let make = |s: &Signer| {
            let mut req = build_action_request(s, spec, values)?;
            req.idempotent = action.retry_safe && req.idempotent;
            req.wait_out_rate_limits = false;
            Ok(req)
        };
        let (signer, answer) = self.send_signed(rec, spec, &make).await?;
        let status = signer.last_status.unwrap_or_default();
        *provider_status = signer.last_status;
        let name = &signer.provider.name;
        match answer {
            Answer::Ok { doc, .. } => match action
                .refused_if
                .iter()
                .filter_map(|p| path::get(&doc, p))
                .find(|e| !e.is_null() && *e != &Value::Array(Vec::new()) && *e != "")
            {
                Some(errors) => {
                    Err(ServiceError::ProviderRefused(format!("{name} refused the action: {}", refusal_text(errors)))
                        .into())
                }
                _ => Ok(doc),
            },
            Answer::Forbidden { reason, scope } => {
                let mut scopes: Vec<String> = scope.into_iter().collect();
                if scopes.is_empty() {
                    scopes = action.scopes.clone();
                }
                Err(ServiceError::InsufficientScope {
                    message: if scopes.is_empty() {
                        format!("{name} refused the action: {reason}")
                    } else {
                        format!(
                            "{name} refused the action for want of a scope ({reason}); connect again asking for {}",
                            scopes.join(" or ")
                        )
                    },
                    scopes,
                }
                .into())
            }
            Answer::NotFound(reason) => {
                Err(ServiceError::not_found(format!("{name} answered not found: {reason}")).into())
            }
            Answer::RateLimited { reason, retry_after_s } => Err(ServiceError::RateLimited {
                message: format!("{name} is rate-limiting this connection ({reason}); try again later"),
                retry_after_s,
            }
            .into()),
            Answer::Unauthorized(reason) => {
                Err(ServiceError::NeedsReauth(format!("{name} refused the connection: {reason}")).into())
            }
            Answer::Failed(reason) if status >= 500 || status == 0 => Err(RunError {
                error: ServiceError::ProviderUncertain(format!(
                    "{name} failed ({reason}); it may or may not have done it, so check before running it again with a new Idempotency-Key"
                )),
                uncertain: !action.retry_safe,
            }),
            Answer::Failed(reason) => {
                Err(ServiceError::ProviderRefused(format!("{name} refused the action: {reason}")).into())
            }
        }
    }

    /// Resource-bound inputs given as names, ids or URLs become ids, parents first; every one
    /// that matches no item or several is reported at once, with the candidates.
    async fn resolve_inputs(
        &self,
        conn: &Caller<'_>,
        provider: &Arc<Provider>,
        name: &str,
        action: &Action,
        input: &mut Value,
    ) -> ServiceResult<Resolved> {
        let mut resolved = Resolved::new();
        let mut problems = Vec::new();
        for (prop, kind_name) in action.bound_inputs(&provider.resources) {
            let Some(given) = input.get(&prop).and_then(value_text) else { continue };
            let kind = self.kind_of(provider, &conn.gate.auth_mode, &kind_name)?;
            // Parents come from the inputs bound to the parent kinds, already resolved.
            let mut parents = BTreeMap::new();
            let mut blocked = false;
            for parent in &kind.parents {
                match resolved.iter().find(|(p, _)| bound_kind(action, provider, p).as_deref() == Some(parent.as_str()))
                {
                    Some((_, item)) => {
                        parents.insert(parent.clone(), item.id.clone());
                    }
                    None => blocked = true,
                }
            }
            if blocked {
                continue;
            }
            let (m, _) = self.resolve_step(conn, provider, &kind_name, kind, &parents, &given).await?;
            let pointer = format!("/input/{prop}");
            let shown = switchboard_core::ids::truncate_for_message(&given);
            match m {
                NameMatch::Found(item) => {
                    if let Some(obj) = input.as_object_mut() {
                        obj.insert(prop.clone(), Value::String(item.id.clone()));
                    }
                    resolved.insert(prop, item);
                }
                NameMatch::Ambiguous(candidates) => problems.push(InputProblem {
                    path: pointer,
                    message: format!(
                        "{shown:?} matches {} {}s; give the id of the one you mean",
                        candidates.len(),
                        kind.label.to_lowercase()
                    ),
                    candidates: Some(candidates.iter().map(item_json).collect()),
                }),
                NameMatch::NotFound(suggestions) => problems.push(InputProblem {
                    path: pointer,
                    message: if suggestions.is_empty() {
                        format!("no {} named {shown:?} is visible to this connection", kind.label.to_lowercase())
                    } else {
                        format!(
                            "no {} named {shown:?}; the closest: {}",
                            kind.label.to_lowercase(),
                            suggestions.iter().map(|s| format!("{:?}", s.name)).collect::<Vec<_>>().join(", ")
                        )
                    },
                    candidates: Some(suggestions.iter().map(item_json).collect()),
                }),
            }
        }
        if problems.is_empty() { Ok(resolved) } else { Err(invalid_input(name, problems)) }
    }
}

enum Claim {
    /// The key is this run's.
    Fresh(String),
    /// The stored answer of the run that used the key first.
    Replay(ServiceResult<Value>),
}

fn bound_kind(action: &Action, provider: &Provider, prop: &str) -> Option<String> {
    action.bound_inputs(&provider.resources).into_iter().find(|(p, _)| p == prop).map(|(_, k)| k)
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn item_json(i: &Item) -> Value {
    let mut m = i.fields.clone();
    m.insert("id".into(), Value::String(i.id.clone()));
    m.insert("name".into(), Value::String(i.name.clone()));
    Value::Object(m)
}

pub(super) fn invalid_input(action: &str, problems: Vec<InputProblem>) -> ServiceError {
    let message = if problems.len() == 1 {
        format!("the input of {action} is not right: {} at {}", problems[0].message, problems[0].path)
    } else {
        format!("the input of {action} has {} problems; each is in error.details", problems.len())
    };
    ServiceError::InvalidInput { message, problems }
}

fn run_binding<'a>(org: &'a str, id: &'a str) -> Binding<'a> {
    Binding { org, table: "action_runs", row: id, field: "answer" }
}

fn error_outcome(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::Invalid { .. } | ServiceError::InvalidInput { .. } => "invalid_input",
        ServiceError::NeedsReauth(_) => "needs_reauth",
        ServiceError::InsufficientScope { .. } | ServiceError::Forbidden(_) => "forbidden",
        ServiceError::NotFound(_) => "not_found",
        ServiceError::RateLimited { .. } => "rate_limited",
        ServiceError::ProviderRefused(_) => "refused",
        ServiceError::Provider(_) | ServiceError::ProviderUncertain(_) => "provider_error",
        _ => "error",
    }
}

/// The output: the answer's fields the action names, or the answer as it is.
pub(super) fn read_output(action: &Action, doc: &Value) -> Value {
    if action.output.is_empty() {
        return doc.clone();
    }
    Value::Object(
        action.output.iter().filter_map(|(field, p)| path::get(doc, p).map(|v| (field.clone(), v.clone()))).collect(),
    )
}

/// What an action's templates read.
pub(super) struct Values<'a> {
    pub input: &'a Value,
    pub resolved: &'a Resolved,
    /// What a handler computed, as `handler.…`.
    pub computed: &'a Map<String, Value>,
    /// A body a handler made (a multipart upload), sent instead of the request's own.
    pub body: Option<&'a RawBody>,
}

/// Bytes and their media type, as a handler made them.
pub(super) struct RawBody {
    pub bytes: bytes::Bytes,
    pub content_type: String,
}

/// A value for a template name: `input.…` from the input, `resolved.PROP.FIELD` from a resolved
/// item, `handler.…` from a handler, anything else from the connection (empty counts as absent).
fn lookup(signer: &Signer, values: &Values<'_>, name: &str) -> Option<Value> {
    if let Some(p) = name.strip_prefix("input.") {
        return path::get(values.input, p).filter(|v| !v.is_null()).cloned();
    }
    if let Some(p) = name.strip_prefix("handler.") {
        return values.computed.get(p).cloned();
    }
    let resolved = values.resolved;
    if let Some(rest) = name.strip_prefix("resolved.") {
        let (prop, field) = rest.split_once('.')?;
        let item = resolved.get(prop)?;
        return match field {
            "id" => Some(Value::String(item.id.clone())),
            "name" => Some(Value::String(item.name.clone())),
            f => item.fields.get(f).cloned(),
        };
    }
    signer.vars(&BTreeMap::new()).render(&format!("{{{name}}}")).ok().filter(|s| !s.is_empty()).map(Value::String)
}

/// Literal braces for a rendered value that goes through the connection's templates again.
fn escape_braces(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

/// The request of an action: path, query, headers and body rendered over the input (bodies keep
/// the input's types), then signed as the connection.
pub(super) fn build_action_request(
    signer: &Signer,
    spec: &RequestSpec,
    values: &Values<'_>,
) -> ServiceResult<OutboundRequest> {
    let look = |n: &str| lookup(signer, values, n);
    let text = |n: &str| look(n).map(|v| std::borrow::Cow::Owned(text_of(&v)));
    let bad = |e: template::TemplateError| ServiceError::Internal(format!("action template: {e}"));
    let mut signed = spec.clone();
    signed.path = spec
        .path
        .as_deref()
        .map(|p| template::render_url(p, text))
        .transpose()
        .map_err(bad)?
        .map(|p| escape_braces(&p));
    signed.url =
        spec.url.as_deref().map(|u| template::render_url(u, text)).transpose().map_err(bad)?.map(|u| escape_braces(&u));
    signed.headers = spec
        .headers
        .iter()
        .map(|(k, v)| Ok((k.clone(), escape_braces(&template::render(v, text).map_err(bad)?))))
        .collect::<ServiceResult<_>>()?;
    signed.query.clear();
    signed.params.clear();
    signed.document = None;
    signed.body = BodyKind::None;
    let mut req = signer.build(&signed, &BTreeMap::new())?;
    let mut query: Vec<(String, String)> = Vec::new();
    for (k, t) in &spec.query {
        if let Some(v) = core_actions::render(&Value::String(t.clone()), &look).map_err(bad)? {
            query.push((k.clone(), text_of(&v)));
        }
    }
    if !query.is_empty() {
        req.url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    let params = spec
        .document
        .clone()
        .unwrap_or_else(|| Value::Object(spec.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect()));
    match spec.body {
        BodyKind::None => {}
        BodyKind::Json => {
            let body = core_actions::render(&params, &look).map_err(bad)?.unwrap_or_else(|| Value::Object(Map::new()));
            req.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            req.body = Some(body.to_string().into());
        }
        BodyKind::Form => {
            let body = core_actions::render(&params, &look).map_err(bad)?.unwrap_or_else(|| Value::Object(Map::new()));
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in body.as_object().into_iter().flatten() {
                match v {
                    Value::Array(items) => {
                        for i in items {
                            form.append_pair(k, &text_of(i));
                        }
                    }
                    other => {
                        form.append_pair(k, &text_of(other));
                    }
                }
            }
            req.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
            req.body = Some(form.finish().into());
        }
    }
    if let Some(body) = values.body {
        let kind = HeaderValue::from_str(&body.content_type)
            .map_err(|_| ServiceError::Internal("a handler's content type".into()))?;
        req.headers.insert(CONTENT_TYPE, kind);
        req.body = Some(body.bytes.clone());
    }
    Ok(req)
}

/// A refusal found in an answer, for people: the `message` of each error (with its `field` path
/// where it names one, as GraphQL `userErrors` do), else the value as it is; at most 300 characters.
fn refusal_text(errors: &Value) -> String {
    let text = refusal_messages(errors);
    if text.chars().count() <= 300 { text } else { format!("{}…", text.chars().take(300).collect::<String>()) }
}

fn refusal_messages(errors: &Value) -> String {
    let one = |e: &Value| -> Option<String> {
        let message = e.get("message")?.as_str()?;
        let field = e.get("field").and_then(Value::as_array).map(|f| {
            f.iter()
                .filter_map(|p| p.as_str().map(str::to_owned).or_else(|| p.as_u64().map(|n| n.to_string())))
                .collect::<Vec<_>>()
                .join(".")
        });
        Some(match field {
            Some(f) if !f.is_empty() => format!("{f}: {message}"),
            _ => message.to_owned(),
        })
    };
    match errors {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let texts: Vec<String> = items.iter().filter_map(one).collect();
            if texts.is_empty() { errors.to_string() } else { texts.join("; ") }
        }
        other => one(other).unwrap_or_else(|| other.to_string()),
    }
}
