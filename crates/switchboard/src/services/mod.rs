//! Application services: what the product does, independent of HTTP. Each
//! function takes the acting [`Principal`] and plain inputs, enforces access,
//! talks to the store and the vault, writes the audit log, and returns domain
//! values or a [`ServiceError`]. The HTTP layer maps those in one place.

pub mod access_cache;
pub mod ai;
pub mod audit;
pub mod auth;
pub mod browser;
pub mod console;
pub mod credentials;
pub mod group_commit;
pub mod integrations;
pub mod keys;
pub mod oauth;
pub mod using;
pub mod webhooks;

use std::sync::Arc;

use switchboard_core::access::AccessError;
use switchboard_core::catalog::Catalog;

use crate::clock::Clock;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::vault::{Vault, VaultServiceError};

pub use switchboard_core::access::Principal;

/// Everything a service needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Services {
    pub store: Store,
    pub vault: Arc<Vault>,
    pub catalog: Arc<Catalog>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    pub outbound: crate::outbound::Outbound,
    pub token_cache: Arc<credentials::connections::TokenCache>,
    pub audit_writer: audit::AuditWriter,
    pub refresh_locks: Arc<oauth::lifecycle::RefreshLocks>,
    pub refresh_writer: oauth::lifecycle::RefreshWriter,
    /// Names this process in store leases.
    pub instance_id: String,
    pub event_writer: webhooks::events::EventWriter,
    pub attempt_writer: webhooks::subscriptions::AttemptWriter,
    /// Wakes the delivery worker when new deliveries are stored.
    pub delivery_wakeup: Arc<tokio::sync::Notify>,
    pub endpoint_cache: Arc<webhooks::endpoints::EndpointCache>,
    /// Refused webhook requests per endpoint on this instance, for the operator console.
    pub refused_webhooks: Arc<console::RefusedWebhooks>,
    pub secret_cache: Arc<webhooks::subscriptions::SecretCache>,
    pub event_usage: Arc<webhooks::events::EventUsage>,
    pub listing_cache: Arc<using::cache::ListingCache>,
    pub input_validators: Arc<using::actions::InputValidators>,
    /// Secret keys checked lately, by digest.
    pub checked_tokens: Arc<access_cache::RecentlyChecked<Principal>>,
    /// Connections' access rules read lately, by id.
    pub connection_gates: Arc<access_cache::RecentlyChecked<access_cache::ConnectionGate>>,
    /// Connection rows (credentials sealed) read within the access cache time.
    pub connection_records: Arc<access_cache::RecentlyChecked<crate::store::ConnectionRecord>>,
    /// Integration rows (client secrets sealed) read within the access cache time.
    pub integration_records: Arc<access_cache::RecentlyChecked<crate::store::IntegrationRecord>>,
    /// Each principal's MCP tools, built within the access cache time.
    pub mcp_catalogues: Arc<access_cache::RecentlyChecked<Arc<ai::mcp::Catalogue>>>,
}

impl Services {
    /// Assembles the services over an opened store and vault.
    pub fn new(
        store: Store,
        vault: Vault,
        catalog: Catalog,
        clock: Arc<dyn Clock>,
        settings: Arc<Settings>,
    ) -> Result<Self, reqwest::Error> {
        Self::with_lookup(store, vault, catalog, clock, settings, Arc::new(crate::outbound::SystemLookup))
    }

    /// As [`Self::new`], resolving outbound host names with `lookup`.
    pub fn with_lookup(
        store: Store,
        vault: Vault,
        catalog: Catalog,
        clock: Arc<dyn Clock>,
        settings: Arc<Settings>,
        lookup: Arc<dyn crate::outbound::HostLookup>,
    ) -> Result<Self, reqwest::Error> {
        let outbound = crate::outbound::Outbound::with_lookup(&settings, lookup)?;
        let delivery_wakeup = Arc::new(tokio::sync::Notify::new());
        let metrics = Arc::new(Metrics::new());
        Ok(Self {
            event_writer: webhooks::events::EventWriter::spawn(store.clone(), delivery_wakeup.clone()),
            attempt_writer: webhooks::subscriptions::AttemptWriter::spawn(store.clone()),
            delivery_wakeup,
            endpoint_cache: Arc::new(webhooks::endpoints::EndpointCache::default()),
            refused_webhooks: Arc::new(console::RefusedWebhooks::default()),
            secret_cache: Arc::new(webhooks::subscriptions::SecretCache::default()),
            event_usage: Arc::new(webhooks::events::EventUsage::default()),
            listing_cache: Arc::new(using::cache::ListingCache::new(
                settings.listing_cache_bytes,
                (metrics.listing_cache_bytes.clone(), metrics.listing_cache_pages.clone()),
            )),
            input_validators: Arc::default(),
            checked_tokens: Arc::new(access_cache::RecentlyChecked::new(settings.access_cache_ms)),
            connection_gates: Arc::new(access_cache::RecentlyChecked::new(settings.access_cache_ms)),
            connection_records: Arc::new(access_cache::RecentlyChecked::new(settings.access_cache_ms)),
            integration_records: Arc::new(access_cache::RecentlyChecked::new(settings.access_cache_ms)),
            mcp_catalogues: Arc::new(access_cache::RecentlyChecked::new(settings.access_cache_ms)),
            audit_writer: audit::AuditWriter::spawn(store.clone()),
            refresh_writer: oauth::lifecycle::RefreshWriter::spawn(store.clone()),
            store,
            vault: Arc::new(vault),
            catalog: Arc::new(catalog),
            clock,
            settings,
            metrics,
            outbound,
            token_cache: Arc::new(credentials::connections::TokenCache::default()),
            refresh_locks: Arc::new(oauth::lifecycle::RefreshLocks::default()),
            instance_id: format!(
                "{}-{}",
                std::process::id(),
                &switchboard_core::ids::time_ordered_suffix(switchboard_core::time::Timestamp::from_millis(0))[10..]
            ),
        })
    }
}

/// What went wrong, in the product's terms. Messages are safe to show the
/// caller: they never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// Several things wrong with one input, each at its JSON pointer.
    #[error("{message}")]
    InvalidInput { message: String, problems: Vec<InputProblem> },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidCredentials(String),
    /// The connection must be connected again before it can be used.
    #[error("{0}")]
    NeedsReauth(String),
    /// The connection lacks a scope the request needs.
    #[error("{message}")]
    InsufficientScope { message: String, scopes: Vec<String> },
    #[error("{message}")]
    RateLimited { message: String, retry_after_s: Option<u64> },
    #[error("{0}")]
    Provider(String),
    /// The provider failed in a way that leaves open whether it did what was asked (a timeout,
    /// a 5xx after the request was sent).
    #[error("{0}")]
    ProviderUncertain(String),
    /// The provider refused the request as given (a 4xx that is not about credentials, scopes,
    /// existence or rate): its reason says what to change.
    #[error("{0}")]
    ProviderRefused(String),
    /// A request body over a limit; the message names the setting.
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    /// A fault of ours. The message is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

/// One thing wrong with an input: where (a JSON pointer into the request body), what, and, for a
/// name that matched several items or none, the items it could have meant.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InputProblem {
    pub path: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<serde_json::Value>>,
}

impl ServiceError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.to_owned(), message: message.into() }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "database unavailable");
                Self::Unavailable("the database is unavailable; try again shortly".into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<VaultServiceError> for ServiceError {
    fn from(e: VaultServiceError) -> Self {
        match e {
            VaultServiceError::Store(s) => s.into(),
            other => Self::Internal(format!("vault: {other}")),
        }
    }
}

/// Access errors become 403, or 404 for another org's things (so ids cannot be probed).
pub fn access(e: AccessError, what: &str) -> ServiceError {
    match e {
        AccessError::Forbidden(m) => ServiceError::Forbidden(m),
        AccessError::OtherOrg => ServiceError::NotFound(format!("{what} not found")),
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
