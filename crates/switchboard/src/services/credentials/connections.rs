//! Connections made with credentials (API keys, bot tokens, basic auth,
//! service accounts, SMTP, webhook URLs): check fields against the catalog,
//! test against the provider, store sealed, read back only to secret keys.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use switchboard_core::access::{OrgScope, Principal, Role};
use switchboard_core::catalog::{CredentialMode, CredentialSpec, Provider, TestKind};
use switchboard_core::ids::{ConnectionId, OrgId, UserId};
use switchboard_core::time::Timestamp;
use switchboard_core::vault::Binding;

use super::connector::{self, Account, Credentials, Fields, Vars};
use super::{service_account, smtp};
use crate::services::audit::{AuditEvent, Outcome};
use crate::services::{ServiceError, ServiceResult, Services, access};
use crate::store::{AccountColumns, ConnectionFilter, ConnectionRecord, Page, StoreError};

/// Connection statuses.
pub mod status {
    pub const CONNECTED: &str = "connected";
    pub const REFRESHING: &str = "refreshing";
    pub const NEEDS_REAUTH: &str = "needs_reauth";
    pub const ERROR: &str = "error";
    pub const REVOKED: &str = "revoked";
    pub const ALL: [&str; 5] = [CONNECTED, REFRESHING, NEEDS_REAUTH, ERROR, REVOKED];
}

/// A connection as callers see it: metadata, never secrets.
#[derive(Debug, Clone)]
pub struct Connection {
    pub id: String,
    pub org: String,
    pub owner: Option<String>,
    pub provider: String,
    pub integration: Option<String>,
    pub auth_mode: String,
    pub label: String,
    pub shared: bool,
    pub status: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<Timestamp>,
    pub account_id: Option<String>,
    pub account_name: Option<String>,
    pub account_email: Option<String>,
    pub metadata: Map<String, Value>,
    pub fields: Map<String, Value>,
    pub last_error: Option<String>,
    pub failure_count: i32,
    pub last_tested_at: Option<Timestamp>,
    pub last_refreshed_at: Option<Timestamp>,
    pub last_sync_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl TryFrom<&ConnectionRecord> for Connection {
    type Error = ServiceError;

    fn try_from(r: &ConnectionRecord) -> Result<Self, ServiceError> {
        let json = |s: &str, what: &str| -> ServiceResult<Value> {
            serde_json::from_str(s).map_err(|e| ServiceError::Internal(format!("stored {what}: {e}")))
        };
        let obj = |v: Value| v.as_object().cloned().unwrap_or_default();
        let ts = |v: Option<i64>| v.map(Timestamp::from_millis);
        Ok(Self {
            id: r.id.clone(),
            org: r.org.clone(),
            owner: r.owner.clone(),
            provider: r.provider.clone(),
            integration: r.integration.clone(),
            auth_mode: r.auth_mode.clone(),
            label: r.label.clone(),
            shared: r.shared != 0,
            status: r.status.clone(),
            scopes: serde_json::from_value(json(&r.scopes, "scopes")?).unwrap_or_default(),
            expires_at: ts(r.expires_at),
            account_id: r.account_id.clone(),
            account_name: r.account_name.clone(),
            account_email: r.account_email.clone(),
            metadata: obj(json(&r.metadata, "metadata")?),
            fields: obj(json(&r.params, "params")?),
            last_error: r.last_error.clone(),
            failure_count: r.failure_count,
            last_tested_at: ts(r.last_tested_at),
            last_refreshed_at: ts(r.last_refreshed_at),
            last_sync_at: ts(r.last_sync_at),
            created_at: Timestamp::from_millis(r.created_at),
            updated_at: Timestamp::from_millis(r.updated_at),
        })
    }
}

#[derive(Debug, Default)]
pub struct NewConnection {
    pub provider: Option<String>,
    pub integration: Option<String>,
    pub org: Option<String>,
    pub user: Option<String>,
    pub label: Option<String>,
    pub shared: Option<bool>,
    pub auth_mode: Option<String>,
    pub credentials: Map<String, Value>,
}

/// The outcome of testing credentials.
#[derive(Debug)]
pub struct TestOutcome {
    pub ok: bool,
    pub account: Option<Account>,
    pub error: Option<ServiceError>,
}

/// Credentials as the credentials endpoint returns them.
#[derive(Debug)]
pub enum CredentialsOut {
    Fields {
        mode: String,
        fields: Map<String, Value>,
    },
    Token {
        mode: String,
        access_token: SecretString,
        token_type: String,
        expires_at: Option<Timestamp>,
        scopes: Vec<String>,
        fields: Map<String, Value>,
    },
}

/// Service-account access tokens, per connection, reused until shortly before they expire.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<String, (SecretString, String, Timestamp)>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache")
    }
}

/// How long before expiry a cached token is replaced.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

fn binding<'a>(org: &'a str, id: &'a str) -> Binding<'a> {
    Binding { org, table: "connections", row: id, field: "credentials" }
}

fn account_metadata_json(a: &Account) -> String {
    Value::Object(a.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).to_string()
}

impl Services {
    pub(crate) fn provider(&self, id: &str) -> ServiceResult<Arc<Provider>> {
        self.catalog.get(id).cloned().ok_or_else(|| {
            ServiceError::invalid(
                "provider",
                format!("provider {id:?} is not in the catalog; GET /v1/providers lists them"),
            )
        })
    }

    /// Tests credentials without storing anything.
    pub async fn test_credentials(
        &self,
        actor: &Principal,
        provider: &str,
        auth_mode: Option<&str>,
        input: &Map<String, Value>,
    ) -> ServiceResult<Account> {
        actor.acting_org(None).map_err(|e| access(e, "org"))?;
        let provider = self.provider(provider)?;
        let (mode, spec) = connector::choose_mode(&provider, auth_mode, input)?;
        let fields = connector::check_fields(&provider, spec, input, self.settings.allow_private_networks)?;
        let (account, _) = self.run_test(&provider, mode, spec, &fields).await?;
        Ok(account)
    }

    /// Runs the mode's test; a service account also yields its first token.
    async fn run_test(
        &self,
        provider: &Provider,
        mode: CredentialMode,
        spec: &CredentialSpec,
        fields: &Fields,
    ) -> ServiceResult<(Account, Option<service_account::Minted>)> {
        let Some(test) = &spec.test else { return Ok((Account::default(), None)) };
        match test.kind {
            Some(TestKind::Smtp) => return Ok((smtp::test(fields, &self.settings, &self.outbound).await?, None)),
            Some(TestKind::ServiceAccount) => {
                let (account, minted) = self.mint_service_account(provider, fields).await?;
                return Ok((account, Some(minted)));
            }
            None => {}
        }
        if test.only_if.as_deref().is_some_and(|f| fields.get(f).is_none()) {
            return Ok((Account::default(), None));
        }
        let vars = Vars::of_fields(fields);
        let base = spec.base_url.as_deref().or(provider.api_base_url.as_deref());
        let req = connector::build_request(
            provider,
            test,
            base,
            &vars,
            &Credentials { apply: spec.auth.as_ref(), bearer: None, client: None },
        )?;
        let res = self.outbound.send(req).await.map_err(|e| connector::unreachable(provider, e))?;
        let account = connector::interpret(provider, test, &res, &fields.secrets(spec))?;
        let _ = mode;
        Ok((account, None))
    }

    fn service_account_scopes(provider: &Provider) -> Vec<String> {
        provider
            .oauth2
            .as_ref()
            .map(|o| {
                o.default_scopes
                    .iter()
                    .filter(|s| !matches!(s.as_str(), "openid" | "email" | "profile"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn mint_service_account(
        &self,
        provider: &Provider,
        fields: &Fields,
    ) -> ServiceResult<(Account, service_account::Minted)> {
        let json = fields
            .get("service_account_json")
            .ok_or_else(|| ServiceError::invalid("credentials.service_account_json", "the key file is required"))?;
        let key = service_account::parse_key(json, self.settings.allow_private_networks)?;
        let scopes = Self::service_account_scopes(provider);
        let minted =
            service_account::mint(&self.outbound, &key, &scopes, fields.get("subject"), self.clock.now()).await?;
        let mut metadata = BTreeMap::new();
        metadata.insert("client_email".to_owned(), Value::String(key.client_email.clone()));
        if let Some(p) = &key.project_id {
            metadata.insert("project_id".to_owned(), Value::String(p.clone()));
        }
        if let Some(s) = fields.get("subject") {
            metadata.insert("subject".to_owned(), Value::String(s.to_owned()));
        }
        let account = Account {
            id: key.client_id.clone().or(Some(key.client_email.clone())),
            name: Some(key.client_email.clone()),
            email: Some(key.client_email),
            metadata,
        };
        Ok((account, minted))
    }

    /// Checks, tests and stores a new connection. Nothing is stored unless the provider accepts it.
    pub async fn create_connection(&self, actor: &Principal, input: NewConnection) -> ServiceResult<Connection> {
        let requested_org =
            input.org.as_deref().map(OrgId::parse).transpose().map_err(|e| ServiceError::invalid("org", e.0))?;
        let org = actor.acting_org(requested_org.as_ref()).map_err(|e| access(e, "org"))?.ok_or_else(|| {
            ServiceError::invalid("org", "org is required: the host app's id of the org that owns the connection")
        })?;
        let owner = match (actor.user(), &input.user) {
            (Some(u), _) => Some(u.clone()),
            (None, Some(u)) => Some(UserId::parse(u).map_err(|e| ServiceError::invalid("user", e.0))?),
            (None, None) => None,
        };
        let (provider, integration) = match (&input.provider, &input.integration) {
            (_, Some(i)) => {
                let rec = self
                    .integration_record(i)
                    .await
                    .map_err(|_| ServiceError::invalid("integration", format!("integration {i:?} does not exist")))?;
                (self.provider(&rec.provider)?, Some(rec.id))
            }
            (Some(p), None) => (self.provider(p)?, None),
            (None, None) => {
                return Err(ServiceError::invalid(
                    "provider",
                    "give provider (a catalog id such as \"telegram\") or integration",
                ));
            }
        };
        let shared = input.shared.unwrap_or(true);
        if !shared && owner.is_none() {
            return Err(ServiceError::invalid("shared", "a private connection needs an owner: give user"));
        }
        let label = match input.label.as_deref().map(str::trim) {
            Some(l) if !l.is_empty() && l.chars().count() <= 200 => Some(l.to_owned()),
            Some(_) => return Err(ServiceError::invalid("label", "label must be 1 to 200 characters")),
            None => None,
        };
        let (mode, spec) = connector::choose_mode(&provider, input.auth_mode.as_deref(), &input.credentials)?;
        let fields =
            connector::check_fields(&provider, spec, &input.credentials, self.settings.allow_private_networks)?;
        let (account, minted) = self.run_test(&provider, mode, spec, &fields).await?;

        let now = self.clock.now();
        let id = ConnectionId::generate(now).to_string();
        let sealed = self
            .vault
            .seal(&binding(org.as_str(), &id), serde_json::json!({ "fields": fields.to_json() }).to_string().as_bytes())
            .await?;
        let label = label.unwrap_or_else(|| match &account.name {
            Some(n) => format!("{} ({n})", provider.name),
            None => provider.name.clone(),
        });
        let rec = ConnectionRecord {
            id: id.clone(),
            org: org.to_string(),
            owner: owner.map(|u| u.to_string()),
            provider: provider.id.clone(),
            integration,
            auth_mode: mode.as_str().to_owned(),
            label,
            shared: i32::from(shared),
            status: status::CONNECTED.to_owned(),
            credentials: sealed,
            params: serde_json::to_string(&fields.public(spec)).unwrap_or_else(|_| "{}".into()),
            scopes: serde_json::to_string(&if mode == CredentialMode::ServiceAccount {
                Self::service_account_scopes(&provider)
            } else {
                Vec::new()
            })
            .unwrap_or_else(|_| "[]".into()),
            expires_at: None,
            account_id: account.id.clone(),
            account_name: account.name.clone(),
            account_email: account.email.clone(),
            metadata: account_metadata_json(&account),
            last_error: None,
            failure_count: 0,
            last_tested_at: Some(now.millis()),
            last_refreshed_at: None,
            last_sync_at: None,
            created_at: now.millis(),
            updated_at: now.millis(),
            refresh_at: None,
            lease_owner: None,
            lease_until: None,
            sync_at: Some(now.plus(self.settings.sync_interval).millis()),
        };
        self.store.insert_connection(&rec).await?;
        self.forget_tool_catalogues();
        if let Some(m) = minted {
            self.cache_token(&id, m);
        }
        self.emit_lifecycle(&rec.org, "connection.created", &rec.id, serde_json::json!({ "provider": rec.provider, "auth_mode": rec.auth_mode, "account_id": rec.account_id, "account_name": rec.account_name })).await;
        self.audit_connection(
            actor,
            &rec,
            "connection.create",
            Outcome::Success,
            serde_json::json!({ "provider": rec.provider, "auth_mode": rec.auth_mode }),
        )
        .await?;
        Connection::try_from(&rec)
    }

    fn cache_token(&self, id: &str, m: service_account::Minted) {
        if let Ok(mut t) = self.token_cache.tokens.lock() {
            t.insert(id.to_owned(), (m.access_token, m.token_type, m.expires_at));
        }
    }

    /// A connection the actor may see, or 404.
    pub(crate) async fn visible_connection(&self, actor: &Principal, id: &str) -> ServiceResult<ConnectionRecord> {
        let scope = actor.scope(None).map_err(|e| access(e, "connection"))?;
        let not_found = || {
            ServiceError::not_found(format!(
                "connection {:?} not found",
                switchboard_core::ids::truncate_for_message(id)
            ))
        };
        let rec = self.store.connection(id, scope.filter()).await?.ok_or_else(not_found)?;
        if let Principal::Session { user, role: Role::Member, .. } = actor
            && rec.shared == 0
            && rec.owner.as_deref() != Some(user.as_str())
        {
            return Err(not_found());
        }
        Ok(rec)
    }

    /// A connection's metadata, from memory when its row was read within SWITCHBOARD_ACCESS_CACHE_MS
    /// (every change this instance makes drops the row at once; another instance's is seen within
    /// that time), checked against the same access rules as the store's read.
    pub async fn get_connection(&self, actor: &Principal, id: &str) -> ServiceResult<Connection> {
        Connection::try_from(&self.recently_visible_connection(actor, id).await?)
    }

    /// [`Self::visible_connection`], from the row read within the access cache time when there is one.
    async fn recently_visible_connection(&self, actor: &Principal, id: &str) -> ServiceResult<ConnectionRecord> {
        let now = self.clock.now().millis();
        if let Some(rec) = self.connection_records.get(id, now)
            && crate::services::access_cache::ConnectionGate::from(&rec).admits(actor)
        {
            return Ok(rec);
        }
        let rec = self.visible_connection(actor, id).await?;
        self.connection_records.put(id, rec.clone(), now, None);
        Ok(rec)
    }

    pub async fn list_connections(
        &self,
        actor: &Principal,
        org: Option<&OrgId>,
        provider: Option<String>,
        status_filter: Option<String>,
        page: Page,
    ) -> ServiceResult<Vec<Connection>> {
        let scope = actor.scope(org).map_err(|e| access(e, "org"))?;
        if let Some(s) = &status_filter
            && !status::ALL.contains(&s.as_str())
        {
            return Err(ServiceError::invalid("status", format!("status is one of: {}", status::ALL.join(", "))));
        }
        let visible_to = match actor {
            Principal::Session { user, role: Role::Member, .. } => Some(user.to_string()),
            _ => None,
        };
        let filter =
            ConnectionFilter { org: scope.filter().map(str::to_owned), provider, status: status_filter, visible_to };
        self.store.connections(&filter, &page).await?.iter().map(Connection::try_from).collect()
    }

    /// Only an admin, a secret key, or the connection's owner may change or remove it.
    pub(crate) fn require_owner_or_admin(actor: &Principal, rec: &ConnectionRecord, what: &str) -> ServiceResult<()> {
        if let Principal::Session { user, role: Role::Member, .. } = actor
            && rec.owner.as_deref() != Some(user.as_str())
        {
            return Err(ServiceError::Forbidden(format!("{what} needs an admin of the org or the connection's owner")));
        }
        Ok(())
    }

    pub async fn update_connection(
        &self,
        actor: &Principal,
        id: &str,
        label: Option<String>,
        shared: Option<bool>,
    ) -> ServiceResult<Connection> {
        let rec = self.visible_connection(actor, id).await?;
        Self::require_owner_or_admin(actor, &rec, "changing a connection")?;
        let label = match label.as_deref().map(str::trim) {
            Some(l) if !l.is_empty() && l.chars().count() <= 200 => Some(l.to_owned()),
            Some(_) => return Err(ServiceError::invalid("label", "label must be 1 to 200 characters")),
            None => None,
        };
        if shared == Some(false) && rec.owner.is_none() {
            return Err(ServiceError::invalid("shared", "this connection has no owner, so it cannot be private"));
        }
        let updated =
            self.store.update_connection_settings(&rec.id, label.as_deref(), shared, self.clock.now().millis()).await?;
        self.connection_gates.forget(&rec.id);
        self.connection_records.forget(&rec.id);
        self.forget_tool_catalogues();
        self.audit_connection(
            actor,
            &updated,
            "connection.update",
            Outcome::Success,
            serde_json::json!({ "label": label, "shared": shared }),
        )
        .await?;
        Connection::try_from(&updated)
    }

    pub async fn delete_connection(&self, actor: &Principal, id: &str) -> ServiceResult<()> {
        let rec = self.visible_connection(actor, id).await?;
        Self::require_owner_or_admin(actor, &rec, "disconnecting")?;
        // Revoke at the provider first; a failed revocation is logged and the connection still goes.
        let revoked = if rec.auth_mode == "oauth2" {
            match self.revoke_at_provider(&rec).await {
                Ok(done) => Some(done),
                Err(e) => {
                    tracing::warn!(connection = %rec.id, provider = %rec.provider, error = %e, "revoking the token at the provider failed; removing the connection anyway");
                    Some(false)
                }
            }
        } else {
            None
        };
        self.store.delete_connection(&rec.id).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::not_found(format!("connection {id:?} not found")),
            other => other.into(),
        })?;
        self.forget_connection_caches(&rec.id);
        if let Ok(mut t) = self.token_cache.tokens.lock() {
            t.remove(&rec.id);
        }
        self.audit_connection(
            actor,
            &rec,
            "connection.delete",
            Outcome::Success,
            serde_json::json!({ "provider": rec.provider, "revoked_at_provider": revoked }),
        )
        .await?;
        self.emit_lifecycle(
            &rec.org,
            "connection.deleted",
            &rec.id,
            serde_json::json!({ "provider": rec.provider, "revoked_at_provider": revoked }),
        )
        .await;
        Ok(())
    }

    /// The stored credential fields, opened.
    pub(crate) async fn open_fields(&self, rec: &ConnectionRecord) -> ServiceResult<Fields> {
        let plain = self.vault.open_sealed(&binding(&rec.org, &rec.id), &rec.credentials).await?;
        let doc: Value =
            serde_json::from_slice(&plain).map_err(|e| ServiceError::Internal(format!("stored credentials: {e}")))?;
        Ok(Fields::from_json(doc.get("fields").unwrap_or(&Value::Null)))
    }

    /// The account as the mode's test request reports it (`None` for modes without one).
    pub(crate) async fn account_from_test(&self, rec: &ConnectionRecord) -> ServiceResult<Option<Account>> {
        let provider = self.provider(&rec.provider)?;
        let Some(mode) = CredentialMode::parse(&rec.auth_mode) else { return Ok(None) };
        let Some(spec) = provider.credentials.get(&mode) else { return Ok(None) };
        if spec.test.is_none() {
            return Ok(None);
        }
        let fields = self.open_fields(rec).await?;
        let (account, minted) = self.run_test(&provider, mode, spec, &fields).await?;
        if let Some(m) = minted {
            self.cache_token(&rec.id, m);
        }
        Ok(Some(account))
    }

    /// Tests stored credentials again and records the outcome.
    pub async fn retest_connection(&self, actor: &Principal, id: &str) -> ServiceResult<(TestOutcome, Connection)> {
        let rec = self.visible_connection(actor, id).await?;
        let now = self.clock.now().millis();
        let outcome = match self.test_account(&rec).await {
            Ok(account) => {
                let has_identity = account.id.is_some() || account.name.is_some();
                let columns = AccountColumns {
                    id: account.id.clone(),
                    name: account.name.clone(),
                    email: account.email.clone(),
                    metadata: account_metadata_json(&account),
                };
                self.store
                    .record_connection_test(&rec.id, status::CONNECTED, None, has_identity.then_some(&columns), now)
                    .await?;
                TestOutcome { ok: true, account: Some(account), error: None }
            }
            Err(e) => {
                let new_status = match &e {
                    ServiceError::InvalidCredentials(_) => status::NEEDS_REAUTH,
                    ServiceError::RateLimited { .. } => rec.status.as_str(),
                    _ => status::ERROR,
                };
                self.store.record_connection_test(&rec.id, new_status, Some(&e.to_string()), None, now).await?;
                TestOutcome { ok: false, account: None, error: Some(e) }
            }
        };
        self.connection_records.forget(&rec.id);
        let outcome_kind = if outcome.ok { Outcome::Success } else { Outcome::Failure };
        let detail = serde_json::json!({ "error": outcome.error.as_ref().map(ToString::to_string) });
        self.audit_connection(actor, &rec, "connection.test", outcome_kind, detail).await?;
        let after = self.visible_connection(actor, id).await?;
        Ok((outcome, Connection::try_from(&after)?))
    }

    /// Checks stored credentials: the mode's test, or for OAuth the identity request with a fresh token.
    async fn test_account(&self, rec: &ConnectionRecord) -> ServiceResult<Account> {
        if rec.auth_mode == "oauth2" {
            let (fresh, _) = self.oauth_credentials(rec.clone()).await?;
            let columns = self.sync_metadata(&fresh).await?;
            return Ok(columns
                .map(|c| Account {
                    id: c.id,
                    name: c.name,
                    email: c.email,
                    metadata: serde_json::from_str(&c.metadata).unwrap_or_default(),
                })
                .unwrap_or_default());
        }
        Ok(self.account_from_test(rec).await?.unwrap_or_default())
    }

    /// Fresh credentials for a workflow. Secret keys only; every read is audited.
    pub async fn connection_credentials(&self, actor: &Principal, id: &str) -> ServiceResult<CredentialsOut> {
        actor.require_secret_key("reading credentials").map_err(|e| access(e, "connection"))?;
        // Fields a user entered change only through this API (dropping the cached row here at once,
        // elsewhere within the access cache time, as for a provider call); tokens are always read
        // afresh, as another instance may have just refreshed them.
        let mut rec = self.recently_visible_connection(actor, id).await?;
        if rec.auth_mode == "oauth2" {
            rec = self.visible_connection(actor, id).await?;
        }
        let provider = self.provider(&rec.provider)?;
        if rec.auth_mode == "oauth2" {
            let (fresh, tokens) = self.oauth_credentials(rec).await?;
            let scopes: Vec<String> = serde_json::from_str(&fresh.scopes).unwrap_or_default();
            let extra = tokens.extra.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            self.audit_connection(
                actor,
                &fresh,
                "credentials.read",
                Outcome::Success,
                serde_json::json!({ "provider": fresh.provider }),
            )
            .await?;
            return Ok(CredentialsOut::Token {
                mode: "oauth2".into(),
                access_token: SecretString::from(tokens.access_token.clone()),
                token_type: tokens.token_type.clone(),
                expires_at: fresh.expires_at.map(Timestamp::from_millis),
                scopes,
                fields: extra,
            });
        }
        let fields = self.open_fields(&rec).await?;
        let out = if rec.auth_mode == CredentialMode::ServiceAccount.as_str() {
            let (token, token_type, expires_at) = self.service_account_token(&provider, &rec, &fields).await?;
            let mut public = Map::new();
            for (k, v) in rec.metadata_public() {
                public.insert(k, v);
            }
            CredentialsOut::Token {
                mode: rec.auth_mode.clone(),
                access_token: token,
                token_type,
                expires_at: Some(expires_at),
                scopes: Self::service_account_scopes(&provider),
                fields: public,
            }
        } else {
            let fields = fields.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            CredentialsOut::Fields { mode: rec.auth_mode.clone(), fields }
        };
        self.audit_connection(
            actor,
            &rec,
            "credentials.read",
            Outcome::Success,
            serde_json::json!({ "provider": rec.provider }),
        )
        .await?;
        Ok(out)
    }

    pub(crate) async fn service_account_token(
        &self,
        provider: &Provider,
        rec: &ConnectionRecord,
        fields: &Fields,
    ) -> ServiceResult<(SecretString, String, Timestamp)> {
        let now = self.clock.now();
        if let Some((t, ty, exp)) = self.token_cache.tokens.lock().ok().and_then(|m| m.get(&rec.id).cloned())
            && now.plus(TOKEN_MARGIN) < exp
        {
            return Ok((t, ty, exp));
        }
        let (_, minted) = self.mint_service_account(provider, fields).await?;
        let out = (
            SecretString::from(minted.access_token.expose_secret().to_owned()),
            minted.token_type.clone(),
            minted.expires_at,
        );
        self.cache_token(&rec.id, minted);
        Ok(out)
    }

    /// Per provider: how many connections in each status, and the newest error.
    pub async fn connection_status(
        &self,
        actor: &Principal,
        org: Option<&OrgId>,
    ) -> ServiceResult<Vec<crate::store::StatusCount>> {
        let scope = actor.scope(org).map_err(|e| access(e, "org"))?;
        let visible_to = match actor {
            Principal::Session { user, role: Role::Member, .. } => Some(user.to_string()),
            _ => None,
        };
        let org_filter = match &scope {
            OrgScope::All => None,
            OrgScope::One(o) => Some(o.as_str()),
        };
        Ok(self.store.connection_status(org_filter, visible_to.as_deref()).await?)
    }

    async fn audit_connection(
        &self,
        actor: &Principal,
        rec: &ConnectionRecord,
        action: &str,
        outcome: Outcome,
        detail: Value,
    ) -> ServiceResult<()> {
        self.audit(
            actor,
            AuditEvent { org: Some(&rec.org), action, target_kind: "connection", target_id: &rec.id, outcome, detail },
        )
        .await
    }
}

impl ConnectionRecord {
    /// Account metadata, parsed (for the fields a token answer carries alongside it).
    fn metadata_public(&self) -> Map<String, Value> {
        serde_json::from_str::<Value>(&self.metadata).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default()
    }
}
