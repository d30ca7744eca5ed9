//! Webhook verification of every scheme: the first byte picks the scheme, then values separated
//! by 0xFF fill the headers each scheme reads, in order; what follows the last one is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::webhook::{Headers, Request, SIGNATURE_HEADERS, Scheme, verify};

struct Pairs(Vec<(&'static str, String)>);

impl Headers for Pairs {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let scheme = Scheme::ALL[usize::from(pick) % Scheme::ALL.len()];
    let mut parts = rest.split(|b| *b == 0xFF);
    let mut headers = Vec::new();
    for name in SIGNATURE_HEADERS {
        match parts.next() {
            Some(v) if !v.is_empty() => headers.push((name, String::from_utf8_lossy(v).into_owned())),
            Some(_) => {}
            None => break,
        }
    }
    let body: Vec<u8> = parts.flatten().copied().collect();
    let pairs = Pairs(headers);
    let now_s = i64::from(pick) * 1_000_003;
    let r = Request {
        url: "https://hub.example/hooks/ep_1?x=1",
        content_type: Some("application/x-www-form-urlencoded"),
        headers: &pairs,
        body: &body,
        now_s,
    };
    let _ = verify(scheme, &[b"secret-one".as_slice(), rest.get(..8).unwrap_or_default()], &r);
});
