//! What the HTTP layer reads from a request before any database work: the bearer token, a cookie,
//! whether the body is declared as JSON, and the body's outer shape. Pure functions over the raw
//! header text and bytes, so hostile input meets them in fuzz and property tests as it does in the
//! server's extractors.

/// The token of an `Authorization: Bearer <token>` value (either case of `Bearer`), trimmed; `None`
/// for another scheme or no token.
#[must_use]
pub fn bearer_token(value: &str) -> Option<&str> {
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    (!token.is_empty()).then_some(token)
}

/// The value of cookie `name` in `Cookie` header values (`a=1; b=2`), the first non-empty one.
pub fn cookie<'a>(headers: impl IntoIterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    headers.into_iter().flat_map(|h| h.split(';')).find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name && !v.is_empty()).then_some(v)
    })
}

/// Whether a `Content-Type` value declares JSON: `application/json` or an `application/…+json`
/// type, in any case, with any parameters.
#[must_use]
pub fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else { return false };
    if !kind.eq_ignore_ascii_case("application") || subtype.is_empty() || subtype.contains(char::is_whitespace) {
        return false;
    }
    let subtype = subtype.to_ascii_lowercase();
    subtype == "json" || (subtype.ends_with("+json") && subtype.len() > "+json".len())
}

/// A body's outer shape, as the extractors decide on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyShape {
    /// Nothing but whitespace.
    Empty,
    /// JSON `null`.
    Null,
    /// Starts as a JSON object; whether the rest parses is the deserializer's to say.
    Object,
    /// Valid JSON that is not an object (an array, a string, a number, a boolean).
    NotAnObject,
    /// Not JSON at all.
    NotJson,
}

#[must_use]
pub fn body_shape(body: &[u8]) -> BodyShape {
    // JSON's own whitespace only (RFC 8259): a form feed, which ASCII counts, is not JSON.
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = body.iter().position(|b| !is_space(b)).unwrap_or(body.len());
    let end = body.iter().rposition(|b| !is_space(b)).map_or(start, |i| i + 1);
    let text = &body[start..end];
    match text.first() {
        None => BodyShape::Empty,
        Some(b'{') => BodyShape::Object,
        Some(_) if text == b"null" => BodyShape::Null,
        // JSON is UTF-8, which skipping over a string's contents alone does not check.
        Some(_)
            if std::str::from_utf8(text).is_ok_and(|t| serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok()) =>
        {
            BodyShape::NotAnObject
        }
        Some(_) => BodyShape::NotJson,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cookies_types_and_shapes() {
        assert_eq!(bearer_token("Bearer  sk_1 "), Some("sk_1"));
        assert_eq!(bearer_token("bearer st_2"), Some("st_2"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer   "), None);
        assert_eq!(cookie(["a=1; sb_session=bs_x", "sb_session=bs_y"], "sb_session"), Some("bs_x"));
        assert_eq!(cookie(["sb_session="], "sb_session"), None);
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("Application/Merge-Patch+JSON"));
        assert!(!is_json_media_type("application/+json"));
        assert!(!is_json_media_type("text/json"));
        assert!(!is_json_media_type("application/jsonx"));
        assert_eq!(body_shape(b"  "), BodyShape::Empty);
        assert_eq!(body_shape(b" null "), BodyShape::Null);
        assert_eq!(body_shape(b"{\"a\":1}"), BodyShape::Object);
        assert_eq!(body_shape(b"[null, null]"), BodyShape::NotAnObject);
        assert_eq!(body_shape(b"nul"), BodyShape::NotJson);
        // Found by the request_input fuzz target: a string holding a byte that is not UTF-8.
        assert_eq!(body_shape(b"\"\x8a\""), BodyShape::NotJson);
        // And a number between form feeds, which are ASCII whitespace but not JSON's.
        assert_eq!(body_shape(b"\n\x0c\x0c 55555\x0c\x0c"), BodyShape::NotJson);
        assert_eq!(body_shape(b"\x0c"), BodyShape::NotJson);
    }
}
