//! The request extractors' pure parts over arbitrary header text and body bytes: the bearer token,
//! cookies, the JSON content-type check and the body's shape, which must agree with a JSON parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::request::{BodyShape, bearer_token, body_shape, cookie, is_json_media_type};

/// JSON by its grammar: UTF-8 text that a JSON parser reads through.
fn is_json(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok_and(|t| serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok())
}

fuzz_target!(|data: &[u8]| {
    // The first line is a header value, the rest the body.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (head, body) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let header = String::from_utf8_lossy(head);
    if let Some(t) = bearer_token(&header) {
        assert!(!t.is_empty() && t == t.trim() && header.contains(t));
    }
    if let Some(v) = cookie([header.as_ref()], "sb_session") {
        assert!(!v.is_empty() && header.contains(v));
    }
    assert_eq!(is_json_media_type(&header), is_json_media_type(&header.to_ascii_lowercase()));
    let parsed = serde_json::from_slice::<serde_json::Value>(body);
    match body_shape(body) {
        BodyShape::Empty => assert!(body.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))),
        BodyShape::Null => assert_eq!(parsed.ok(), Some(serde_json::Value::Null)),
        BodyShape::Object => assert!(parsed.map_or(true, |v| v.is_object())),
        // Valid JSON that is not an object; a number too large for a double is valid JSON too.
        BodyShape::NotAnObject => {
            assert!(is_json(body));
            assert!(parsed.map_or(true, |v| !v.is_object() && !v.is_null()));
        }
        BodyShape::NotJson => assert!(!is_json(body)),
    }
});
