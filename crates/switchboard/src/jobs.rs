//! Background work. Each job is a plain loop that does a bounded amount of
//! work per tick through the store, so several instances can run it at once.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::services::Services;

/// Starts every background job; each stops when `stop` is cancelled.
pub fn spawn_all(services: &Services, stop: CancellationToken) -> Vec<JoinHandle<()>> {
    vec![tokio::spawn(purge_expired_sessions(services.clone(), stop))]
}

/// Expired session rows serve nobody; delete them hourly.
async fn purge_expired_sessions(services: Services, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {
                match services.store.purge_expired_sessions(services.clock.now().millis()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "purged expired sessions"),
                    Err(e) => tracing::warn!(error = %e, "could not purge expired sessions"),
                }
            }
        }
    }
}
