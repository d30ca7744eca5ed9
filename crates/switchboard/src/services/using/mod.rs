//! Using a connection: calls made as the connection (credentials applied,
//! refresh on 401), resource listings with their cache, name resolution, and
//! actions (catalog data, or named handlers in code), and the proxy for everything else.

pub mod actions;
pub mod cache;
pub(crate) mod call;
mod handlers;
pub mod proxy;
pub mod resources;
