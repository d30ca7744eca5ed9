//! Webhooks: endpoints and intake (verification, deduplication, attribution), events stored with
//! the deliveries they start, and subscriptions with their signed, retried deliveries.

pub mod endpoints;
pub mod events;
pub mod subscriptions;
