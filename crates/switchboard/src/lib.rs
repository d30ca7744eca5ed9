//! Switchboard: a self-hosted integrations hub. See ARCHITECTURE.md for the map.

pub mod app;
pub mod backup;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod jobs;
pub mod keys;
pub mod memory;
pub mod metrics;
pub mod outbound;
pub mod services;
pub mod store;
pub mod telemetry;
pub mod vault;
