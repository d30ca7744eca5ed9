//! Building and running the server: settings → store (migrated) → vault →
//! catalog → services → HTTP, plus the background jobs, all stopped together
//! by one cancellation token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::catalog::{self, CatalogLoadError};
use crate::clock::Clock;
use crate::config::{Settings, redact_url};
use crate::http;
use crate::keys::{self, KeyError};
use crate::services::Services;
use crate::store::{Store, StoreError, StoreOptions};
use crate::vault::{Vault, VaultServiceError};

/// Why the server could not start. Each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database {url}: {source}")]
    Database { url: String, source: StoreError },
    #[error("cannot apply migrations: {0}")]
    Migrate(StoreError),
    #[error("master key: {0}")]
    Key(#[from] KeyError),
    #[error("vault: {0}")]
    Vault(#[from] VaultServiceError),
    #[error("provider catalog: {0}")]
    Catalog(#[from] CatalogLoadError),
    #[error("cannot set up the outbound HTTP client: {0}")]
    Http(reqwest::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Locked(String),
}

/// Opens the database and applies migrations.
pub async fn open_store(settings: &Settings) -> Result<Store, StartError> {
    keys::precheck(settings)?;
    let url = settings.database.url();
    let store = Store::connect(&StoreOptions {
        url: url.to_owned(),
        max_connections: settings.database_max_connections,
        acquire_timeout: settings.database_wait,
    })
    .await
    .map_err(|source| StartError::Database { url: redact_url(url), source })?;
    store.migrate().await.map_err(StartError::Migrate)?;
    Ok(store)
}

/// Opens the vault with the configured keys (creating the embedded default's key file on first start).
pub async fn open_vault(settings: &Settings, store: &Store, clock: Arc<dyn Clock>) -> Result<Vault, StartError> {
    let has_keys = !store.data_keys().await.map_err(StartError::Migrate)?.is_empty();
    let (masters, created) = keys::resolve(settings, has_keys)?;
    if let Some(path) = created {
        tracing::warn!(
            key_file = %path,
            "created a new master key beside the database. Back it up: without it no secret in this database can be opened"
        );
    }
    Ok(Vault::open(store.clone(), masters, clock).await?)
}

/// How long before a pinned provider API version stops being served the server starts warning.
const VERSION_WARNING_DAYS: i64 = 90;

fn warn_of_ending_versions(catalog: &switchboard_core::catalog::Catalog, now: switchboard_core::time::Timestamp) {
    let today = now.date();
    for (id, version, end) in
        switchboard_core::catalog::versions_ending(catalog.iter().map(AsRef::as_ref), today, VERSION_WARNING_DAYS)
    {
        tracing::warn!(
            provider = %id,
            version = %version,
            ends = %end,
            "{id} pins API version {version}, which its provider stops serving on {end}: update the entry (switchboard providers list --expiring {VERSION_WARNING_DAYS})"
        );
    }
}

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    services: Services,
    shutdown: CancellationToken,
    /// Held shared while serving an SQLite database, so `restore` cannot swap it underneath.
    database_lock: Option<std::fs::File>,
}

impl Application {
    /// Everything up to a bound listener: a wrong key or setting fails here, before any request.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        Self::build_with_lookup(settings, clock, Arc::new(crate::outbound::SystemLookup)).await
    }

    /// As [`Self::build`], resolving the host names of outbound connections with `lookup`.
    pub async fn build_with_lookup(
        mut settings: Settings,
        clock: Arc<dyn Clock>,
        lookup: Arc<dyn crate::outbound::HostLookup>,
    ) -> Result<Self, StartError> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|source| StartError::Listen { addr: settings.listen, source })?;
        // A public URL derived from `listen = …:0` names the port actually bound.
        if settings.public_url.port() == Some(0)
            && let Ok(addr) = listener.local_addr()
        {
            let _ = settings.public_url.set_port(Some(addr.port()));
        }
        let settings = Arc::new(settings);
        let database_lock = match &settings.database {
            crate::config::Database::Sqlite { path, .. } => {
                Some(crate::backup::hold_shared(path).map_err(|e| StartError::Locked(format!("{e:#}")))?)
            }
            crate::config::Database::Postgres { .. } => None,
        };
        let store = open_store(&settings).await?;
        let vault = open_vault(&settings, &store, clock.clone()).await?;
        let catalog = catalog::load(settings.providers_dir.as_deref())?;
        warn_of_ending_versions(&catalog, clock.now());
        let services =
            Services::with_lookup(store, vault, catalog, clock, settings.clone(), lookup).map_err(StartError::Http)?;
        let router = http::router(services.clone());
        Ok(Self { listener, router, services, shutdown: CancellationToken::new(), database_lock })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    #[must_use]
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Cancel it to stop: the listener closes, in-flight requests finish, jobs end.
    #[must_use]
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then drains in-flight
    /// requests for up to the configured grace period.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self { listener, router, services, shutdown, database_lock } = self;
        let jobs = crate::jobs::spawn_all(&services, shutdown.clone());
        let grace = services.settings.shutdown_grace;
        let served = serve(listener, router, &services.settings.limits, shutdown.clone());
        let mut served = std::pin::pin!(served);
        tokio::select! {
            () = &mut served => {}
            () = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_s = grace.as_secs(), "in-flight requests did not finish within the grace period; stopping anyway");
            }
        }
        for job in jobs {
            let _ = tokio::time::timeout(Duration::from_secs(5), job).await;
        }
        services.store.close().await;
        drop(database_lock);
        Ok(())
    }
}

/// Accepts connections until `shutdown`, then lets the open ones finish their requests.
///
/// hyper's own connection loop rather than `axum::serve`, for the limits a slow or flooding
/// client must not get past: at most `max_connections` served at once (more are closed as they
/// arrive), a request head within `max_header_bytes` (431 beyond) sent within
/// `header_read_timeout`, which also closes a kept-alive connection left idle that long.
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: &crate::config::LimitSettings,
    shutdown: CancellationToken,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut refused_logged = false;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = shutdown.cancelled() => break,
        };
        let (stream, _peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if !refused_logged {
                tracing::warn!(
                    max = limits.max_connections,
                    "at SWITCHBOARD_MAX_CONNECTIONS open connections; closing new ones until some end"
                );
                refused_logged = true;
            }
            drop(stream);
            continue;
        };
        refused_logged = false;
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
