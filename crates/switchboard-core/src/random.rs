//! The one place randomness comes from: the operating system's CSPRNG.

/// Fills `N` bytes from the operating system's secure random source.
///
/// The OS source failing is not something a server can recover from, so it
/// aborts rather than hands out predictable bytes.
#[must_use]
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if let Err(err) = getrandom::fill(&mut out) {
        // Never continue with zeroed "random" bytes: keys and tokens would be guessable.
        panic!("the operating system's random source failed: {err}");
    }
    out
}

/// A random `u64`, for jitter and similar non-secret uses.
#[must_use]
pub fn u64() -> u64 {
    u64::from_le_bytes(bytes::<8>())
}

/// A uniformly distributed float in `[0, 1)`.
#[must_use]
pub fn unit_f64() -> f64 {
    // 53 random bits fill an f64's mantissa exactly.
    (u64() >> 11) as f64 / (1u64 << 53) as f64
}
