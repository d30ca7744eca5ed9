//! Recently checked access, reused for `SWITCHBOARD_ACCESS_CACHE_MS`: secret keys by digest (the
//! principal they are), and connections by id (the rules of who may see them, and the record a
//! provider call signs with: credentials still sealed). With both, a read
//! served from memory — a cached listing for the host app's backend — asks the database nothing.
//! A change made through this instance (a key revoked, a connection made private or deleted)
//! drops the entries at once; one made elsewhere (another instance, the CLI) is seen within that
//! time. Session tokens are not kept: a revoked session is refused at once on every instance.

use std::collections::HashMap;
use std::sync::Mutex;

use switchboard_core::access::{Principal, Role};

use super::Services;
use crate::store::ConnectionRecord;

/// Entries kept at most per cache; past it, expired ones go, and if that is not enough, all.
const MAX_ENTRIES: usize = 100_000;

pub struct RecentlyChecked<V> {
    ttl_ms: i64,
    entries: Mutex<HashMap<String, (V, i64)>>,
}

impl<V> std::fmt::Debug for RecentlyChecked<V> {
    /// Never the entries: they are keyed by token digests.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecentlyChecked").field("ttl_ms", &self.ttl_ms).finish_non_exhaustive()
    }
}

impl<V: Clone> RecentlyChecked<V> {
    #[must_use]
    pub fn new(ttl_ms: i64) -> Self {
        Self { ttl_ms, entries: Mutex::new(HashMap::new()) }
    }

    /// The value checked for `key` less than the cache time before `now_ms`.
    pub fn get(&self, key: &str, now_ms: i64) -> Option<V> {
        if self.ttl_ms == 0 {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        entries.get(key).filter(|(_, until)| now_ms < *until).map(|(v, _)| v.clone())
    }

    /// Remembers `value` from `now_ms` for the cache time, or until `ends_ms` if sooner.
    pub fn put(&self, key: &str, value: V, now_ms: i64, ends_ms: Option<i64>) {
        if self.ttl_ms == 0 {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, until)| now_ms < *until);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let until = now_ms.saturating_add(self.ttl_ms).min(ends_ms.unwrap_or(i64::MAX));
        entries.insert(key.to_owned(), (value, until));
    }

    pub fn forget(&self, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }

    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// Who may see a connection, and what it is: all a cached listing needs to be served.
#[derive(Debug, Clone)]
pub struct ConnectionGate {
    pub id: String,
    pub org: String,
    pub owner: Option<String>,
    pub shared: bool,
    pub provider: String,
    pub auth_mode: String,
}

impl From<&ConnectionRecord> for ConnectionGate {
    fn from(r: &ConnectionRecord) -> Self {
        Self {
            id: r.id.clone(),
            org: r.org.clone(),
            owner: r.owner.clone(),
            shared: r.shared != 0,
            provider: r.provider.clone(),
            auth_mode: r.auth_mode.clone(),
        }
    }
}

impl ConnectionGate {
    /// Whether `actor` may see the connection: the same rules as reading it from the store.
    #[must_use]
    pub fn admits(&self, actor: &Principal) -> bool {
        match actor {
            Principal::Session { org, user, role } => {
                org.as_str() == self.org
                    && (self.shared || *role != Role::Member || self.owner.as_deref() == Some(user.as_str()))
            }
            Principal::SecretKey { .. } | Principal::Operator | Principal::System => true,
        }
    }
}

impl Services {
    /// Drops what is held in memory about a connection: its listings and its access rules
    /// (re-authorised, made private, moved to needs_reauth, deleted).
    pub(crate) fn forget_connection_caches(&self, id: &str) {
        self.listing_cache.forget_connection(id);
        self.connection_gates.forget(id);
        self.connection_records.forget(id);
        self.forget_tool_catalogues();
    }

    /// Drops every principal's MCP tools: a connection came, went or changed on this instance.
    pub(crate) fn forget_tool_catalogues(&self) {
        self.mcp_catalogues.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_last_the_cache_time_or_until_they_end() {
        let c = RecentlyChecked::<u8>::new(1000);
        c.put("a", 1, 0, None);
        c.put("b", 2, 0, Some(500));
        assert_eq!((c.get("a", 999), c.get("a", 1000)), (Some(1), None));
        assert_eq!((c.get("b", 499), c.get("b", 500)), (Some(2), None));
        c.forget("a");
        assert_eq!(c.get("a", 1), None);
        let off = RecentlyChecked::<u8>::new(0);
        off.put("a", 1, 0, None);
        assert_eq!(off.get("a", 0), None, "0 turns it off");
    }
}
