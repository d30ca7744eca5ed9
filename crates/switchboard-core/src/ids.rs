//! Typed, prefixed identifiers.
//!
//! Generated ids are a prefix plus 26 lowercase base32 characters of a
//! time-ordered value (48 bits of milliseconds, 80 random bits), so they sort
//! by creation time — which keyset pagination relies on — and cannot be guessed.
//! Caller-chosen ids (orgs, users, integrations) are validated slugs.

use std::fmt;

use crate::random;
use crate::time::Timestamp;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// 26 characters of Crockford-style base32 over a 128-bit value.
fn encode_128(mut v: u128) -> String {
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    out.iter().map(|&b| b as char).collect()
}

/// A fresh time-ordered suffix for `now`.
#[must_use]
pub fn time_ordered_suffix(now: Timestamp) -> String {
    let ms = u128::from(u64::try_from(now.millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF);
    let rnd = random::bytes::<10>();
    let mut r: u128 = 0;
    for b in rnd {
        r = (r << 8) | u128::from(b);
    }
    encode_128((ms << 80) | r)
}

macro_rules! generated_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id created at `now`.
            #[must_use]
            pub fn generate(now: Timestamp) -> Self {
                Self(format!("{}_{}", $prefix, time_ordered_suffix(now)))
            }

            /// Accepts an id previously produced by `generate`; anything else is `None`.
            #[must_use]
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?.strip_prefix('_')?;
                (rest.len() == 26 && rest.bytes().all(|b| ALPHABET.contains(&b)))
                    .then(|| Self(s.to_owned()))
            }

            /// Wraps a value read back from the store, which only ever holds generated ids.
            #[must_use]
            pub fn from_stored(s: String) -> Self {
                Self(s)
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

generated_id!(
    /// A secret API key's public id (not the key).
    ApiKeyId, "key");
generated_id!(
    /// One stored connection.
    ConnectionId, "conn");
generated_id!(
    /// One audit log entry.
    AuditId, "aud");
generated_id!(
    /// An OAuth handshake (connect session).
    HandshakeId, "hs");
generated_id!(
    /// An end user's session (the public id, not the `st_` token).
    SessionId, "ses");
/// An inbound webhook endpoint. Its id is its public URL, so it carries 160
/// random bits and no timestamp: unguessable, and saying nothing about when it was made.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct EndpointId(String);

impl EndpointId {
    pub const PREFIX: &'static str = "whe";

    #[must_use]
    pub fn generate() -> Self {
        let bytes = random::bytes::<20>();
        let mut out = String::with_capacity(36);
        out.push_str("whe_");
        // 160 bits in 32 base32 characters.
        let mut acc: u64 = 0;
        let mut bits = 0;
        for b in bytes {
            acc = (acc << 8) | u64::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
            }
        }
        Self(out)
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("whe_")?;
        (rest.len() == 32 && rest.bytes().all(|b| ALPHABET.contains(&b))).then(|| Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
generated_id!(
    /// A received webhook event.
    EventId, "evt");
generated_id!(
    /// An outbound subscription.
    SubscriptionId, "sub");
generated_id!(
    /// One delivery of an event to a subscription.
    DeliveryId, "dlv");

/// Why a caller-chosen name was refused; the message says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidName(pub String);

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub struct $name(String);

        impl $name {
            /// Accepts 1 to
            #[doc = stringify!($max)]
            /// characters of letters, digits, `-`, `_`, `.`, `@` and `:`, starting with a letter or digit.
            pub fn parse(s: &str) -> Result<Self, InvalidName> {
                let ok_start = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
                let ok_chars = s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | ':'));
                if s.is_empty() || s.len() > $max || !ok_start || !ok_chars {
                    return Err(InvalidName(format!(
                        "{} must be 1 to {} characters of letters, digits, '-', '_', '.', '@' or ':', starting with a letter or digit (got {:?})",
                        $what,
                        $max,
                        crate::ids::truncate_for_message(s)
                    )));
                }
                Ok(Self(s.to_owned()))
            }

            /// Wraps a value read back from the store, which only ever holds parsed values.
            #[must_use]
            pub fn from_stored(s: String) -> Self {
                Self(s)
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// The rule `OrgId::parse` and `UserId::parse` apply, as a regular expression (for the API's schema).
pub const NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$";

/// The rule `IntegrationId::parse` applies, as a regular expression.
pub const INTEGRATION_ID_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,63}$";

slug_id!(
    /// A tenant: the host app's own org id.
    OrgId, "org", 128);
slug_id!(
    /// An end user: the host app's own user id.
    UserId, "user", 128);

/// The operator's name for an integration, e.g. `google-prod`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct IntegrationId(String);

impl IntegrationId {
    /// Lowercase letters, digits, `-` and `_`, 1 to 64 characters, starting with a letter or digit.
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidName(format!(
                "integration id must be 1 to 64 lowercase letters, digits, '-' or '_', starting with a letter or digit, e.g. \"google-prod\" (got {:?})",
                truncate_for_message(s)
            )))
        }
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

impl fmt::Display for IntegrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keeps user input quoted in error messages short.
#[must_use]
pub fn truncate_for_message(s: &str) -> String {
    if s.chars().count() <= 64 { s.to_owned() } else { format!("{}…", s.chars().take(64).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_sort_by_time() {
        let a = ConnectionId::generate(Timestamp::from_millis(1_000));
        let b = ConnectionId::generate(Timestamp::from_millis(2_000));
        assert!(a < b);
        assert_eq!(ConnectionId::parse(a.as_str()), Some(a.clone()));
        assert!(ConnectionId::parse("conn_short").is_none());
        assert!(ApiKeyId::parse(a.as_str()).is_none(), "prefix must match");
    }

    #[test]
    fn generated_ids_do_not_repeat() {
        let now = Timestamp::from_millis(5);
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| EventId::generate(now)).collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn endpoint_ids_are_long_random_and_parse() {
        let a = EndpointId::generate();
        assert_eq!(a.as_str().len(), 36);
        assert_eq!(EndpointId::parse(a.as_str()), Some(a.clone()));
        assert_ne!(a, EndpointId::generate());
        assert!(EndpointId::parse("whe_short").is_none());
    }

    #[test]
    fn slugs_refuse_bad_input_with_a_reason() {
        assert!(OrgId::parse("acme").is_ok());
        assert!(OrgId::parse("acme-42_x.y@z:1").is_ok());
        let err = OrgId::parse("").unwrap_err();
        assert!(err.0.contains("org must be"), "{err}");
        assert!(OrgId::parse("-lead").is_err());
        assert!(OrgId::parse("white space").is_err());
        assert!(OrgId::parse(&"a".repeat(129)).is_err());
        assert!(IntegrationId::parse("google-prod").is_ok());
        assert!(IntegrationId::parse("Google").is_err());
    }
}
