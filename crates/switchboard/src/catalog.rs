//! Loads the provider catalog: the entries compiled into the binary, then the
//! operator's folder, whose files add entries or replace built-in ones.

use std::path::Path;

use switchboard_core::catalog::{Catalog, CatalogErrors, Source};

include!(concat!(env!("OUT_DIR"), "/builtin_providers.rs"));

#[derive(Debug, thiserror::Error)]
pub enum CatalogLoadError {
    #[error("cannot read the providers folder {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Invalid(#[from] CatalogErrors),
}

/// The built-in entries as sources.
#[must_use]
pub fn builtin_sources() -> Vec<Source> {
    BUILTIN_PROVIDERS
        .iter()
        .map(|(name, text)| Source { origin: format!("builtin/{name}"), text: (*text).to_owned() })
        .collect()
}

/// Every `*.toml` file in `dir`, sorted by name.
pub fn folder_sources(dir: &Path) -> Result<Vec<Source>, CatalogLoadError> {
    let io = |source| CatalogLoadError::Io { path: dir.display().to_string(), source };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(io)?;
            Ok(Source { origin: p.display().to_string(), text })
        })
        .collect()
}

/// The built-in catalog plus the operator's folder, validated together.
pub fn load(operator_dir: Option<&Path>) -> Result<Catalog, CatalogLoadError> {
    let mut sources = builtin_sources();
    if let Some(dir) = operator_dir {
        sources.extend(folder_sources(dir)?);
    }
    Ok(Catalog::load(&sources)?)
}
