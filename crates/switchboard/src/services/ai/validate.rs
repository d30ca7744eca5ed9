//! `POST /v1/workflows/validate`: a generated workflow's steps checked against the live accounts,
//! nothing run. Per step: the connection is there and usable, the action exists and the connection
//! has its scopes, the input fits the action's schema (every violation at its JSON pointer), and
//! every resource-bound input given as a name, URL or id resolves — to `{id, name}`, or to the
//! candidates when ambiguous, or to the closest names when not found. The problems also come as
//! one line each, meant to be handed back to the model as they are.
//!
//! A step may take a value from an earlier step's output: a string holding `{{steps.N.output}}` or
//! `{{steps.N.output.PATH}}` (N counts from 0 and must be an earlier step; PATH is dot-separated keys
//! or indices). Such a value is filled in when the workflow runs, so it is neither schema-checked
//! nor resolved here.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::{Map, Value};
use switchboard_core::access::Principal;

use super::user_view;
use crate::services::credentials::connections::status;
use crate::services::{InputProblem, ServiceError, ServiceResult, Services};

/// The most steps one workflow may have.
pub const MAX_STEPS: usize = 100;

static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    // Compiled once from a literal; cannot fail.
    #[allow(clippy::unwrap_used)]
    Regex::new(r"\{\{\s*steps\.(\d+)\.output((?:\.[A-Za-z0-9_\-]+)*)\s*\}\}").unwrap()
});

#[derive(Debug, Clone)]
pub struct StepIn {
    pub connection: String,
    pub action: String,
    pub input: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResolvedItem {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub index: usize,
    pub connection: String,
    pub action: String,
    pub ok: bool,
    /// Resource-bound inputs as they resolved, by property.
    pub resolved: BTreeMap<String, ResolvedItem>,
    /// JSON pointers of inputs that take an earlier step's output, with the step they come from.
    pub from_steps: BTreeMap<String, usize>,
    pub problems: Vec<InputProblem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    pub ok: bool,
    pub steps: Vec<StepReport>,
    /// One line per problem: which step, where, what is wrong and what to change.
    pub feedback: Vec<String>,
}

/// Every string in `v` that refers to steps, by JSON pointer, with the steps referred to.
fn references(v: &Value, pointer: &str, out: &mut Vec<(String, Vec<usize>)>) {
    match v {
        Value::String(s) => {
            let steps: Vec<usize> = REFERENCE.captures_iter(s).filter_map(|c| c[1].parse().ok()).collect();
            if !steps.is_empty() {
                out.push((pointer.to_owned(), steps));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                references(x, &format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                references(x, &format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        _ => {}
    }
}

fn problem(path: &str, message: impl Into<String>) -> InputProblem {
    InputProblem { path: path.to_owned(), message: message.into(), candidates: None }
}

impl Services {
    /// Checks every step; runs nothing.
    pub async fn validate_workflow(
        &self,
        actor: &Principal,
        org: Option<&str>,
        user: Option<&str>,
        steps: Vec<StepIn>,
    ) -> ServiceResult<Validation> {
        if steps.is_empty() || steps.len() > MAX_STEPS {
            return Err(ServiceError::invalid("steps", format!("steps must hold 1 to {MAX_STEPS} steps")));
        }
        let view = user_view(actor, org, user)?;
        let mut reports = Vec::with_capacity(steps.len());
        for (index, step) in steps.into_iter().enumerate() {
            reports.push(self.validate_step(&view, index, step).await?);
        }
        let feedback = reports
            .iter()
            .flat_map(|r| {
                r.problems.iter().map(move |p| {
                    let mut line =
                        format!("step {} ({} on {}): {}: {}", r.index, r.action, r.connection, p.path, p.message);
                    if let Some(c) = &p.candidates
                        && !c.is_empty()
                    {
                        let names: Vec<String> = c
                            .iter()
                            .take(5)
                            .map(|x| {
                                format!(
                                    "{:?} (id {})",
                                    x.get("name").and_then(Value::as_str).unwrap_or_default(),
                                    x.get("id").and_then(Value::as_str).unwrap_or_default()
                                )
                            })
                            .collect();
                        line.push_str(&format!(" — use one of: {}", names.join(", ")));
                    }
                    line
                })
            })
            .collect();
        Ok(Validation { ok: reports.iter().all(|r| r.ok), steps: reports, feedback })
    }

    async fn validate_step(&self, view: &Principal, index: usize, step: StepIn) -> ServiceResult<StepReport> {
        let mut report = StepReport {
            index,
            connection: step.connection.clone(),
            action: step.action.clone(),
            ok: false,
            resolved: BTreeMap::new(),
            from_steps: BTreeMap::new(),
            problems: Vec::new(),
        };
        let mut refs = Vec::new();
        references(&Value::Object(step.input.clone()), "", &mut refs);
        let mut deferred = Vec::new();
        for (pointer, targets) in refs {
            for t in &targets {
                if *t >= index {
                    report.problems.push(problem(
                        &format!("/input{pointer}"),
                        format!(
                            "refers to step {t}, which does not come before this one; a step can use the output of steps 0 to {} only",
                            index.saturating_sub(1)
                        ),
                    ));
                }
            }
            if let Some(first) = targets.first() {
                report.from_steps.insert(format!("/input{pointer}"), *first);
            }
            deferred.push(pointer);
        }
        match self.check_action_input(view, &step.connection, &step.action, step.input, &deferred).await {
            Ok(check) => {
                match check.status.as_str() {
                    status::NEEDS_REAUTH => report.problems.push(problem(
                        "/connection",
                        "this connection needs re-authorization: the user must reconnect it on the integrations page before the workflow can run",
                    )),
                    status::ERROR | status::REVOKED => report.problems.push(problem(
                        "/connection",
                        format!("this connection is {}: the user must reconnect it, or pick another connection", check.status),
                    )),
                    _ => {}
                }
                if !check.missing_scopes.is_empty() {
                    report.problems.push(problem(
                        "/connection",
                        format!(
                            "this connection lacks the scope {} that {} needs; reconnect it asking for that scope, or use a connection that has it",
                            check.missing_scopes.join(" or "),
                            step.action
                        ),
                    ));
                }
                report.problems.extend(check.problems);
                report.resolved = check
                    .resolved
                    .into_iter()
                    .map(|(prop, item)| (prop, ResolvedItem { id: item.id, name: item.name }))
                    .collect();
            }
            Err(ServiceError::NotFound(message)) => {
                // An unknown connection or action: say which, and what exists.
                let at = if message.starts_with("connection ") { "/connection" } else { "/action" };
                report.problems.push(problem(at, message));
            }
            Err(ServiceError::Invalid { field, message }) => {
                report.problems.push(problem(&format!("/input/{field}"), message))
            }
            Err(e @ ServiceError::InsufficientScope { .. }) => {
                report.problems.push(problem("/connection", e.to_string()))
            }
            Err(e @ (ServiceError::RateLimited { .. } | ServiceError::Provider(_) | ServiceError::NeedsReauth(_))) => {
                report
                    .problems
                    .push(problem("/connection", format!("the provider could not be asked to check the names: {e}")));
            }
            Err(e) => return Err(e),
        }
        report.ok = report.problems.is_empty();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_at_their_pointers() {
        let input = serde_json::json!({
            "spreadsheet": "{{steps.0.output.id}}",
            "values": {"Email": "{{ steps.1.output.email }}", "Note": "paid by {{steps.0.output}}"},
            "rows": [["x", "{{steps.2.output.rows.0}}"]],
            "a/b": "{{steps.0.output.x}}",
            "plain": "no reference {{ steps }}",
        });
        let mut out = Vec::new();
        references(&input, "", &mut out);
        out.sort();
        assert_eq!(
            out,
            vec![
                ("/a~1b".to_owned(), vec![0]),
                ("/rows/0/1".to_owned(), vec![2]),
                ("/spreadsheet".to_owned(), vec![0]),
                ("/values/Email".to_owned(), vec![1]),
                ("/values/Note".to_owned(), vec![0]),
            ]
        );
    }
}
