//! Keeping OAuth tokens fresh: refresh ahead of expiry, single-flight per
//! connection in this process (a lock per connection) and across instances
//! (a lease in the store), with `needs_reauth` on a dead grant and backoff on
//! transient failures.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_core::access::Principal;
use switchboard_core::time::Timestamp;

use super::protocol::{OAuthTokens, TokenError};
use crate::services::audit::{AuditEvent, Outcome};
use crate::services::credentials::connections::{Connection, status};
use crate::services::group_commit::GroupCommit;
use crate::services::{ServiceError, ServiceResult, Services};
use crate::store::{ConnectionRecord, RefreshFailure, RefreshToStore, Store};

/// One async lock per connection being refreshed in this process.
#[derive(Default)]
pub struct RefreshLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for RefreshLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshLocks")
    }
}

impl RefreshLocks {
    fn get(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(id.to_owned()).or_default().clone()
    }

    fn forget(&self, id: &str) {
        let mut map = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.get(id).is_some_and(|l| Arc::strong_count(l) == 1) {
            map.remove(id);
        }
    }
}

/// Stores refreshed tokens with group commit: refreshes that finish while a batch is being
/// committed share the next transaction (and its fsync), the console's counts with them. Each
/// refresh still waits until its own tokens are durable.
#[derive(Clone, Debug)]
pub struct RefreshWriter(GroupCommit<RefreshToStore, bool>);

impl RefreshWriter {
    /// Starts the writer task; it ends when the last handle is dropped.
    #[must_use]
    pub fn spawn(store: Store) -> Self {
        Self(GroupCommit::spawn("refresh", move |batch: Vec<RefreshToStore>| {
            let store = store.clone();
            async move { store.store_refreshed_batch(&batch).await }
        }))
    }

    /// Whether the tokens were stored: false when the lease lapsed first.
    pub async fn write(&self, refreshed: RefreshToStore) -> crate::store::StoreResult<bool> {
        self.0.write(refreshed).await
    }
}

/// Retry delay after the n-th consecutive failure: 1, 2, 4, 8 minutes, then 8.
#[must_use]
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(60 << failures.saturating_sub(1).min(3))
}

impl Services {
    /// Due: an OAuth token inside the refresh window that can be refreshed. A
    /// connection without a refresh token (`refresh_at` is NULL while it is
    /// connected) is handed out until it expires, and is not refreshed early
    /// into a failure it cannot avoid.
    fn refresh_due(&self, rec: &ConnectionRecord, now: Timestamp) -> bool {
        rec.auth_mode == "oauth2"
            && (rec.refresh_at.is_some() || Self::expired(rec, now))
            && rec.expires_at.is_some_and(|e| e <= now.plus(self.settings.refresh_window).millis())
    }

    fn expired(rec: &ConnectionRecord, now: Timestamp) -> bool {
        rec.expires_at.is_some_and(|e| e <= now.millis())
    }

    /// The connection's tokens, refreshed first when inside the refresh window
    /// (or `force`). Waits for a refresh already under way here or elsewhere.
    pub(crate) async fn fresh_tokens(
        &self,
        rec: ConnectionRecord,
        force: bool,
    ) -> ServiceResult<(ConnectionRecord, OAuthTokens, bool)> {
        let now = self.clock.now();
        if !force && !self.refresh_due(&rec, now) {
            let tokens = self.open_tokens(&rec).await?;
            return Ok((rec, tokens, false));
        }
        let id = rec.id.clone();
        let lock = self.refresh_locks.get(&id);
        let result = {
            let _held = lock.lock().await;
            self.refresh_single_flight(&id, force, rec.last_refreshed_at).await
        };
        drop(lock);
        self.refresh_locks.forget(&id);
        result
    }

    async fn refresh_single_flight(
        &self,
        id: &str,
        force: bool,
        seen_refresh: Option<i64>,
    ) -> ServiceResult<(ConnectionRecord, OAuthTokens, bool)> {
        let owner = self.instance_id.clone();
        let lease = self.settings.refresh_lease;
        let deadline = Instant::now() + lease + Duration::from_secs(5);
        loop {
            let now = self.clock.now();
            let current = self
                .store
                .connection(id, None)
                .await?
                .ok_or_else(|| ServiceError::not_found(format!("connection {id:?} not found")))?;
            // Someone refreshed while we waited for the lock or the lease.
            let refreshed_meanwhile = current.last_refreshed_at != seen_refresh;
            if current.status == status::NEEDS_REAUTH {
                return Err(needs_reauth(&current));
            }
            if (!force && !self.refresh_due(&current, now)) || (force && refreshed_meanwhile) {
                let tokens = self.open_tokens(&current).await?;
                return Ok((current, tokens, refreshed_meanwhile));
            }
            if let Some(claimed) =
                self.store.claim_connection(id, &owner, now.plus(lease).millis(), now.millis()).await?
            {
                let tokens = self.refresh_leased(claimed).await?;
                let updated = self
                    .store
                    .connection(id, None)
                    .await?
                    .ok_or_else(|| ServiceError::not_found(format!("connection {id:?} not found")))?;
                return Ok((updated, tokens, true));
            }
            if Instant::now() > deadline {
                return Err(ServiceError::Unavailable(format!(
                    "connection {id} is being refreshed elsewhere and did not finish in time; try again"
                )));
            }
            // Another instance holds the lease: wait for its result instead of racing it.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Refreshes a connection whose lease this instance holds, and releases it.
    pub(crate) async fn refresh_leased(&self, rec: ConnectionRecord) -> ServiceResult<OAuthTokens> {
        let owner = self.instance_id.clone();
        let started = Instant::now();
        let result = self.refresh_at_provider(&rec).await;
        let now = self.clock.now();
        let elapsed = started.elapsed().as_secs_f64();
        match result {
            Ok((tokens, expires_at, scopes)) => {
                let sealed = self.seal_tokens(&rec.org, &rec.id, &tokens).await?;
                let refresh_at = if tokens.refresh_token.is_some() { expires_at } else { None };
                let scopes_json = scopes.map(|s| serde_json::to_string(&s).unwrap_or_else(|_| "[]".into()));
                let stored = self
                    .refresh_writer
                    .write(RefreshToStore {
                        id: rec.id.clone(),
                        owner,
                        credentials: sealed,
                        expires_at,
                        refresh_at,
                        scopes: scopes_json,
                        now: now.millis(),
                        hour: crate::services::console::hour_of(now),
                        provider: rec.provider.clone(),
                    })
                    .await?;
                if !stored {
                    tracing::warn!(connection = %rec.id, "the refresh lease lapsed before the new tokens were stored; they are handed out but not kept");
                }
                self.metrics.observe_refresh(&rec.provider, "success", elapsed);
                self.connection_records.forget(&rec.id);
                Ok(tokens)
            }
            Err(RefreshError::Token(e)) => {
                self.metrics.observe_refresh(&rec.provider, e.reason(), elapsed);
                self.count_refresh(&rec.provider, "failure", now).await;
                self.record_failure(&rec, &e, now).await?;
                Err(match e {
                    TokenError::Grant { .. } => ServiceError::InvalidCredentials(format!(
                        "{}; the connection needs re-authorization: start the connect flow again with this connection",
                        e
                    )),
                    TokenError::RateLimited { retry_after_s, .. } => {
                        ServiceError::RateLimited { message: e.to_string(), retry_after_s }
                    }
                    other => ServiceError::Provider(other.to_string()),
                })
            }
            Err(RefreshError::Other(e)) => {
                let _ = self.store.release_connection(&rec.id, &owner).await;
                Err(e)
            }
        }
    }

    async fn refresh_at_provider(
        &self,
        rec: &ConnectionRecord,
    ) -> Result<(OAuthTokens, Option<i64>, Option<Vec<String>>), RefreshError> {
        let integration_id = rec.integration.clone().ok_or_else(|| {
            RefreshError::Other(ServiceError::Internal("OAuth connection without an integration".into()))
        })?;
        // A changed client secret applies to the next refresh: at once on this instance, within
        // the access cache time when it was changed on another.
        let integration = match self.integration_record(&integration_id).await {
            Ok(found) => found,
            Err(ServiceError::NotFound(_)) => {
                return Err(RefreshError::Token(TokenError::Client {
                    provider: rec.provider.clone(),
                    code: "integration_removed".into(),
                    description: format!("integration {integration_id:?} no longer exists"),
                }));
            }
            Err(e) => return Err(RefreshError::Other(e)),
        };
        let provider =
            self.catalog.get(&rec.provider).cloned().ok_or_else(|| {
                RefreshError::Other(ServiceError::Internal(format!("{} left the catalog", rec.provider)))
            })?;
        let account = serde_json::from_str(&rec.params).unwrap_or_default();
        let app = self.oauth_app(&integration, &provider, &account).await.map_err(RefreshError::Other)?;
        let old = self.open_tokens(rec).await.map_err(RefreshError::Other)?;
        let Some(refresh_token) = old.refresh_token.clone() else {
            return Err(RefreshError::Token(TokenError::Grant {
                provider: provider.name.clone(),
                code: "no_refresh_token".into(),
                description:
                    "the provider issued no refresh token, so an expired token can only be replaced by connecting again"
                        .into(),
            }));
        };
        let answer = app.refresh(&self.outbound, &refresh_token).await.map_err(RefreshError::Token)?;
        let mut tokens = answer.tokens;
        // Keep the refresh token when the provider does not rotate it.
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token);
        }
        for (k, v) in &old.extra {
            tokens.extra.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let now = self.clock.now();
        let expires_at =
            answer.expires_in.or(app.spec.token_lifetime_s).map(|s| now.plus(Duration::from_secs(s)).millis());
        Ok((tokens, expires_at, answer.scopes))
    }

    async fn record_failure(&self, rec: &ConnectionRecord, e: &TokenError, now: Timestamp) -> ServiceResult<()> {
        let owner = &self.instance_id;
        let message = e.to_string();
        let (new_status, failures, refresh_at) = match e {
            TokenError::Grant { .. } => (status::NEEDS_REAUTH, rec.failure_count + 1, None),
            _ => {
                let failures = rec.failure_count + 1;
                let mut wait = backoff(u32::try_from(failures).unwrap_or(u32::MAX));
                if let TokenError::RateLimited { retry_after_s: Some(s), .. } = e {
                    wait = wait.max(Duration::from_secs(*s));
                }
                let max = i32::try_from(self.settings.refresh_max_failures).unwrap_or(i32::MAX);
                let shown = if failures >= max { status::ERROR } else { rec.status.as_str() };
                // Due again (by the refresher's `refresh_at <= now + window`) once the wait is over.
                (shown, failures, Some(now.plus(wait).plus(self.settings.refresh_window).millis()))
            }
        };
        self.store
            .record_refresh_failure(
                &rec.id,
                owner,
                &RefreshFailure {
                    status: new_status,
                    last_error: &message,
                    failure_count: failures,
                    refresh_at,
                    now: now.millis(),
                },
            )
            .await?;
        if new_status == status::NEEDS_REAUTH {
            self.forget_connection_caches(&rec.id);
        } else {
            self.connection_records.forget(&rec.id);
        }
        let announce = match new_status {
            status::NEEDS_REAUTH => Some("connection.needs_reauth"),
            status::ERROR if rec.status != status::ERROR => Some("connection.error"),
            _ => None,
        };
        if let Some(event_type) = announce {
            self.emit_lifecycle(&rec.org, event_type, &rec.id, serde_json::json!({ "provider": rec.provider, "reason": e.reason(), "message": message, "failures": failures }))
                .await;
        }
        if new_status != rec.status || new_status == status::NEEDS_REAUTH {
            self.audit(
                &Principal::System,
                AuditEvent {
                    org: Some(&rec.org),
                    action: "connection.refresh",
                    target_kind: "connection",
                    target_id: &rec.id,
                    outcome: Outcome::Failure,
                    detail: serde_json::json!({ "provider": rec.provider, "reason": e.reason(), "status": new_status, "failures": failures }),
                },
            )
            .await?;
        }
        Ok(())
    }

    /// `POST /v1/connections/{id}/refresh`: refreshes when due (or when `force`), single-flight.
    pub async fn refresh_connection(
        &self,
        actor: &Principal,
        id: &str,
        force: bool,
    ) -> ServiceResult<(Connection, bool)> {
        let rec = self.visible_connection(actor, id).await?;
        if rec.auth_mode != "oauth2" {
            return Err(ServiceError::invalid(
                "connection",
                format!(
                    "{} connections have no tokens to refresh; POST /v1/connections/{id}/test checks them",
                    rec.auth_mode
                ),
            ));
        }
        let (rec, _tokens, refreshed) = self.fresh_tokens(rec, force).await?;
        Ok((Connection::try_from(&rec)?, refreshed))
    }

    /// The OAuth credentials for the credentials endpoint: refreshed when due; a
    /// still-valid token is handed out if a refresh fails for a passing reason.
    pub(crate) async fn oauth_credentials(
        &self,
        rec: ConnectionRecord,
    ) -> ServiceResult<(ConnectionRecord, OAuthTokens)> {
        let now = self.clock.now();
        if rec.status == status::NEEDS_REAUTH {
            return Err(needs_reauth(&rec));
        }
        match self.fresh_tokens(rec.clone(), false).await {
            Ok((rec, tokens, _)) => Ok((rec, tokens)),
            Err(e @ (ServiceError::InvalidCredentials(_) | ServiceError::NotFound(_))) => Err(e),
            Err(e) if !Self::expired(&rec, now) => {
                tracing::warn!(connection = %rec.id, error = %e, "refresh failed; handing out the current token, which is still valid");
                let tokens = self.open_tokens(&rec).await?;
                Ok((rec, tokens))
            }
            Err(e) => Err(e),
        }
    }

    /// Revokes an OAuth connection's token at the provider, where the catalog says how.
    pub(crate) async fn revoke_at_provider(&self, rec: &ConnectionRecord) -> Result<bool, String> {
        let Some(integration_id) = &rec.integration else { return Ok(false) };
        let integration = self
            .store
            .integration(integration_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the integration was removed")?;
        let provider = self.catalog.get(&rec.provider).cloned().ok_or("the provider left the catalog")?;
        let account = serde_json::from_str(&rec.params).unwrap_or_default();
        let app = self.oauth_app(&integration, &provider, &account).await.map_err(|e| e.to_string())?;
        if app.spec.revoke.is_none() {
            return Ok(false);
        }
        let tokens = self.open_tokens(rec).await.map_err(|e| e.to_string())?;
        let metadata: BTreeMap<String, Value> = serde_json::from_str(&rec.metadata).unwrap_or_default();
        app.revoke(&self.outbound, &tokens, &metadata).await.map(|()| true)
    }

    /// Re-reads a connection's account metadata (the sync job).
    pub(crate) async fn sync_metadata(
        &self,
        rec: &ConnectionRecord,
    ) -> ServiceResult<Option<crate::store::AccountColumns>> {
        let account = if rec.auth_mode == "oauth2" {
            let integration = self.integration_record(rec.integration.as_deref().unwrap_or_default()).await?;
            let provider = self
                .catalog
                .get(&rec.provider)
                .cloned()
                .ok_or_else(|| ServiceError::Internal("provider left the catalog".into()))?;
            let app =
                self.oauth_app(&integration, &provider, &serde_json::from_str(&rec.params).unwrap_or_default()).await?;
            let tokens = self.open_tokens(rec).await?;
            let metadata: std::collections::BTreeMap<String, Value> =
                serde_json::from_str(&rec.metadata).unwrap_or_default();
            let mut account = app.identity(&self.outbound, &tokens, &metadata).await?;
            let mut merged = metadata;
            merged.extend(std::mem::take(&mut account.metadata));
            account.metadata = merged;
            account
        } else {
            match self.account_from_test(rec).await? {
                Some(a) => a,
                None => return Ok(None),
            }
        };
        Ok(Some(crate::store::AccountColumns {
            id: account.id.or_else(|| rec.account_id.clone()),
            name: account.name.or_else(|| rec.account_name.clone()),
            email: account.email.or_else(|| rec.account_email.clone()),
            metadata: Value::Object(account.metadata.into_iter().collect()).to_string(),
        }))
    }
}

enum RefreshError {
    Token(TokenError),
    Other(ServiceError),
}

fn needs_reauth(rec: &ConnectionRecord) -> ServiceError {
    ServiceError::InvalidCredentials(format!(
        "connection {} needs re-authorization ({}); start the connect flow again with this connection",
        rec.id,
        rec.last_error.as_deref().unwrap_or("the provider refused its refresh token")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_1_2_4_8_minutes_then_stays() {
        let mins: Vec<u64> = (1..=6).map(|n| backoff(n).as_secs() / 60).collect();
        assert_eq!(mins, [1, 2, 4, 8, 8, 8]);
    }
}
