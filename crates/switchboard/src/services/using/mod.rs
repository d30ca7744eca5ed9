//! Using a connection: calls made as the connection (credentials applied,
//! refresh on 401), resource listings with their cache, and name resolution.

pub mod cache;
pub(crate) mod call;
pub mod resources;
