//! Credentials: connections made with keys, tokens, service accounts, SMTP or webhook URLs — their
//! fields checked against the catalog, tested at the provider, stored sealed — and the connector
//! that builds every provider request from catalog templates.

pub mod connections;
pub mod connector;
pub mod service_account;
pub mod smtp;
