//! Integration tests: real servers on random ports, real SQLite files and a
//! real PostgreSQL, spoken to over HTTP. One binary so it links once.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed expectation is a failed test")]

mod support;

mod actions;
mod actions_catalog;
mod actions_email;
mod actions_matrix;
mod actions_records;
mod actions_workspace;
mod ai;
mod api;
mod backup;
mod binary;
mod browser_harness;
mod connections;
mod console;
mod consoles;
mod contract;
mod crash;
mod credentials;
mod deliveries;
mod faults;
mod kinds;
mod lifecycle;
mod limits;
mod mcp;
mod multi_instance;
mod oauth_catalog;
mod oauth_providers;
mod oidc;
mod outbound;
mod proxy;
mod resources;
mod sdk;
mod security;
mod service_account;
mod smtp;
mod store;
mod tenancy;
mod vault;
mod webhooks;
