//! The consoles' texts: one message file per language (`messages/*.toml`), compiled in, chosen by the
//! session's locale, else the browser's `Accept-Language`, else English.

use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Languages shipped, with their message files. The first is the fallback.
const FILES: &[(&str, &str)] = &[("en", include_str!("messages/en.toml")), ("de", include_str!("messages/de.toml"))];

/// Every language's messages by dotted key (`market.search`).
static CATALOGS: LazyLock<BTreeMap<&'static str, BTreeMap<String, String>>> =
    LazyLock::new(|| FILES.iter().map(|(lang, text)| (*lang, flatten(text))).collect());

fn flatten(text: &str) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
            toml::Value::String(s) => {
                out.insert(prefix.to_owned(), s.clone());
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    // The files are compiled in and checked by a test; a broken one reads as empty, never a panic.
    if let Ok(t) = text.parse::<toml::Table>() {
        walk("", &toml::Value::Table(t), &mut out);
    }
    out
}

/// The texts of one language.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Messages {
    pub(crate) lang: &'static str,
}

impl Messages {
    /// The session's language if it has one, else the first of the browser's we ship.
    #[must_use]
    pub(crate) fn negotiate(session: Option<&str>, accept_language: Option<&str>) -> Self {
        if let Some(l) = session.and_then(Self::shipped) {
            return Self { lang: l };
        }
        let mut wanted: Vec<(f32, &str)> = accept_language
            .unwrap_or_default()
            .split(',')
            .filter_map(|part| {
                let mut it = part.trim().split(';');
                let tag = it.next()?.trim();
                let q = it.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse().ok()).unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        wanted.sort_by(|a, b| b.0.total_cmp(&a.0));
        let lang = wanted
            .iter()
            .find_map(|(_, tag)| Self::shipped(tag.split('-').next().unwrap_or_default()))
            .unwrap_or(FILES[0].0);
        Self { lang }
    }

    fn shipped(tag: &str) -> Option<&'static str> {
        FILES.iter().map(|(l, _)| *l).find(|l| l.eq_ignore_ascii_case(tag))
    }

    /// The text for `key`; English where this language lacks it, the key itself where both do.
    #[must_use]
    pub(crate) fn get(&self, key: &str) -> String {
        CATALOGS
            .get(self.lang)
            .and_then(|c| c.get(key))
            .or_else(|| CATALOGS.get(FILES[0].0).and_then(|c| c.get(key)))
            .cloned()
            .unwrap_or_else(|| key.to_owned())
    }

    /// The text for `key` with each `{name}` replaced.
    #[must_use]
    pub(crate) fn fmt(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut s = self.get(key);
        for (name, value) in values {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }

    /// The messages under `prefix.` as a JSON object, for the page's script.
    #[must_use]
    pub(crate) fn section_json(&self, prefixes: &[&str]) -> serde_json::Value {
        let en = CATALOGS.get(FILES[0].0);
        let mut out = serde_json::Map::new();
        for (k, _) in en.into_iter().flatten() {
            if prefixes.iter().any(|p| k.starts_with(&format!("{p}."))) {
                out.insert(k.clone(), serde_json::Value::String(self.get(k)));
            }
        }
        serde_json::Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_key_and_the_same_placeholders() {
        let en = &CATALOGS["en"];
        assert!(en.len() > 50, "en.toml parsed to {} keys", en.len());
        let names = |s: &str| {
            let mut v: Vec<String> =
                s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned())).collect();
            v.sort();
            v
        };
        for (lang, _) in FILES {
            let c = &CATALOGS[lang];
            for (k, v) in en {
                let t = c.get(k).unwrap_or_else(|| panic!("{lang}.toml lacks {k}"));
                assert_eq!(names(t), names(v), "{lang}.toml {k} has other placeholders than en.toml");
            }
            for k in c.keys() {
                assert!(en.contains_key(k), "{lang}.toml has {k}, which en.toml lacks");
            }
        }
    }

    #[test]
    fn the_session_wins_then_the_browser_then_english() {
        assert_eq!(Messages::negotiate(Some("de"), Some("en")).lang, "de");
        assert_eq!(Messages::negotiate(None, Some("fr-CH, de-DE;q=0.8, en;q=0.5")).lang, "de");
        assert_eq!(Messages::negotiate(None, Some("en;q=0.2, de;q=0.9")).lang, "de");
        assert_eq!(Messages::negotiate(None, Some("fr")).lang, "en");
        assert_eq!(Messages::negotiate(None, None).lang, "en");
        assert_eq!(Messages::negotiate(Some("xx"), Some("de")).lang, "de");
    }
}
