//! The provider catalog: data, not code. Entries are parsed from TOML
//! (providers/FORMAT.md), validated as a whole, and looked up by id.

mod model;
pub mod path;
pub mod template;
mod validate;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use model::*;
pub use validate::{Problem, RESOURCE_NAMES, validate_provider, versions_ending};

/// Where an entry came from, for error messages.
#[derive(Debug, Clone)]
pub struct Source {
    pub origin: String,
    pub text: String,
}

/// A loaded, validated catalog. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Catalog {
    providers: BTreeMap<String, Arc<Provider>>,
}

/// Every problem found while loading, each naming its file and key.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in the provider catalog:\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct CatalogErrors(pub Vec<Problem>);

impl Catalog {
    /// Parses and validates `sources` in order; a later entry with the same id
    /// replaces an earlier one (operator files override built-ins).
    pub fn load(sources: &[Source]) -> Result<Self, CatalogErrors> {
        let mut problems = Vec::new();
        let mut providers = BTreeMap::new();
        let mut seen_in_batch: BTreeMap<String, String> = BTreeMap::new();
        for src in sources {
            match parse_one(src) {
                Ok(p) => {
                    problems.extend(validate_provider(&p, &src.origin));
                    if let Some(prev) = seen_in_batch.get(&p.id) {
                        // Duplicates within one folder are a mistake; across folders they are overrides.
                        if same_folder(prev, &src.origin) {
                            problems.push(Problem::new(
                                &src.origin,
                                "id",
                                format!("id {:?} is also used by {prev}", p.id),
                            ));
                        }
                    }
                    seen_in_batch.insert(p.id.clone(), src.origin.clone());
                    providers.insert(p.id.clone(), Arc::new(p));
                }
                Err(problem) => problems.push(problem),
            }
        }
        if problems.is_empty() { Ok(Self { providers }) } else { Err(CatalogErrors(problems)) }
    }

    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Arc<Provider>> {
        self.providers.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.providers.values()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.providers.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }
}

fn same_folder(a: &str, b: &str) -> bool {
    let dir = |s: &str| s.rsplit_once('/').map(|(d, _)| d.to_owned()).unwrap_or_default();
    dir(a) == dir(b)
}

fn parse_one(src: &Source) -> Result<Provider, Problem> {
    let provider: Provider =
        toml::from_str(&src.text).map_err(|e| Problem::new(&src.origin, "", e.to_string().trim().to_owned()))?;
    let stem = src.origin.rsplit('/').next().unwrap_or(&src.origin).trim_end_matches(".toml");
    if stem != provider.id {
        return Err(Problem::new(&src.origin, "id", format!("id {:?} must equal the file name {stem:?}", provider.id)));
    }
    Ok(provider)
}

#[cfg(test)]
mod tests;
