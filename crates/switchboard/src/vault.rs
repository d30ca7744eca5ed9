//! The vault service: keeps data keys unwrapped in memory, seals with the
//! active one, counts seals against each key's nonce budget (rotating to a
//! fresh data key before it runs out), and re-wraps data keys when the
//! operator rotates the master key. The cryptography itself is in
//! `switchboard_core::vault`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use switchboard_core::vault::{Binding, DataKey, DataKeyId, Envelope, MasterKey, SEAL_BUDGET, VaultError};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::store::{DataKeyRecord, Store, StoreError};

/// Seals reserved from the database at a time, so counting costs one write per block.
const RESERVATION_BLOCK: u64 = 1024;

#[derive(Debug, thiserror::Error)]
pub enum VaultServiceError {
    #[error(
        "the master key does not match this database: its data keys are wrapped by master key {expected}, \
         but the key given is {given}. Start with the key this database was created with \
         (SWITCHBOARD_MASTER_KEY or SWITCHBOARD_MASTER_KEY_FILE); during a rotation give the other one as \
         SWITCHBOARD_PREVIOUS_MASTER_KEY(_FILE)"
    )]
    WrongMasterKey { expected: String, given: String },
    #[error(transparent)]
    Crypto(#[from] VaultError),
    #[error("data key {0} is not in the database")]
    UnknownDataKey(DataKeyId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Active {
    id: DataKeyId,
    key: Arc<DataKey>,
    remaining: u64,
    /// When the key was last seen live in the database: a key retired by `rotate-key --reseal`
    /// (on any instance) stops being sealed with within [`RETIREMENT_CHECK_MS`].
    checked_ms: i64,
}

/// How often a server re-reads whether its active data key has been retired; `vault retire`
/// waits longer than this after a retirement before it removes a key.
pub const RETIREMENT_CHECK_MS: i64 = 1000;

pub struct Vault {
    store: Store,
    /// The first key wraps new data keys; the others are only accepted.
    masters: Vec<MasterKey>,
    keys: RwLock<HashMap<DataKeyId, Arc<DataKey>>>,
    active: Mutex<Option<Active>>,
    budget: u64,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<_> = self.masters.iter().map(|m| m.id().to_string()).collect();
        f.debug_struct("Vault").field("master_keys", &ids).finish_non_exhaustive()
    }
}

impl Vault {
    /// Unwraps every data key with the configured master keys, refusing a key
    /// that does not match; creates the first data key on a fresh database.
    pub async fn open(store: Store, masters: Vec<MasterKey>, clock: Arc<dyn Clock>) -> Result<Self, VaultServiceError> {
        Self::open_with_budget(store, masters, clock, SEAL_BUDGET).await
    }

    /// As [`Vault::open`] with a smaller seal budget (tests exercise key rollover with it).
    pub async fn open_with_budget(
        store: Store,
        masters: Vec<MasterKey>,
        clock: Arc<dyn Clock>,
        budget: u64,
    ) -> Result<Self, VaultServiceError> {
        let vault = Self { store, masters, keys: RwLock::new(HashMap::new()), active: Mutex::new(None), budget, clock };
        let records = vault.store.data_keys().await?;
        let mut keys = HashMap::new();
        for rec in &records {
            keys.insert(DataKeyId(rec.id), Arc::new(vault.unwrap_record(rec)?));
        }
        if let Ok(mut guard) = vault.keys.write() {
            *guard = keys;
        }
        if records.is_empty() {
            // Bind a fresh database to its master key now, so that a wrong key is
            // refused at the next start even before any secret is stored.
            vault.create_data_key(0).await?;
        }
        Ok(vault)
    }

    #[must_use]
    pub fn primary_key_id(&self) -> String {
        self.masters.first().map(|m| m.id().to_string()).unwrap_or_default()
    }

    fn unwrap_record(&self, rec: &DataKeyRecord) -> Result<DataKey, VaultServiceError> {
        let master = self.masters.iter().find(|m| m.id().as_str() == rec.master_key_id).ok_or_else(|| {
            VaultServiceError::WrongMasterKey {
                expected: rec.master_key_id.clone(),
                given: self.masters.iter().map(|m| m.id().to_string()).collect::<Vec<_>>().join(" and "),
            }
        })?;
        Ok(master.unwrap(DataKeyId(rec.id), &rec.wrapped)?)
    }

    /// Seals `plaintext` for the row and field in `binding`.
    pub async fn seal(&self, binding: &Binding<'_>, plaintext: &[u8]) -> Result<Vec<u8>, VaultServiceError> {
        let (id, key) = self.take_seal().await?;
        Ok(key.seal(id, binding, plaintext))
    }

    /// Opens a value sealed for exactly this binding.
    pub async fn open_sealed(
        &self,
        binding: &Binding<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultServiceError> {
        let envelope = Envelope::parse(sealed)?;
        let key = self.data_key(envelope.key_id).await?;
        Ok(key.open(&envelope, binding)?)
    }

    async fn data_key(&self, id: DataKeyId) -> Result<Arc<DataKey>, VaultServiceError> {
        if let Some(k) = self.keys.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(k);
        }
        // Another instance made this key after we started.
        let rec = self.store.data_key(id.0).await?.ok_or(VaultServiceError::UnknownDataKey(id))?;
        let key = Arc::new(self.unwrap_record(&rec)?);
        if let Ok(mut m) = self.keys.write() {
            m.insert(id, key.clone());
        }
        Ok(key)
    }

    /// One seal's worth of the active data key, reserving a block from the
    /// database when the local reservation is used up.
    async fn take_seal(&self) -> Result<(DataKeyId, Arc<DataKey>), VaultServiceError> {
        let mut active = self.active.lock().await;
        let now = self.clock.now().millis();
        if let Some(a) = active.as_mut().filter(|a| a.remaining > 0) {
            // Asked of the database at most once per RETIREMENT_CHECK_MS, however busy the key.
            let live = if now - a.checked_ms < RETIREMENT_CHECK_MS {
                true
            } else {
                a.checked_ms = now;
                self.store.data_key(a.id.0).await?.is_some_and(|r| r.retired_at.is_none())
            };
            if live {
                a.remaining -= 1;
                return Ok((a.id, a.key.clone()));
            }
            *active = None;
        }
        let block = RESERVATION_BLOCK.min(self.budget).max(1);
        let block_i = i64::try_from(block).unwrap_or(i64::MAX);
        let budget_i = i64::try_from(self.budget).unwrap_or(i64::MAX);
        // Reuse the current (or newest live) key while its budget lasts.
        let candidate = match active.as_ref() {
            Some(a) => Some(a.id),
            None => self.newest_live_key().await?,
        };
        if let Some(id) = candidate {
            match self.store.reserve_seals(id.0, block_i).await? {
                Some(total) if total <= budget_i => {
                    let key = self.data_key(id).await?;
                    *active = Some(Active { id, key: key.clone(), remaining: block - 1, checked_ms: now });
                    return Ok((id, key));
                }
                Some(_) => {
                    tracing::info!(data_key = %id, "data key reached its seal budget; rotating to a new data key");
                    self.store.retire_data_key(id.0, self.clock.now().millis()).await?;
                }
                None => {}
            }
        }
        let (id, key) = self.create_data_key(block_i).await?;
        *active = Some(Active { id, key: key.clone(), remaining: block - 1, checked_ms: now });
        Ok((id, key))
    }

    async fn newest_live_key(&self) -> Result<Option<DataKeyId>, VaultServiceError> {
        let records = self.store.data_keys().await?;
        Ok(records.iter().rev().find(|r| r.retired_at.is_none()).map(|r| DataKeyId(r.id)))
    }

    async fn create_data_key(&self, reserved: i64) -> Result<(DataKeyId, Arc<DataKey>), VaultServiceError> {
        let master = self.masters.first().ok_or(VaultServiceError::Crypto(VaultError::Malformed("no master key")))?;
        let key = DataKey::generate();
        let id = DataKeyId::random();
        let rec = DataKeyRecord {
            id: id.0,
            master_key_id: master.id().to_string(),
            wrapped: master.wrap(id, &key),
            sealed_count: reserved,
            created_at: self.clock.now().millis(),
            retired_at: None,
        };
        self.store.insert_data_key(&rec).await?;
        let key = Arc::new(key);
        if let Ok(mut m) = self.keys.write() {
            m.insert(id, key.clone());
        }
        Ok((id, key))
    }

    /// Opens every sealed value in the database; the count, or the first failure.
    pub async fn check_all(&self) -> Result<CheckReport, VaultServiceError> {
        let mut report = CheckReport::default();
        for v in self.store.sealed_values().await? {
            let binding = Binding { org: &v.org, table: v.table, row: &v.row, field: v.field };
            match self.open_sealed(&binding, &v.sealed).await {
                Ok(_) => report.opened += 1,
                Err(e) => report.failed.push(format!("{}/{}/{}: {e}", v.table, v.row, v.field)),
            }
        }
        report.data_keys = self.store.data_keys().await?.len();
        Ok(report)
    }
}

/// One data key and what is sealed under it.
#[derive(Debug, Clone)]
pub struct KeyUsage {
    pub id: DataKeyId,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub secrets: usize,
}

/// What `rotate-key --reseal` did.
#[derive(Debug, Default)]
pub struct ResealReport {
    /// An earlier, interrupted re-seal was carried on rather than a new data key made.
    pub resumed: bool,
    pub resealed: usize,
    /// Values rewritten by a server while being re-sealed (picked up again by a later pass).
    pub raced: usize,
    pub passes: usize,
}

impl Vault {
    /// Every data key with the number of secrets sealed under it, oldest first.
    pub async fn usage(&self) -> Result<Vec<KeyUsage>, VaultServiceError> {
        let mut counts: HashMap<DataKeyId, usize> = HashMap::new();
        for v in self.store.sealed_values().await? {
            if let Ok(env) = Envelope::parse(&v.sealed) {
                *counts.entry(env.key_id).or_default() += 1;
            }
        }
        Ok(self
            .store
            .data_keys()
            .await?
            .into_iter()
            .map(|r| KeyUsage {
                id: DataKeyId(r.id),
                created_at: r.created_at,
                retired_at: r.retired_at,
                secrets: counts.get(&DataKeyId(r.id)).copied().unwrap_or(0),
            })
            .collect())
    }

    /// Seals every secret anew under a fresh data key, online: the keys in use are retired (servers
    /// stop sealing with them within [`RETIREMENT_CHECK_MS`]), a new one is made, then each value
    /// under a retired key is opened and sealed again, replaced only if unchanged meanwhile. Passes
    /// repeat until none is left. Interrupted, it is run again: secrets still under retired keys
    /// mean it carries on where it stopped instead of making yet another key. `progress` gets
    /// (done, total) after each value.
    pub async fn reseal_all(&self, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<ResealReport, VaultServiceError> {
        let mut report = ResealReport::default();
        let usage = self.usage().await?;
        report.resumed = usage.iter().any(|k| k.retired_at.is_some() && k.secrets > 0)
            && usage.iter().any(|k| k.retired_at.is_none());
        if !report.resumed {
            let now = self.clock.now().millis();
            for k in usage.iter().filter(|k| k.retired_at.is_none()) {
                self.store.retire_data_key(k.id.0, now).await?;
            }
            *self.active.lock().await = None;
        }
        // Servers notice a retirement within RETIREMENT_CHECK_MS and may seal under the retired key
        // until then; only a pass finding nothing to do after that window proves the work done.
        let retired_at = self.usage().await?.iter().filter_map(|k| k.retired_at).max().unwrap_or(0);
        let settled_at = retired_at + 2 * RETIREMENT_CHECK_MS;
        let mut passes_after_window = 0;
        loop {
            let after_window = self.clock.now().millis() >= settled_at;
            if after_window {
                passes_after_window += 1;
                if passes_after_window > 20 {
                    break;
                }
            }
            let live: std::collections::HashSet<i64> =
                self.store.data_keys().await?.into_iter().filter(|r| r.retired_at.is_none()).map(|r| r.id).collect();
            let todo: Vec<_> = self
                .store
                .sealed_values()
                .await?
                .into_iter()
                .filter(|v| Envelope::parse(&v.sealed).is_ok_and(|e| !live.contains(&e.key_id.0)))
                .collect();
            if todo.is_empty() {
                if after_window {
                    return Ok(report);
                }
                let wait = settled_at - self.clock.now().millis();
                tokio::time::sleep(std::time::Duration::from_millis(u64::try_from(wait).unwrap_or(0).min(100))).await;
                continue;
            }
            report.passes += 1;
            let total = todo.len() as u64;
            for (i, v) in todo.iter().enumerate() {
                let binding = Binding { org: &v.org, table: v.table, row: &v.row, field: v.field };
                let plain = self.open_sealed(&binding, &v.sealed).await?;
                let sealed = self.seal(&binding, &plain).await?;
                if self.store.replace_sealed(v, &sealed).await? {
                    report.resealed += 1;
                } else {
                    report.raced += 1;
                }
                progress(i as u64 + 1, total);
            }
        }
        Err(VaultServiceError::Store(StoreError::Conflict(
            "secrets kept being sealed under retired data keys; run rotate-key --reseal again".into(),
        )))
    }

    /// Removes retired data keys no secret is sealed under any more, once every server has had
    /// time to notice their retirement. The ids removed.
    pub async fn remove_unused_keys(&self) -> Result<Vec<DataKeyId>, VaultServiceError> {
        let newest_retirement = self.usage().await?.iter().filter_map(|k| k.retired_at).max();
        if let Some(at) = newest_retirement {
            let wait = at + 2 * RETIREMENT_CHECK_MS - self.clock.now().millis();
            if wait > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(u64::try_from(wait).unwrap_or(0))).await;
            }
        }
        let mut removed = Vec::new();
        for k in self.usage().await? {
            if k.retired_at.is_some() && k.secrets == 0 && self.store.delete_retired_data_key(k.id.0).await? {
                if let Ok(mut m) = self.keys.write() {
                    m.remove(&k.id);
                }
                removed.push(k.id);
            }
        }
        Ok(removed)
    }
}

#[derive(Debug, Default)]
pub struct CheckReport {
    pub opened: usize,
    pub data_keys: usize,
    pub failed: Vec<String>,
}

/// What `rotate-key` did.
#[derive(Debug, Default)]
pub struct RotationReport {
    pub rewrapped: usize,
    pub already_current: usize,
}

/// Re-wraps every data key under `new`, unwrapping each with whichever of
/// `current` wrapped it. Runs while servers keep serving: they hold the data
/// keys unwrapped, and each row changes atomically from one wrapping to the
/// other. Repeats until no data key is left under an old master key (a server
/// may add one meanwhile).
pub async fn rotate_master_key(
    store: &Store,
    current: &[MasterKey],
    new: &MasterKey,
) -> Result<RotationReport, VaultServiceError> {
    let mut report = RotationReport::default();
    for _pass in 0..10 {
        let records = store.data_keys().await?;
        let todo: Vec<_> = records.iter().filter(|r| r.master_key_id != new.id().as_str()).collect();
        if report.rewrapped == 0 {
            report.already_current = records.len() - todo.len();
        }
        if todo.is_empty() {
            return Ok(report);
        }
        for rec in todo {
            let master = current.iter().find(|m| m.id().as_str() == rec.master_key_id).ok_or_else(|| {
                VaultServiceError::WrongMasterKey {
                    expected: rec.master_key_id.clone(),
                    given: current.iter().map(|m| m.id().to_string()).collect::<Vec<_>>().join(" and "),
                }
            })?;
            let key = master.unwrap(DataKeyId(rec.id), &rec.wrapped)?;
            let wrapped = new.wrap(DataKeyId(rec.id), &key);
            if store.rewrap_data_key(rec.id, &rec.master_key_id, new.id().as_str(), &wrapped).await? {
                report.rewrapped += 1;
            }
        }
    }
    Err(VaultServiceError::Store(StoreError::Conflict(
        "data keys kept appearing under the old master key; give every instance the new key and run rotate-key again"
            .into(),
    )))
}
