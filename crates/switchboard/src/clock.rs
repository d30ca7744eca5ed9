//! The only place the wall clock is read. Services take a [`Clock`] so tests
//! can move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use switchboard_core::time::Timestamp;

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods, reason = "the one sanctioned read of the wall clock")]
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_millis(ms)
    }
}

/// A clock that starts at the real time and can be moved forward by tests.
#[derive(Debug)]
pub struct ShiftedClock {
    offset_ms: AtomicI64,
}

impl ShiftedClock {
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self { offset_ms: AtomicI64::new(0) })
    }

    pub fn advance(&self, d: std::time::Duration) {
        self.offset_ms.fetch_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// Moves this clock back: what it stamped since looks to lie ahead (tokens it thinks fresh
    /// that their issuer has already let expire).
    pub fn rewind(&self, d: std::time::Duration) {
        self.offset_ms.fetch_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(SystemClock.now().millis() + self.offset_ms.load(Ordering::SeqCst))
    }
}
