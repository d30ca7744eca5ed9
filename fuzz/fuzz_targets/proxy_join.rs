//! The proxy's path joining: whatever the caller sends, a joined URL stays under the base URL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::proxy::join;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (path, query) = match text.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (text.as_ref(), None),
    };
    let Ok(base) = url::Url::parse("https://api.example.com/v2/") else { return };
    if let Ok(joined) = join(&base, path, query) {
        assert_eq!(joined.origin(), base.origin(), "left the origin: {joined}");
        assert!(joined.path().starts_with("/v2/"), "left the base path: {joined}");
    }
});
