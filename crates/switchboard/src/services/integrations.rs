//! Integrations: the operator's OAuth app per provider (client id, sealed
//! client secret, scopes, redirect URI, provider settings such as a fixed
//! Microsoft tenant or a custom server's endpoints). Secret keys only.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use switchboard_core::access::Principal;
use switchboard_core::catalog::Provider;
use switchboard_core::ids::IntegrationId;
use switchboard_core::time::Timestamp;
use switchboard_core::vault::Binding;

use super::audit::{AuditEvent, Outcome};
use super::{ServiceError, ServiceResult, Services, access};
use crate::store::{IntegrationPatch, IntegrationRecord, StoreError};

/// The generic provider whose endpoints come from the integration.
pub const CUSTOM_OAUTH2: &str = "custom-oauth2";

/// An integration as callers see it: never the secret.
#[derive(Debug, Clone)]
pub struct Integration {
    pub id: IntegrationId,
    pub provider: String,
    pub client_id: String,
    pub has_client_secret: bool,
    pub scopes: Vec<String>,
    pub redirect_uri: Option<String>,
    pub settings: BTreeMap<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug)]
pub struct NewIntegration {
    pub id: String,
    pub provider: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub scopes: Option<Vec<String>>,
    pub redirect_uri: Option<String>,
    pub settings: BTreeMap<String, Value>,
}

#[derive(Debug, Default)]
pub struct IntegrationChanges {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub scopes: Option<Vec<String>>,
    pub redirect_uri: Option<Option<String>>,
    pub settings: Option<BTreeMap<String, Value>>,
}

fn binding(id: &str) -> Binding<'_> {
    Binding { org: "", table: "integrations", row: id, field: "client_secret" }
}

impl Services {
    pub async fn create_integration(&self, actor: &Principal, input: NewIntegration) -> ServiceResult<Integration> {
        actor.require_secret_key("managing integrations").map_err(|e| access(e, "integration"))?;
        let id = IntegrationId::parse(&input.id).map_err(|e| ServiceError::invalid("id", e.0))?;
        let provider = self.oauth_provider(&input.provider)?;
        let client_id = check_client_id(&input.client_id)?;
        let scopes = match input.scopes {
            Some(s) => check_scopes(&s)?,
            None => Vec::new(),
        };
        let redirect_uri = input.redirect_uri.as_deref().map(check_redirect_uri).transpose()?;
        let settings = self.check_settings(&provider, input.settings)?;
        let sealed = match &input.client_secret {
            Some(s) => Some(self.seal_client_secret(id.as_str(), s).await?),
            None => None,
        };
        let now = self.clock.now().millis();
        let rec = IntegrationRecord {
            id: id.to_string(),
            provider: provider.id.clone(),
            client_id,
            client_secret: sealed,
            scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
            redirect_uri,
            settings: Value::Object(settings.into_iter().collect()).to_string(),
            created_at: now,
            updated_at: now,
        };
        self.store.insert_integration(&rec).await?;
        self.integration_records.forget(&rec.id);
        self.audit_integration(actor, "integration.create", &rec).await?;
        to_integration(rec)
    }

    pub async fn get_integration(&self, actor: &Principal, id: &str) -> ServiceResult<Integration> {
        actor.require_secret_key("reading integrations").map_err(|e| access(e, "integration"))?;
        to_integration(self.integration_record(id).await?)
    }

    pub async fn list_integrations(
        &self,
        actor: &Principal,
        provider: Option<&str>,
    ) -> ServiceResult<Vec<Integration>> {
        actor.require_secret_key("reading integrations").map_err(|e| access(e, "integration"))?;
        self.store.integrations(provider).await?.into_iter().map(to_integration).collect()
    }

    /// Which providers the operator made connectable through OAuth, each with the integration a
    /// connect flow uses: its own, else one sharing its OAuth app (a Google app for Drive). Ids only,
    /// nothing secret, so any caller may read it (the integrations page shows it to end users).
    pub async fn connectable_integrations(&self) -> ServiceResult<std::collections::BTreeMap<String, String>> {
        let integrations = self.store.integrations(None).await?;
        let mut out = std::collections::BTreeMap::new();
        for p in self.catalog.iter().filter(|p| p.oauth2.is_some()) {
            let own = integrations.iter().find(|i| i.provider == p.id);
            let shared = || {
                integrations.iter().find(|i| {
                    p.app_group.is_some()
                        && self
                            .catalog
                            .get(&i.provider)
                            .is_some_and(|o| o.app_group == p.app_group && o.oauth2.is_some())
                })
            };
            if let Some(i) = own.or_else(shared) {
                out.insert(p.id.clone(), i.id.clone());
            }
        }
        Ok(out)
    }

    pub async fn update_integration(
        &self,
        actor: &Principal,
        id: &str,
        changes: IntegrationChanges,
    ) -> ServiceResult<Integration> {
        actor.require_secret_key("managing integrations").map_err(|e| access(e, "integration"))?;
        let existing = self.integration_record(id).await?;
        let provider = self.oauth_provider(&existing.provider)?;
        let mut patch = IntegrationPatch {
            client_id: changes.client_id.as_deref().map(check_client_id).transpose()?,
            scopes: match changes.scopes {
                Some(s) => Some(serde_json::to_string(&check_scopes(&s)?).unwrap_or_else(|_| "[]".into())),
                None => None,
            },
            redirect_uri: match changes.redirect_uri {
                Some(Some(r)) => Some(Some(check_redirect_uri(&r)?)),
                Some(None) => Some(None),
                None => None,
            },
            ..IntegrationPatch::default()
        };
        if let Some(s) = changes.settings {
            let s = self.check_settings(&provider, s)?;
            patch.settings = Some(Value::Object(s.into_iter().collect()).to_string());
        }
        if let Some(secret) = &changes.client_secret {
            patch.client_secret = Some(self.seal_client_secret(&existing.id, secret).await?);
        }
        let secret_changed = patch.client_secret.is_some();
        let rec = self.store.update_integration(&existing.id, patch, self.clock.now().millis()).await?;
        self.integration_records.forget(&rec.id);
        self.audit(
            actor,
            AuditEvent {
                org: None,
                action: "integration.update",
                target_kind: "integration",
                target_id: &rec.id,
                outcome: Outcome::Success,
                detail: serde_json::json!({ "provider": rec.provider, "client_secret_changed": secret_changed }),
            },
        )
        .await?;
        to_integration(rec)
    }

    pub async fn delete_integration(&self, actor: &Principal, id: &str) -> ServiceResult<()> {
        actor.require_secret_key("managing integrations").map_err(|e| access(e, "integration"))?;
        let rec = self.integration_record(id).await?;
        let in_use = self.store.count_connections_of_integration(&rec.id).await?;
        if in_use > 0 {
            return Err(ServiceError::Conflict(format!(
                "{in_use} connection(s) use integration {:?}; disconnect them first (GET /v1/connections lists them)",
                rec.id
            )));
        }
        let deleted = self.store.delete_integration(&rec.id).await;
        self.integration_records.forget(&rec.id);
        deleted.map_err(|e| match e {
            StoreError::NotFound => ServiceError::not_found(format!("integration {id:?} not found")),
            other => other.into(),
        })?;
        self.audit_integration(actor, "integration.delete", &rec).await
    }

    /// The integration's client secret, opened. For token requests only.
    pub async fn integration_client_secret(&self, rec: &IntegrationRecord) -> ServiceResult<Option<SecretString>> {
        let Some(sealed) = &rec.client_secret else { return Ok(None) };
        let plain = self.vault.open_sealed(&binding(&rec.id), sealed).await?;
        let text = String::from_utf8(plain.to_vec())
            .map_err(|_| ServiceError::Internal("client secret is not UTF-8".into()))?;
        Ok(Some(SecretString::from(text)))
    }

    /// An integration's row, from memory when it was read within SWITCHBOARD_ACCESS_CACHE_MS: a
    /// change made here is seen at once, one made on another instance within that time.
    pub async fn integration_record(&self, id: &str) -> ServiceResult<IntegrationRecord> {
        let now = self.clock.now().millis();
        if let Some(rec) = self.integration_records.get(id, now) {
            return Ok(rec);
        }
        let rec = self.integration_record_stored(id).await?;
        self.integration_records.put(id, rec.clone(), now, None);
        Ok(rec)
    }

    async fn integration_record_stored(&self, id: &str) -> ServiceResult<IntegrationRecord> {
        self.store.integration(id).await?.ok_or_else(|| {
            ServiceError::not_found(format!(
                "integration {:?} not found",
                switchboard_core::ids::truncate_for_message(id)
            ))
        })
    }

    async fn seal_client_secret(&self, id: &str, secret: &SecretString) -> ServiceResult<Vec<u8>> {
        let s = secret.expose_secret();
        if s.is_empty() || s.len() > 4096 {
            return Err(ServiceError::invalid("client_secret", "client_secret must be 1 to 4096 characters"));
        }
        Ok(self.vault.seal(&binding(id), s.as_bytes()).await?)
    }

    async fn audit_integration(&self, actor: &Principal, action: &str, rec: &IntegrationRecord) -> ServiceResult<()> {
        self.audit(
            actor,
            AuditEvent {
                org: None,
                action,
                target_kind: "integration",
                target_id: &rec.id,
                outcome: Outcome::Success,
                detail: serde_json::json!({ "provider": rec.provider, "client_id": rec.client_id }),
            },
        )
        .await
    }

    fn oauth_provider(&self, id: &str) -> ServiceResult<std::sync::Arc<Provider>> {
        let p = self.catalog.get(id).ok_or_else(|| {
            ServiceError::invalid(
                "provider",
                format!("provider {id:?} is not in the catalog; GET /v1/providers lists them"),
            )
        })?;
        if p.oauth2.is_none() {
            return Err(ServiceError::invalid(
                "provider",
                format!(
                    "{} has no OAuth 2.0 flow, so it needs no integration: connect it with POST /v1/connections",
                    p.name
                ),
            ));
        }
        Ok(p.clone())
    }

    /// Settings are the provider's placeholder values (e.g. a fixed `tenant`),
    /// and for custom-oauth2 its endpoints, client authentication and PKCE.
    fn check_settings(
        &self,
        provider: &Provider,
        settings: BTreeMap<String, Value>,
    ) -> ServiceResult<BTreeMap<String, Value>> {
        let custom = provider.id == CUSTOM_OAUTH2;
        for (key, value) in &settings {
            let field = key.as_str();
            match (custom, field) {
                (
                    true,
                    "authorization_url" | "token_url" | "revocation_url" | "userinfo_url" | "issuer" | "api_base_url",
                ) => {
                    let s = value
                        .as_str()
                        .ok_or_else(|| ServiceError::invalid(field, format!("{field} must be a URL string")))?;
                    self.check_endpoint(field, s)?;
                }
                (true, "client_auth") => {
                    if !matches!(value.as_str(), Some("basic" | "post")) {
                        return Err(ServiceError::invalid(field, "client_auth must be \"basic\" or \"post\""));
                    }
                }
                (true, "pkce" | "authorization_response_iss_parameter_supported") => {
                    if !value.is_boolean() {
                        return Err(ServiceError::invalid(field, format!("{field} must be true or false")));
                    }
                }
                _ => {
                    let ph = provider.placeholders.get(field).ok_or_else(|| {
                        let known: Vec<_> = provider.placeholders.keys().map(String::as_str).collect();
                        ServiceError::invalid(
                            field,
                            if known.is_empty() {
                                format!("{} takes no setting {field:?}", provider.name)
                            } else {
                                format!("{} takes no setting {field:?}; it takes: {}", provider.name, known.join(", "))
                            },
                        )
                    })?;
                    let s = value.as_str().ok_or_else(|| {
                        ServiceError::invalid(field, format!("{field} must be a string: {}", ph.label))
                    })?;
                    super::oauth::connect::check_placeholder(ph, s, self.settings.allow_private_networks)
                        .map_err(|why| ServiceError::invalid(field, format!("{field} {s:?} does not fit: {why}")))?;
                }
            }
        }
        if custom {
            for required in ["authorization_url", "token_url"] {
                if !settings.contains_key(required) {
                    return Err(ServiceError::invalid(
                        required,
                        format!("a custom-oauth2 integration needs {required}"),
                    ));
                }
            }
        }
        Ok(settings)
    }

    fn check_endpoint(&self, field: &str, s: &str) -> ServiceResult<()> {
        let u = url::Url::parse(s).map_err(|e| ServiceError::invalid(field, format!("{field} is not a URL: {e}")))?;
        let plain_http_ok = self.settings.allow_private_networks;
        match u.scheme() {
            "https" => Ok(()),
            "http" if plain_http_ok => Ok(()),
            _ => Err(ServiceError::invalid(field, format!("{field} must be an https URL"))),
        }
    }
}

fn check_client_id(s: &str) -> ServiceResult<String> {
    let s = s.trim();
    if s.is_empty() || s.len() > 512 {
        return Err(ServiceError::invalid(
            "client_id",
            "client_id must be 1 to 512 characters: the OAuth app's client id from the provider's developer console",
        ));
    }
    Ok(s.to_owned())
}

fn check_scopes(scopes: &[String]) -> ServiceResult<Vec<String>> {
    if scopes.len() > 100 {
        return Err(ServiceError::invalid("scopes", "at most 100 scopes"));
    }
    for s in scopes {
        if s.is_empty() || s.len() > 512 || s.chars().any(char::is_whitespace) {
            return Err(ServiceError::invalid(
                "scopes",
                format!("each scope is a non-empty string without spaces (got {s:?})"),
            ));
        }
    }
    Ok(scopes.to_vec())
}

fn check_redirect_uri(s: &str) -> ServiceResult<String> {
    let u = url::Url::parse(s)
        .map_err(|e| ServiceError::invalid("redirect_uri", format!("redirect_uri is not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.fragment().is_some() {
        return Err(ServiceError::invalid("redirect_uri", "redirect_uri must be an http(s) URL without a #fragment"));
    }
    Ok(s.to_owned())
}

fn to_integration(rec: IntegrationRecord) -> ServiceResult<Integration> {
    let scopes: Vec<String> =
        serde_json::from_str(&rec.scopes).map_err(|e| ServiceError::Internal(format!("stored scopes: {e}")))?;
    let settings: BTreeMap<String, Value> =
        serde_json::from_str(&rec.settings).map_err(|e| ServiceError::Internal(format!("stored settings: {e}")))?;
    Ok(Integration {
        id: IntegrationId::from_stored(rec.id),
        provider: rec.provider,
        client_id: rec.client_id,
        has_client_secret: rec.client_secret.is_some(),
        scopes,
        redirect_uri: rec.redirect_uri,
        settings,
        created_at: Timestamp::from_millis(rec.created_at),
        updated_at: Timestamp::from_millis(rec.updated_at),
    })
}
