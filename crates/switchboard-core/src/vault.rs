//! Envelope encryption, pure: no storage, no clock.
//!
//! A *master key* (from the operator) wraps *data keys* (random, stored
//! wrapped in the database); data keys seal secrets with AES-256-GCM. Every
//! sealed secret is an [`Envelope`] — `version ‖ data key id ‖ nonce ‖
//! ciphertext+tag` — whose associated data binds it to its org, table, row
//! and field, so a ciphertext copied into another row does not open.
//!
//! Random 96-bit nonces are safe for at most 2^32 seals per key (NIST SP
//! 800-38D, 8.3); the caller counts seals per data key and rotates to a new
//! data key before that budget runs out (see [`SEAL_BUDGET`]).

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::random;

/// Seals one data key may make before it is retired (NIST SP 800-38D's bound
/// for random 96-bit nonces).
pub const SEAL_BUDGET: u64 = 1 << 32;

const ENVELOPE_VERSION: u8 = 1;
const WRAP_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error(
        "the master key must be base64 of exactly 32 bytes (got {0}); generate one with `switchboard generate-key`"
    )]
    BadMasterKey(String),
    #[error(
        "data key {data_key} could not be unwrapped with master key {master_key}: the key is wrong or the wrapped key was altered"
    )]
    WrongMasterKey { data_key: DataKeyId, master_key: MasterKeyId },
    #[error("sealed value is malformed: {0}")]
    Malformed(&'static str),
    #[error("sealed value does not open: it was altered, or it belongs to another org, row or field")]
    DoesNotOpen,
}

/// A master key's public fingerprint: the first 8 bytes of a domain-separated SHA-256, hex.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MasterKeyId(String);

impl MasterKeyId {
    #[must_use]
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MasterKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The operator's key. Its bytes never leave this type except to wrap and unwrap data keys.
pub struct MasterKey {
    cipher: Aes256Gcm,
    id: MasterKeyId,
}

impl MasterKey {
    /// Parses base64 (standard alphabet, padding optional, surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, VaultError> {
        let trimmed = text.trim();
        let bytes = Zeroizing::new(
            STANDARD
                .decode(trimmed)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
                .map_err(|_| VaultError::BadMasterKey("text that is not base64".into()))?,
        );
        if bytes.len() != KEY_LEN {
            return Err(VaultError::BadMasterKey(format!("{} bytes", bytes.len())));
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&bytes);
        Ok(Self::from_bytes(&key))
    }

    /// A new random master key and its base64 text, for `generate-key` and first start.
    #[must_use]
    pub fn generate() -> (Self, SecretString) {
        let key = Zeroizing::new(random::bytes::<KEY_LEN>());
        let text = SecretString::from(STANDARD.encode(*key));
        (Self::from_bytes(&key), text)
    }

    fn from_bytes(key: &[u8; KEY_LEN]) -> Self {
        let mut h = Sha256::new();
        h.update(b"switchboard master key id v1\0");
        h.update(key);
        let id = MasterKeyId(hex::encode(&h.finalize()[..8]));
        Self { cipher: Aes256Gcm::new(&(*key).into()), id }
    }

    #[must_use]
    pub fn id(&self) -> &MasterKeyId {
        &self.id
    }

    fn wrap_aad(&self, data_key: DataKeyId) -> Vec<u8> {
        format!("switchboard data key v1\0{}\0{}", data_key.0, self.id.0).into_bytes()
    }

    /// Wraps a data key for storage: `version ‖ nonce ‖ ciphertext+tag`.
    #[must_use]
    pub fn wrap(&self, id: DataKeyId, key: &DataKey) -> Vec<u8> {
        let nonce = random::bytes::<NONCE_LEN>();
        let aad = self.wrap_aad(id);
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: key.bytes.as_slice(), aad: &aad })
            .unwrap_or_default(); // AES-GCM only fails on inputs far beyond 32 bytes.
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(WRAP_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn unwrap(&self, id: DataKeyId, wrapped: &[u8]) -> Result<DataKey, VaultError> {
        let wrong = || VaultError::WrongMasterKey { data_key: id, master_key: self.id.clone() };
        let (&version, rest) = wrapped.split_first().ok_or(VaultError::Malformed("empty wrapped key"))?;
        if version != WRAP_VERSION {
            return Err(VaultError::Malformed("unknown wrapped-key version"));
        }
        if rest.len() != NONCE_LEN + KEY_LEN + TAG_LEN {
            return Err(VaultError::Malformed("wrapped key has the wrong length"));
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| wrong())?;
        let aad = self.wrap_aad(id);
        let plain = Zeroizing::new(
            self.cipher.decrypt(&Nonce::from(nonce), Payload { msg: ct, aad: &aad }).map_err(|_| wrong())?,
        );
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&plain);
        Ok(DataKey::from_bytes(key))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// A data key's id as stored: a random positive 63-bit integer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct DataKeyId(pub i64);

impl DataKeyId {
    #[must_use]
    pub fn random() -> Self {
        Self(i64::from_le_bytes(random::bytes::<8>()) & i64::MAX)
    }
}

impl fmt::Display for DataKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a sealed value lives; authenticated as associated data.
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    /// The owning org, or `""` for deployment-wide rows such as integrations.
    pub org: &'a str,
    pub table: &'a str,
    pub row: &'a str,
    pub field: &'a str,
}

impl Binding<'_> {
    fn aad(&self, key: DataKeyId) -> Vec<u8> {
        // NUL separators keep distinct bindings distinct: no id may contain NUL.
        format!("switchboard secret v1\0{}\0{}\0{}\0{}\0{}", key.0, self.org, self.table, self.row, self.field)
            .into_bytes()
    }
}

/// A data key in memory. Holds its ready cipher so sealing costs no key schedule.
pub struct DataKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    cipher: Aes256Gcm,
}

impl DataKey {
    #[must_use]
    pub fn generate() -> Self {
        Self::from_bytes(Zeroizing::new(random::bytes::<KEY_LEN>()))
    }

    fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let cipher = Aes256Gcm::new(&(*bytes).into());
        Self { bytes, cipher }
    }

    /// Seals `plaintext` for the row and field in `binding`.
    #[must_use]
    pub fn seal(&self, id: DataKeyId, binding: &Binding<'_>, plaintext: &[u8]) -> Vec<u8> {
        let nonce = random::bytes::<NONCE_LEN>();
        let aad = binding.aad(id);
        let ct = self.cipher.encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: &aad }).unwrap_or_default(); // Only fails for messages of 64 GiB and more.
        let mut out = Vec::with_capacity(1 + 8 + NONCE_LEN + ct.len());
        out.push(ENVELOPE_VERSION);
        out.extend_from_slice(&id.0.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Opens an envelope sealed by this key for exactly this binding.
    pub fn open(&self, envelope: &Envelope<'_>, binding: &Binding<'_>) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let aad = binding.aad(envelope.key_id);
        self.cipher
            .decrypt(&Nonce::from(envelope.nonce), Payload { msg: envelope.ciphertext, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| VaultError::DoesNotOpen)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

/// A parsed sealed value. Parsing checks lengths so nothing slices out of bounds.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub key_id: DataKeyId,
    nonce: [u8; NONCE_LEN],
    ciphertext: &'a [u8],
}

impl<'a> Envelope<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, VaultError> {
        let (&version, rest) = bytes.split_first().ok_or(VaultError::Malformed("empty"))?;
        if version != ENVELOPE_VERSION {
            return Err(VaultError::Malformed("unknown envelope version"));
        }
        if rest.len() < 8 + NONCE_LEN + TAG_LEN {
            return Err(VaultError::Malformed("too short"));
        }
        let (id, rest) = rest.split_at(8);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let key_id = DataKeyId(i64::from_be_bytes(id.try_into().map_err(|_| VaultError::Malformed("key id"))?));
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| VaultError::Malformed("nonce"))?;
        Ok(Self { key_id, nonce, ciphertext })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding<'a>(org: &'a str, row: &'a str) -> Binding<'a> {
        Binding { org, table: "connections", row, field: "credentials" }
    }

    #[test]
    fn seal_then_open_round_trips() {
        let dk = DataKey::generate();
        let id = DataKeyId::random();
        let sealed = dk.seal(id, &binding("acme", "conn_1"), b"xoxb-secret");
        let env = Envelope::parse(&sealed).unwrap();
        assert_eq!(env.key_id, id);
        assert_eq!(&**dk.open(&env, &binding("acme", "conn_1")).unwrap(), b"xoxb-secret");
    }

    #[test]
    fn a_ciphertext_copied_to_another_row_org_or_field_does_not_open() {
        let dk = DataKey::generate();
        let id = DataKeyId::random();
        let sealed = dk.seal(id, &binding("acme", "conn_1"), b"secret");
        let env = Envelope::parse(&sealed).unwrap();
        assert_eq!(dk.open(&env, &binding("acme", "conn_2")).unwrap_err(), VaultError::DoesNotOpen);
        assert_eq!(dk.open(&env, &binding("globex", "conn_1")).unwrap_err(), VaultError::DoesNotOpen);
        let other_field = Binding { field: "refresh_token", ..binding("acme", "conn_1") };
        assert!(dk.open(&env, &other_field).is_err());
    }

    #[test]
    fn tampering_is_detected_and_truncation_never_panics() {
        let dk = DataKey::generate();
        let id = DataKeyId::random();
        let mut sealed = dk.seal(id, &binding("a", "r"), b"secret");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(dk.open(&Envelope::parse(&sealed).unwrap(), &binding("a", "r")).is_err());
        for n in 0..sealed.len() {
            let _ = Envelope::parse(&sealed[..n]);
        }
        assert!(Envelope::parse(&[]).is_err());
        assert!(Envelope::parse(&[9; 64]).is_err());
    }

    #[test]
    fn wrapped_data_keys_open_only_under_their_master_key() {
        let (mk, text) = MasterKey::generate();
        let (other, _) = MasterKey::generate();
        let dk = DataKey::generate();
        let id = DataKeyId::random();
        let wrapped = mk.wrap(id, &dk);
        let back = mk.unwrap(id, &wrapped).unwrap();
        let sealed = dk.seal(id, &binding("a", "r"), b"x");
        assert_eq!(&**back.open(&Envelope::parse(&sealed).unwrap(), &binding("a", "r")).unwrap(), b"x");
        assert!(matches!(other.unwrap(id, &wrapped), Err(VaultError::WrongMasterKey { .. })));
        assert!(mk.unwrap(DataKeyId(id.0 ^ 1), &wrapped).is_err(), "bound to its id");
        use secrecy::ExposeSecret;
        let again = MasterKey::from_base64(&format!("  {}\n", text.expose_secret())).unwrap();
        assert_eq!(again.id(), mk.id());
    }

    #[test]
    fn master_key_parsing_names_the_problem() {
        assert!(matches!(MasterKey::from_base64("not base64!"), Err(VaultError::BadMasterKey(_))));
        let short = STANDARD.encode([0u8; 16]);
        let err = MasterKey::from_base64(&short).unwrap_err();
        assert!(err.to_string().contains("16 bytes"), "{err}");
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let (mk, _) = MasterKey::generate();
        assert!(!format!("{mk:?}").contains("cipher"));
        assert_eq!(format!("{:?}", DataKey::generate()), "DataKey([REDACTED])");
    }
}
