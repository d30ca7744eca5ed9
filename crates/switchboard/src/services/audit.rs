//! The audit log: who did what to which thing, when, and how it ended. Never a secret.

use switchboard_core::access::{OrgScope, Principal};
use switchboard_core::ids::AuditId;

use switchboard_core::ids::OrgId;
use tokio::sync::{mpsc, oneshot};

use super::{ServiceResult, Services, access};
use crate::store::{AuditFilter, AuditRecord, NewAudit, Page, Store, StoreError, StoreResult};

/// Most entries committed in one transaction.
const MAX_BATCH: usize = 256;

type Pending = (NewAudit, oneshot::Sender<StoreResult<()>>);

/// Writes audit entries with group commit: entries that arrive while a batch
/// is being committed go into the next one, so concurrent requests share a
/// transaction and an fsync. Each caller still waits until its own entry is
/// durable, so nothing is acknowledged before it is on record.
#[derive(Clone, Debug)]
pub struct AuditWriter {
    tx: mpsc::Sender<Pending>,
}

impl AuditWriter {
    /// Starts the writer task; it ends when the last handle is dropped.
    #[must_use]
    pub fn spawn(store: Store) -> Self {
        let (tx, mut rx) = mpsc::channel::<Pending>(4 * MAX_BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                let recs: Vec<&NewAudit> = batch.iter().map(|(r, _)| r).collect();
                let result = store.insert_audit_batch(&recs).await;
                for (_, reply) in batch {
                    let _ = reply.send(result.clone());
                }
            }
        });
        Self { tx }
    }

    pub async fn write(&self, rec: NewAudit) -> StoreResult<()> {
        let (reply, done) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the audit writer has stopped".into());
        self.tx.send((rec, reply)).await.map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
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
        let now = self.clock.now();
        let rec = NewAudit {
            id: AuditId::generate(now).to_string(),
            at: now.millis(),
            org: event.org.map(str::to_owned),
            actor: actor.to_string(),
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
