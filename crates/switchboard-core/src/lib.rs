//! Switchboard's domain: identifiers, time, opaque tokens, the vault's envelope
//! cryptography and the provider catalog model.
//!
//! This crate performs no IO: it never touches a database, a socket or the
//! clock. Callers pass `now` and bytes in; the compiler keeps it that way
//! because axum, sqlx and reqwest are not among its dependencies.

pub mod access;
pub mod actions;
pub mod catalog;
pub mod colour;
pub mod ids;
pub mod net;
pub mod pattern;
pub mod proxy;
pub mod random;
pub mod request;
pub mod resources;
pub mod time;
pub mod token;
pub mod vault;
pub mod webhook;
