//! Compiled regular expressions for the catalog's patterns (placeholders, fields,
//! callback values, item URLs), each compiled once per process.
//!
//! Patterns come from provider files, so there are few of them and they repeat on
//! every request that checks one: compiling a pattern costs far more than matching
//! it (a profile of background refreshes put two thirds of their CPU in building
//! the same placeholder's automaton again). The cache is bounded all the same, so a
//! pattern that does not come from the catalog can never make it grow without end.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use regex::Regex;

/// Distinct patterns kept; past this, a pattern is compiled for each use.
const MAX_CACHED: usize = 4096;

static CACHE: LazyLock<RwLock<HashMap<String, Regex>>> = LazyLock::new(|| RwLock::new(HashMap::new()));

/// `pattern` compiled, from the cache when it was compiled before. A `Regex` is a
/// handle to shared, immutable state, so the clone handed back is cheap.
///
/// # Errors
/// The pattern is not a valid regular expression (nothing is cached then).
pub fn compiled(pattern: &str) -> Result<Regex, regex::Error> {
    if let Some(re) = CACHE.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(pattern) {
        return Ok(re.clone());
    }
    let re = Regex::new(pattern)?;
    let mut cache = CACHE.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    if cache.len() < MAX_CACHED {
        cache.insert(pattern.to_owned(), re.clone());
    }
    Ok(re)
}

/// Whether `value` matches `pattern`; an invalid pattern matches nothing.
#[must_use]
pub fn is_match(pattern: &str, value: &str) -> bool {
    compiled(pattern).is_ok_and(|re| re.is_match(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_once_and_answers_like_a_fresh_regex() {
        let p = r"^[a-z0-9-]{3,20}$";
        let first = compiled(p).unwrap();
        let again = compiled(p).unwrap();
        assert_eq!(first.as_str(), again.as_str());
        assert!(is_match(p, "acme-shop"));
        assert!(!is_match(p, "Acme Shop"));
    }

    #[test]
    fn an_invalid_pattern_is_an_error_and_matches_nothing() {
        assert!(compiled("(unclosed").is_err());
        assert!(!is_match("(unclosed", "(unclosed"));
        assert!(!CACHE.read().unwrap().contains_key("(unclosed"));
    }
}
