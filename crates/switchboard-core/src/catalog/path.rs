//! Dot paths into JSON answers: `result.username`, `data.0.id`.

use serde_json::Value;

/// The value at `path`; the empty path is the whole document.
#[must_use]
pub fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(doc);
    }
    path.split('.').try_fold(doc, |cur, key| match cur {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
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

/// Whether a path is well-formed: non-empty segments of `[A-Za-z0-9_@$-]`.
#[must_use]
pub fn is_valid(path: &str) -> bool {
    path.split('.').all(|seg| {
        !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@' | b'$'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
