//! The audit log: who did what to which thing, when, and how it ended. Never a secret.

use switchboard_core::access::{OrgScope, Principal};
use switchboard_core::ids::AuditId;

use super::group_commit::GroupCommit;
use super::{ServiceResult, Services, access};
use crate::store::{AuditFilter, AuditRecord, NewAudit, Page, Store, StoreResult};
use switchboard_core::ids::OrgId;

/// Writes audit entries with group commit: each caller waits until its own
/// entry is durable, so nothing is acknowledged before it is on record.
#[derive(Clone, Debug)]
pub struct AuditWriter(GroupCommit<NewAudit, ()>);

impl AuditWriter {
    /// Starts the writer task; it ends when the last handle is dropped.
    #[must_use]
    pub fn spawn(store: Store) -> Self {
        Self(GroupCommit::spawn("audit", move |batch: Vec<NewAudit>| {
            let store = store.clone();
            async move {
                let recs: Vec<&NewAudit> = batch.iter().collect();
                store.insert_audit_batch(&recs).await?;
                Ok(vec![(); batch.len()])
            }
        }))
    }

    pub async fn write(&self, rec: NewAudit) -> StoreResult<()> {
        self.0.write(rec).await
    }
}

/// One thing that happened.
#[derive(Debug)]
pub struct AuditEvent<'a> {
    pub org: Option<&'a str>,
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: &'a str,
    pub outcome: Outcome,
    /// Non-secret facts as a JSON object.
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

impl Services {
    pub async fn audit(&self, actor: &Principal, event: AuditEvent<'_>) -> ServiceResult<()> {
        self.audit_as(&actor.to_string(), event).await
    }

    /// As [`Self::audit`], for an actor recorded earlier (the one that started a connect flow).
    pub async fn audit_as(&self, actor: &str, event: AuditEvent<'_>) -> ServiceResult<()> {
        let now = self.clock.now();
        let rec = NewAudit {
            id: AuditId::generate(now).to_string(),
            at: now.millis(),
            org: event.org.map(str::to_owned),
            actor: actor.to_owned(),
            action: event.action.to_owned(),
            target_kind: event.target_kind.to_owned(),
            target_id: event.target_id.to_owned(),
            outcome: event.outcome.as_str().to_owned(),
            detail: event.detail.to_string(),
        };
        self.audit_writer.write(rec).await?;
        Ok(())
    }

    /// Lists entries newest first. Secret keys see every org (or one, filtered);
    /// admin sessions see their own org's entries; members may not read the log.
    pub async fn list_audit(
        &self,
        actor: &Principal,
        org: Option<&OrgId>,
        target: Option<String>,
        action: Option<String>,
        page: Page,
    ) -> ServiceResult<Vec<AuditRecord>> {
        let scope = actor.scope(org).map_err(|e| access(e, "org"))?;
        actor.require_admin("reading the audit log").map_err(|e| access(e, "org"))?;
        let filter = AuditFilter {
            org: match &scope {
                OrgScope::All => None,
                OrgScope::One(o) => Some(o.to_string()),
            },
            target,
            action,
        };
        Ok(self.store.audit(&filter, &page).await?)
    }
}
