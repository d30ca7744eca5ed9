//! Dot paths into JSON answers: `result.username`, `data.0.id`. A key holding a
//! dot escapes it (`@odata\.nextLink`); `[key=value]` picks the first element of
//! an array whose `key` reads `value` (`tables.[id=tbl1].fields`).

use serde_json::Value;

/// The segments of a path, with `\.` kept as a literal dot.
fn segments(path: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                chars.next();
                if let Some(last) = out.last_mut() {
                    last.push('.');
                }
            }
            '.' => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// The value at `path`; the empty path is the whole document.
#[must_use]
pub fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(doc);
    }
    segments(path).iter().try_fold(doc, |cur, key| match cur {
        Value::Object(map) => map.get(key.as_str()),
        Value::Array(items) => match key.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
            Some(filter) => {
                let (k, v) = filter.split_once('=')?;
                items.iter().find(|item| get_text(item, k).as_deref() == Some(v))
            }
            None => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        },
        _ => None,
    })
}

/// The value at `path` as display text: strings as they are, numbers and
/// booleans printed, null/missing/objects as `None`.
#[must_use]
pub fn get_text(doc: &Value, path: &str) -> Option<String> {
    match get(doc, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether a path is well-formed: non-empty segments of `[A-Za-z0-9_@$.-]` (a dot
/// escaped), or a `[key=value]` filter.
#[must_use]
pub fn is_valid(path: &str) -> bool {
    let key_ok = |seg: &str| {
        !seg.is_empty()
            && seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@' | b'$' | b'.'))
    };
    segments(path).iter().all(|seg| match seg.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
        Some(filter) => filter.split_once('=').is_some_and(|(k, v)| is_valid(k) && !v.is_empty()),
        None => key_ok(seg),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escaped_dots_and_filters() {
        let doc = json!({"@odata.nextLink": "https://graph.example/next", "tables": [{"id": "t1", "fields": [1]}, {"id": "t2", "fields": [2, 3]}]});
        assert_eq!(get_text(&doc, "@odata\\.nextLink").as_deref(), Some("https://graph.example/next"));
        assert_eq!(get(&doc, "tables.[id=t2].fields"), Some(&json!([2, 3])));
        assert_eq!(get(&doc, "tables.[id=t9].fields"), None);
        assert!(is_valid("@odata\\.nextLink") && is_valid("tables.[id=t2].fields"));
        assert!(!is_valid("tables.[id].fields") && !is_valid("a..b"));
    }

    #[test]
    fn reads_nested_objects_and_arrays() {
        let doc = json!({"result": {"username": "bot", "id": 42}, "data": [{"id": "a"}], "ok": true});
        assert_eq!(get_text(&doc, "result.username").as_deref(), Some("bot"));
        assert_eq!(get_text(&doc, "result.id").as_deref(), Some("42"));
        assert_eq!(get_text(&doc, "data.0.id").as_deref(), Some("a"));
        assert_eq!(get_text(&doc, "ok").as_deref(), Some("true"));
        assert_eq!(get_text(&doc, "data.1.id"), None);
        assert_eq!(get_text(&doc, "result"), None);
        assert!(get(&doc, "").is_some());
        assert!(is_valid("authed_user.access_token"));
        assert!(!is_valid("a..b"));
    }
}
