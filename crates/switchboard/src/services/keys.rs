//! Secret API keys, managed by the operator from the command line.

use switchboard_core::access::Principal;
use switchboard_core::ids::ApiKeyId;
use switchboard_core::token::{NewToken, TokenKind};

use super::audit::{AuditEvent, Outcome};
use super::{ServiceError, ServiceResult, Services};
use crate::store::{ApiKeyRecord, StoreError};

impl Services {
    /// Creates a key; the token is in the result and nowhere else.
    pub async fn create_api_key(&self, actor: &Principal, name: &str) -> ServiceResult<(ApiKeyRecord, NewToken)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(ServiceError::invalid("name", "a key's name is 1 to 100 characters, e.g. \"backend-prod\""));
        }
        let now = self.clock.now();
        let token = NewToken::mint(TokenKind::SecretKey);
        let rec = ApiKeyRecord {
            id: ApiKeyId::generate(now).to_string(),
            name: name.to_owned(),
            hint: token.hint.clone(),
            created_at: now.millis(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.insert_api_key(&rec, token.digest.as_str()).await?;
        self.audit(
            actor,
            AuditEvent {
                org: None,
                action: "api_key.create",
                target_kind: "api_key",
                target_id: &rec.id,
                outcome: Outcome::Success,
                detail: serde_json::json!({ "name": rec.name, "hint": rec.hint }),
            },
        )
        .await?;
        Ok((rec, token))
    }

    pub async fn list_api_keys(&self) -> ServiceResult<Vec<ApiKeyRecord>> {
        Ok(self.store.api_keys().await?)
    }

    pub async fn revoke_api_key(&self, actor: &Principal, id_or_name: &str) -> ServiceResult<ApiKeyRecord> {
        let rec = self.store.revoke_api_key(id_or_name, self.clock.now().millis()).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::not_found(format!("no live key with id or name {id_or_name:?}")),
            other => other.into(),
        })?;
        self.checked_tokens.clear();
        self.audit(
            actor,
            AuditEvent {
                org: None,
                action: "api_key.revoke",
                target_kind: "api_key",
                target_id: &rec.id,
                outcome: Outcome::Success,
                detail: serde_json::json!({ "name": rec.name }),
            },
        )
        .await?;
        Ok(rec)
    }
}
