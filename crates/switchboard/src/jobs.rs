//! Background work. Each job is a plain loop that claims a bounded amount of
//! due work through the store (leases; SKIP LOCKED on PostgreSQL), so any
//! number of instances can run them at once and a crashed instance's claims
//! lapse on their own.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::services::Services;

/// Connections claimed per round.
const BATCH: i64 = 64;
/// Refreshes in flight at once in one instance.
const CONCURRENCY: usize = 32;

/// Starts every background job; each stops when `stop` is cancelled.
pub fn spawn_all(services: &Services, stop: CancellationToken) -> Vec<JoinHandle<()>> {
    let mut jobs = vec![tokio::spawn(housekeeping(services.clone(), stop.clone()))];
    if services.settings.jobs {
        jobs.push(tokio::spawn(refresher(services.clone(), stop.clone())));
        jobs.push(tokio::spawn(metadata_sync(services.clone(), stop.clone())));
        jobs.push(tokio::spawn(deliverer(services.clone(), stop)));
    }
    jobs
}

/// Expired sessions, old handshakes, action runs and events past their retention serve nobody;
/// delete them hourly.
async fn housekeeping(services: Services, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {
                let now = services.clock.now().millis();
                match services.store.purge_expired_sessions(now).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "purged expired sessions"),
                    Err(e) => tracing::warn!(error = %e, "could not purge expired sessions"),
                }
                if let Err(e) = services.store.purge_refresh_stats(now.saturating_sub(15 * 86_400_000)).await {
                    tracing::warn!(error = %e, "could not purge old refresh counts");
                }
                if let Err(e) = services.store.purge_expired_browser_state(now).await {
                    tracing::warn!(error = %e, "could not purge expired connect links and browser sessions");
                }
                if let Err(e) = services.store.purge_handshakes(now).await {
                    tracing::warn!(error = %e, "could not purge old handshakes");
                }
                let kept = i64::try_from(services.settings.idempotency_retention.as_millis()).unwrap_or(i64::MAX);
                match services.store.purge_action_runs(now.saturating_sub(kept)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "purged action runs past their idempotency retention"),
                    Err(e) => tracing::warn!(error = %e, "could not purge old action runs"),
                }
                match services.purge_old_events().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "purged events past their retention"),
                    Err(e) => tracing::warn!(error = %e, "could not purge old events"),
                }
            }
        }
    }
}

/// Refreshes tokens that expire within the refresh window, ahead of time.
async fn refresher(services: Services, stop: CancellationToken) {
    let mut tick = tokio::time::interval(services.settings.refresh_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {
                refresh_round(&services, &stop).await;
            }
        }
    }
}

/// Claims and refreshes due connections until none are left (or a bound is hit).
pub async fn refresh_round(services: &Services, stop: &CancellationToken) -> usize {
    let mut done = 0;
    for _ in 0..1000 {
        if stop.is_cancelled() {
            break;
        }
        let now = services.clock.now();
        let claimed = services
            .store
            .claim_due_refreshes(
                &services.instance_id,
                now.plus(services.settings.refresh_lease).millis(),
                now.millis(),
                now.plus(services.settings.refresh_window).millis(),
                BATCH,
            )
            .await;
        let claimed = match claimed {
            Ok(c) if c.is_empty() => break,
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim due refreshes");
                break;
            }
        };
        done += claimed.len();
        futures::stream::iter(claimed)
            .for_each_concurrent(CONCURRENCY, |rec| async move {
                let id = rec.id.clone();
                if let Err(e) = services.refresh_leased(rec).await {
                    tracing::info!(connection = %id, error = %e, "background refresh failed");
                }
            })
            .await;
    }
    done
}

/// Re-reads each connection's account metadata every sync interval.
async fn metadata_sync(services: Services, stop: CancellationToken) {
    let every = services.settings.sync_interval.min(Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => sync_round(&services).await,
        }
    }
}

async fn sync_round(services: &Services) {
    let now = services.clock.now();
    let lease = now.plus(services.settings.refresh_lease).millis();
    let claimed = match services.store.claim_due_syncs(&services.instance_id, lease, now.millis(), 32).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "could not claim due metadata syncs");
            return;
        }
    };
    futures::stream::iter(claimed)
        .for_each_concurrent(4, |rec| async move {
            let now = services.clock.now();
            let next = now.plus(services.settings.sync_interval).millis();
            // A token about to be refreshed is left to the refresher; try again shortly.
            let due_for_refresh = rec.auth_mode == "oauth2" && rec.expires_at.is_some_and(|e| e <= now.plus(services.settings.refresh_window).millis());
            let (account, next) = if due_for_refresh || rec.status != "connected" {
                (None, if due_for_refresh { now.plus(Duration::from_secs(300)).millis() } else { next })
            } else {
                match services.sync_metadata(&rec).await {
                    Ok(a) => (a, next),
                    Err(e) => {
                        tracing::info!(connection = %rec.id, error = %e, "metadata sync failed; keeping the last metadata");
                        (None, next)
                    }
                }
            };
            if let Err(e) = services.store.store_sync(&rec.id, &services.instance_id, account.as_ref(), next, now.millis()).await {
                tracing::warn!(connection = %rec.id, error = %e, "could not record a metadata sync");
            }
            services.connection_records.forget(&rec.id);
        })
        .await;
}

/// Deliveries in flight at once in one instance.
const DELIVERY_CONCURRENCY: usize = 64;
/// Free slots worth a claim while attempts are still running.
const REFILL_AT: usize = 16;

/// Sends due deliveries as a pipeline: whenever a slot is free (an attempt ended, new
/// deliveries were stored, or the one-second tick for retries) it claims as many as
/// there are free slots, so one slow subscriber never holds up the rest.
async fn deliverer(services: Services, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(DELIVERY_CONCURRENCY));
    let mut running = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let wakeup = services.delivery_wakeup.clone();
    loop {
        let an_attempt_ended = tokio::select! {
            () = stop.cancelled() => break,
            () = wakeup.notified() => false,
            _ = tick.tick() => false,
            Some(_) = running.join_next(), if !running.is_empty() => true,
        };
        while running.try_join_next().is_some() {}
        // Under load, claim in small batches rather than one per finished attempt.
        if an_attempt_ended && slots.available_permits() < REFILL_AT && !running.is_empty() {
            continue;
        }
        start_due_deliveries(&services, &slots, &mut running).await;
    }
    // Attempts under way finish and are recorded (each is bounded by the delivery timeout).
    while running.join_next().await.is_some() {}
}

/// Claims due deliveries for the free slots and starts them; how many were started.
pub async fn start_due_deliveries(services: &Services, slots: &Arc<Semaphore>, running: &mut JoinSet<()>) -> usize {
    let mut started = 0;
    loop {
        let free = slots.available_permits();
        if free == 0 {
            break;
        }
        let now = services.clock.now();
        // The lease outlives the attempt, which starts at once, so no delivery is sent twice
        // at once; a crashed instance's claims lapse soon after.
        let until = now.plus(services.settings.delivery_timeout + Duration::from_secs(15)).millis();
        let limit = i64::try_from(free).unwrap_or(1);
        let claimed = match services.store.claim_due_deliveries(&services.instance_id, until, now.millis(), limit).await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim due deliveries");
                break;
            }
        };
        let n = claimed.len();
        if n == 0 {
            break;
        }
        let prepared = match services.prepare_deliveries(claimed).await {
            Ok(p) => p,
            Err(e) => {
                // The claims lapse on their own and the deliveries are tried again then.
                tracing::warn!(error = %e, "could not read the claimed deliveries' subscriptions and events");
                break;
            }
        };
        for d in prepared {
            let Ok(permit) = slots.clone().try_acquire_owned() else { break };
            let services = services.clone();
            running.spawn(async move {
                let id = d.delivery.id.clone();
                if let Err(e) = services.attempt_delivery(d).await {
                    tracing::warn!(delivery = %id, error = %e, "a delivery attempt could not be made");
                }
                drop(permit);
            });
        }
        started += n;
        if n < free {
            break;
        }
    }
    started
}
