//! HMAC signatures as senders compute them, for schemes whose providers ship
//! no signing library (GitHub-style `sha256=` headers, the generic scheme,
//! Shopify's callback parameters).

use hmac::{KeyInit as _, Mac as _};

pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// `sha256=` and the hex HMAC-SHA256 of the body (GitHub, Meta, the generic scheme).
pub fn sha256_header(key: &str, body: &str) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(key.as_bytes(), body.as_bytes())))
}
