//! Where master keys come from: the environment, a file, or — on the embedded
//! default only — a key file created beside the database on first start.

use std::io::Write as _;
use std::path::Path;

use secrecy::ExposeSecret;
use switchboard_core::vault::MasterKey;

use crate::config::{Database, KeySource, Settings};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Missing(String),
    #[error("{what}: {message}")]
    Bad { what: String, message: String },
}

/// Refuses, before the database is touched, a configuration that can never
/// open the vault: PostgreSQL without a master key.
pub fn precheck(settings: &Settings) -> Result<(), KeyError> {
    if settings.master_key.is_none() && matches!(settings.database, Database::Postgres { .. }) {
        return Err(KeyError::Missing(
            "PostgreSQL needs a master key: set SWITCHBOARD_MASTER_KEY or SWITCHBOARD_MASTER_KEY_FILE \
             (make one with `switchboard generate-key --out FILE`); every instance must use the same key"
                .into(),
        ));
    }
    Ok(())
}

/// Reads one configured key.
pub fn read_key(source: &KeySource, what: &str) -> Result<MasterKey, KeyError> {
    let text = match source {
        KeySource::Inline(s) => s.expose_secret().to_owned(),
        KeySource::File(path) => std::fs::read_to_string(path).map_err(|e| KeyError::Bad {
            what: format!("{what}_FILE {}", path.display()),
            message: format!("cannot read it: {e}"),
        })?,
    };
    MasterKey::from_base64(&text).map_err(|e| KeyError::Bad { what: what.to_owned(), message: e.to_string() })
}

/// The keys to open the vault with: the primary first, then the previous one.
/// With no key configured on SQLite, the key file beside the database is used,
/// or created when the database holds no secrets yet. The bool says a key was just created.
pub fn resolve(settings: &Settings, database_has_keys: bool) -> Result<(Vec<MasterKey>, Option<String>), KeyError> {
    let mut keys = Vec::new();
    let mut created = None;
    match &settings.master_key {
        Some(source) => keys.push(read_key(source, "SWITCHBOARD_MASTER_KEY")?),
        None => match (&settings.database, settings.default_key_file()) {
            (Database::Sqlite { .. }, Some(file)) => {
                if file.exists() {
                    keys.push(read_key(&KeySource::File(file.clone()), "SWITCHBOARD_MASTER_KEY")?);
                } else if database_has_keys {
                    return Err(KeyError::Missing(format!(
                        "this database holds secrets, but no master key was given and {} does not exist; \
                         set SWITCHBOARD_MASTER_KEY_FILE to the key this database was created with",
                        file.display()
                    )));
                } else {
                    keys.push(create_key_file(&file)?);
                    created = Some(file.display().to_string());
                }
            }
            _ => {
                return Err(KeyError::Missing(
                    "PostgreSQL needs a master key: set SWITCHBOARD_MASTER_KEY or SWITCHBOARD_MASTER_KEY_FILE \
                     (make one with `switchboard generate-key --out FILE`); every instance must use the same key"
                        .into(),
                ));
            }
        },
    }
    if let Some(prev) = &settings.previous_master_key {
        keys.push(read_key(prev, "SWITCHBOARD_PREVIOUS_MASTER_KEY")?);
    }
    Ok((keys, created))
}

/// Writes a new random key to `path`, readable by its owner only.
pub fn create_key_file(path: &Path) -> Result<MasterKey, KeyError> {
    let (key, text) = MasterKey::generate();
    write_private(path, text.expose_secret()).map_err(|e| KeyError::Bad {
        what: format!("key file {}", path.display()),
        message: format!("cannot create it: {e}"),
    })?;
    Ok(key)
}

/// Creates `path` with mode 0600 and `contents`; refuses to overwrite.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}
