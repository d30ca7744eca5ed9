//! The listing cache: pages of resource listings per connection, bounded in
//! bytes (least recently used out first), each fresh for its kind's cache time
//! and kept beyond it only to be served, marked stale, when the provider fails.
//! Identical listings in flight share one provider call (a lock per key).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hashlink::LinkedHashMap;
use prometheus_client::metrics::gauge::Gauge;

use super::resources::Page;

/// How long a page past its cache time may still be served when the provider fails.
pub const STALE_FOR: Duration = Duration::from_secs(24 * 3600);

/// One listing: the connection, the kind, and everything that selects the page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub connection: String,
    pub kind: String,
    /// Parents, `q`, cursor and limit in a fixed order.
    pub selector: String,
}

struct Entry {
    page: Arc<Page>,
    fetched: Instant,
    bytes: usize,
}

#[derive(Default)]
struct State {
    entries: LinkedHashMap<Key, Entry>,
    bytes: usize,
}

pub struct ListingCache {
    state: Mutex<State>,
    max_bytes: usize,
    /// What `/metrics` shows of it: bytes and pages held.
    gauges: (Gauge, Gauge),
    flights: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for ListingCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListingCache").field("max_bytes", &self.max_bytes).finish_non_exhaustive()
    }
}

/// What the cache holds for a key.
pub enum Cached {
    /// Within the kind's cache time.
    Fresh(Arc<Page>),
    /// Past it, kept for when the provider fails.
    Stale(Arc<Page>),
    Missing,
}

impl ListingCache {
    #[must_use]
    pub fn new(max_bytes: usize, gauges: (Gauge, Gauge)) -> Self {
        Self { state: Mutex::new(State::default()), max_bytes, gauges, flights: Mutex::new(HashMap::new()) }
    }

    fn publish(&self, state: &State) {
        self.gauges.0.set(i64::try_from(state.bytes).unwrap_or(i64::MAX));
        self.gauges.1.set(i64::try_from(state.entries.len()).unwrap_or(i64::MAX));
    }

    pub fn get(&self, key: &Key, fresh_for: Duration) -> Cached {
        let Ok(mut state) = self.state.lock() else { return Cached::Missing };
        let Some(entry) = state.entries.to_back(key) else { return Cached::Missing };
        let age = entry.fetched.elapsed();
        if age < fresh_for {
            Cached::Fresh(entry.page.clone())
        } else if age < fresh_for + STALE_FOR {
            Cached::Stale(entry.page.clone())
        } else {
            Cached::Missing
        }
    }

    pub fn put(&self, key: Key, page: Arc<Page>) {
        let bytes = page.approximate_bytes() + key.selector.len() + key.connection.len() + key.kind.len();
        if bytes > self.max_bytes {
            return;
        }
        let Ok(mut state) = self.state.lock() else { return };
        if let Some(old) = state.entries.remove(&key) {
            state.bytes -= old.bytes;
        }
        state.bytes += bytes;
        state.entries.insert(key, Entry { page, fetched: Instant::now(), bytes });
        while state.bytes > self.max_bytes {
            let Some((_, old)) = state.entries.pop_front() else { break };
            state.bytes -= old.bytes;
        }
        self.publish(&state);
    }

    /// Forgets every listing of a connection (re-authorised, credentials changed, deleted).
    pub fn forget_connection(&self, connection: &str) {
        let Ok(mut state) = self.state.lock() else { return };
        let keys: Vec<Key> = state.entries.keys().filter(|k| k.connection == connection).cloned().collect();
        for k in keys {
            if let Some(old) = state.entries.remove(&k) {
                state.bytes -= old.bytes;
            }
        }
        self.publish(&state);
    }

    /// Bytes held now (for the memory benchmark and tests).
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.state.lock().map(|s| s.bytes).unwrap_or(0)
    }

    /// The lock that makes identical concurrent listings one provider call.
    pub fn flight(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        let Ok(mut flights) = self.flights.lock() else { return Arc::new(tokio::sync::Mutex::new(())) };
        flights.entry(key.clone()).or_default().clone()
    }

    /// Drops a key's lock once nobody waits on it.
    pub fn land(&self, key: &Key) {
        if let Ok(mut flights) = self.flights.lock()
            && flights.get(key).is_some_and(|l| Arc::strong_count(l) == 1)
        {
            flights.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::resources::Item;

    fn page(n: usize, text: &str) -> Arc<Page> {
        let items: Vec<Item> =
            (0..n).map(|i| Item { id: format!("{i}"), name: text.repeat(10), fields: Default::default() }).collect();
        Arc::new(Page::new(&items, None).unwrap())
    }

    fn key(c: &str, s: &str) -> Key {
        Key { connection: c.into(), kind: "channel".into(), selector: s.into() }
    }

    #[test]
    fn bounded_by_bytes_least_recently_used_out_first() {
        let cache = ListingCache::new(4096, Default::default());
        for i in 0..100 {
            cache.put(key("conn_a", &i.to_string()), page(5, "abcdefgh"));
            assert!(cache.bytes() <= 4096);
        }
        assert!(matches!(cache.get(&key("conn_a", "99"), Duration::from_secs(60)), Cached::Fresh(_)));
        assert!(matches!(cache.get(&key("conn_a", "0"), Duration::from_secs(60)), Cached::Missing));
    }

    #[test]
    fn pages_turn_stale_and_connections_are_forgotten() {
        let cache = ListingCache::new(1 << 20, Default::default());
        cache.put(key("conn_a", "x"), page(1, "a"));
        cache.put(key("conn_b", "x"), page(1, "b"));
        assert!(matches!(cache.get(&key("conn_a", "x"), Duration::ZERO), Cached::Stale(_)));
        cache.forget_connection("conn_a");
        assert!(matches!(cache.get(&key("conn_a", "x"), Duration::from_secs(60)), Cached::Missing));
        assert!(matches!(cache.get(&key("conn_b", "x"), Duration::from_secs(60)), Cached::Fresh(_)));
    }
}
