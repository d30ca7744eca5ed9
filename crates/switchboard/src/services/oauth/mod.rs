//! OAuth 2.0: the protocol as each catalog entry describes it, the connect flow (start, callback,
//! handshakes), and keeping tokens fresh (refresh single-flight in a process and across instances).

pub mod connect;
pub mod lifecycle;
pub mod protocol;

pub use protocol::{OAuthApp, OAuthTokens, TokenAnswer, TokenError};
