//! Bearer tokens handed to callers: secret API keys (`sk_…`) and session
//! tokens (`st_…`). Both carry 256 random bits, so a fast SHA-256 digest is the
//! right thing to store — a stolen table yields nothing usable, and lookups
//! stay a single indexed read.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::random;

/// What kind of bearer token a string claims to be, judged by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    SecretKey,
    Session,
    /// A session's single-use link into the integrations page (`cl_…`), in a URL for minutes.
    ConnectLink,
    /// A browser's cookie session of a console page (`bs_…`); never a bearer token.
    BrowserSession,
}

impl TokenKind {
    #[must_use]
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::SecretKey => "sk_",
            Self::Session => "st_",
            Self::ConnectLink => "cl_",
            Self::BrowserSession => "bs_",
        }
    }

    /// Classifies a presented token by prefix; `None` for anything else.
    #[must_use]
    pub fn of(token: &str) -> Option<Self> {
        if token.starts_with(Self::SecretKey.prefix()) {
            Some(Self::SecretKey)
        } else if token.starts_with(Self::Session.prefix()) {
            Some(Self::Session)
        } else if token.starts_with(Self::ConnectLink.prefix()) {
            Some(Self::ConnectLink)
        } else if token.starts_with(Self::BrowserSession.prefix()) {
            Some(Self::BrowserSession)
        } else {
            None
        }
    }
}

/// The stored form of a token: hex SHA-256 of the whole token string.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TokenDigest(String);

impl TokenDigest {
    #[must_use]
    pub fn of(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes())))
    }

    #[must_use]
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A freshly minted token: shown to its owner once, then only its digest is kept.
pub struct NewToken {
    pub secret: SecretString,
    pub digest: TokenDigest,
    /// The first characters, safe to display so a person can tell keys apart.
    pub hint: String,
}

impl NewToken {
    #[must_use]
    pub fn mint(kind: TokenKind) -> Self {
        let body = URL_SAFE_NO_PAD.encode(random::bytes::<32>());
        let token = format!("{}{}", kind.prefix(), body);
        let digest = TokenDigest::of(&token);
        let hint = format!("{}{}…", kind.prefix(), &body[..6]);
        Self { secret: SecretString::from(token), digest, hint }
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken").field("hint", &self.hint).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_have_prefix_and_match_their_digest() {
        let t = NewToken::mint(TokenKind::SecretKey);
        assert!(t.expose().starts_with("sk_"));
        assert_eq!(t.expose().len(), 3 + 43);
        assert_eq!(TokenDigest::of(t.expose()), t.digest);
        assert_eq!(TokenKind::of(t.expose()), Some(TokenKind::SecretKey));
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn digest_is_not_the_token() {
        let t = NewToken::mint(TokenKind::Session);
        assert!(!t.digest.as_str().contains(&t.expose()[3..]));
        assert_eq!(TokenKind::of("bearer-nonsense"), None);
    }
}
