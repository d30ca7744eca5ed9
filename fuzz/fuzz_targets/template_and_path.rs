//! Request templates and JSON paths: the part before the first 0 byte is a template and a path,
//! the rest a JSON document (or text) the path is read from.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use switchboard_core::catalog::{path, template};

fuzz_target!(|data: &[u8]| {
    let (head, tail) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(head);
    let _ = template::parse(&text);
    let _ = template::names(&text);
    let _ = template::render(&text, |name| Some(Cow::Owned(name.repeat(2))));
    let _ = template::render_url(&text, |name| Some(Cow::Owned(format!("a/{name}?&#"))));
    let doc: serde_json::Value = serde_json::from_slice(tail).unwrap_or_else(
        |_| serde_json::json!({"a": {"b": [1, {"id": "x", "n": 2}]}, "s": String::from_utf8_lossy(tail)}),
    );
    let _ = path::is_valid(&text);
    let _ = path::get(&doc, &text);
    let _ = path::get_text(&doc, &text);
});
