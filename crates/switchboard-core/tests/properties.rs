//! Properties of the pure functions that hostile input reaches first: webhook verification of every
//! scheme, the vault's envelopes, the provider-file parser, templates and JSON paths, name matching
//! and the proxy's path joining. Each also has a fuzz target (fuzz/); these run in the normal suite.

use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_core::catalog::{Catalog, Source, path, template};
use switchboard_core::proxy;
use switchboard_core::resources::{Item, NameMatch, match_name, normalize};
use switchboard_core::vault::{Binding, DataKey, DataKeyId, Envelope};
use switchboard_core::webhook::{self, Headers, Request, Scheme};

struct Pairs(Vec<(String, String)>);

impl Headers for Pairs {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn scheme(i: usize) -> Scheme {
    Scheme::ALL[i % Scheme::ALL.len()]
}

/// Header values shaped like the real ones as well as noise.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "t=[0-9]{1,12},v1=[0-9a-f]{0,64}",
        "sha256=[0-9a-f]{0,64}",
        "v0=[0-9a-f]{0,64}",
        "v1,[A-Za-z0-9+/=]{0,44}( v1,[A-Za-z0-9+/=]{0,44})?",
        "-?[0-9]{1,20}",
        "[A-Za-z0-9+/=]{0,88}",
    ]
}

/// JSON by its grammar: UTF-8 text that a JSON parser reads through.
fn is_json(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok_and(|t| serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok())
}

fn hmac_hex(key: &[u8], body: &[u8]) -> String {
    use hmac::{KeyInit, Mac as _};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever arrives, verification answers (never panics), and arbitrary input never passes.
    #[test]
    fn verification_never_panics_and_noise_never_passes(
        which in 0usize..12,
        headers in proptest::collection::vec((0usize..16, header_value()), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        url in "https://hub\\.example/hooks/[a-z0-9]{1,12}(\\?[a-z=&0-9]{0,20})?",
        now_s in any::<i64>(),
        secret in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let pairs = Pairs(headers.into_iter().map(|(n, v)| (webhook::SIGNATURE_HEADERS[n].to_owned(), v)).collect());
        let scheme = scheme(which);
        let r = Request { url: &url, content_type: Some("application/json"), headers: &pairs, body: &body, now_s };
        let verdict = webhook::verify(scheme, &[&secret], &r);
        // Noise never passes (the shared-secret schemes would only if noise equalled the secret).
        prop_assert!(verdict.is_err(), "{} accepted noise", scheme.as_str());
    }

    /// A Standard Webhooks message signed by us verifies, and changing one byte of it does not.
    #[test]
    fn standard_webhooks_sign_then_verify(
        id in "msg_[A-Za-z0-9]{1,24}",
        ts in 1_000_000_000i64..4_000_000_000,
        body in proptest::collection::vec(any::<u8>(), 1..512),
        flip in any::<prop::sample::Index>(),
    ) {
        let secret = webhook::generate_secret(Scheme::StandardWebhooks);
        let signature = webhook::standard_webhooks_sign(secret.as_bytes(), &id, ts, &body).unwrap_or_default();
        let headers = Pairs(vec![
            ("webhook-id".into(), id.clone()),
            ("webhook-timestamp".into(), ts.to_string()),
            ("webhook-signature".into(), signature),
        ]);
        let ok = Request { url: "https://hub.example/h", content_type: None, headers: &headers, body: &body, now_s: ts };
        prop_assert!(webhook::verify(Scheme::StandardWebhooks, &[secret.as_bytes()], &ok).is_ok());
        let mut changed = body.clone();
        let i = flip.index(changed.len());
        changed[i] ^= 0x01;
        let bad = Request { body: &changed, ..ok };
        prop_assert_eq!(webhook::verify(Scheme::StandardWebhooks, &[secret.as_bytes()], &bad), Err(webhook::Refusal::BadSignature));
    }

    /// The generic HMAC scheme: the right signature passes (with or without `sha256=`), another body fails.
    #[test]
    fn hmac_sha256_sign_then_verify(secret in "[ -~]{8,64}", body in proptest::collection::vec(any::<u8>(), 0..512), prefixed in any::<bool>()) {
        let hex = hmac_hex(secret.as_bytes(), &body);
        let value = if prefixed { format!("sha256={hex}") } else { hex };
        let headers = Pairs(vec![("X-Webhook-Signature".into(), value)]);
        let r = Request { url: "https://hub.example/h", content_type: None, headers: &headers, body: &body, now_s: 0 };
        prop_assert!(webhook::verify(Scheme::HmacSha256, &[secret.as_bytes()], &r).is_ok());
        let mut other = body.clone();
        other.push(b'!');
        let r = Request { body: &other, ..r };
        prop_assert!(webhook::verify(Scheme::HmacSha256, &[secret.as_bytes()], &r).is_err());
    }

    /// Any bytes parse as an envelope or are refused; a sealed value opens only unchanged and for its own row.
    #[test]
    fn envelopes_open_only_as_sealed(
        noise in proptest::collection::vec(any::<u8>(), 0..128),
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        flip in any::<prop::sample::Index>(),
        row in "[a-z0-9_]{1,16}",
    ) {
        let _ = Envelope::parse(&noise);
        let key = DataKey::generate();
        let id = DataKeyId(7);
        let binding = Binding { org: "acme", table: "connections", row: &row, field: "credentials" };
        let sealed = key.seal(id, &binding, &plaintext);
        let env = Envelope::parse(&sealed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(key.open(&env, &binding).map(|p| p.to_vec()).ok(), Some(plaintext.clone()));
        let other_row = format!("{row}x");
        let elsewhere = Binding { row: &other_row, ..binding };
        prop_assert!(key.open(&env, &elsewhere).is_err());
        let mut tampered = sealed.clone();
        let i = flip.index(tampered.len());
        tampered[i] ^= 0x80;
        let opened = Envelope::parse(&tampered).ok().and_then(|e| key.open(&e, &binding).ok());
        prop_assert!(opened.is_none(), "a changed byte at {} still opened", i);
    }

    /// Provider files of any text load or are refused with problems, never a panic.
    #[test]
    fn the_provider_file_parser_answers_any_text(text in any::<String>(), id in "[a-z]{1,10}") {
        let _ = Catalog::load(&[Source { origin: "fuzz.toml".into(), text }]);
        let shaped = format!("id = \"{id}\"\nname = \"X\"\n[credentials.api_key]\n[[credentials.api_key.fields]]\nname = \"k\"\n");
        let _ = Catalog::load(&[Source { origin: "fuzz.toml".into(), text: shaped }]);
    }

    /// Templates: any text parses or is refused; rendering one without placeholders is the identity.
    #[test]
    fn templates_render_or_refuse(text in any::<String>(), plain in "[^{}]{0,64}", value in any::<String>()) {
        let _ = template::parse(&text);
        let _ = template::render(&text, |_| Some(std::borrow::Cow::Borrowed(value.as_str())));
        let _ = template::render_url(&text, |_| Some(std::borrow::Cow::Borrowed(value.as_str())));
        prop_assert_eq!(template::render(&plain, |_| None).ok(), Some(plain.clone()));
    }

    /// JSON paths: any path on any document answers; a dotted path finds what was put there.
    #[test]
    fn json_paths_find_what_is_there(p in any::<String>(), a in "[A-Za-z0-9_]{1,12}", b in "[A-Za-z0-9_]{1,12}", v in any::<i64>()) {
        let doc = json!({ a.clone(): { b.clone(): v }, "list": [{"id": "x", "n": 1}] });
        let _ = path::get(&doc, &p);
        let _ = path::is_valid(&p);
        prop_assert_eq!(path::get(&doc, &format!("{a}.{b}")), Some(&Value::from(v)));
        prop_assert_eq!(path::get(&doc, "list.[id=x].n"), Some(&Value::from(1)));
    }

    /// Names: normalising twice changes nothing, and an item's own name or id always finds it.
    #[test]
    fn names_find_their_item(names in proptest::collection::btree_set("[A-Za-z0-9 ]{1,16}", 1..12), pick in any::<prop::sample::Index>(), noise in any::<String>()) {
        let names: Vec<String> = names.into_iter().collect();
        prop_assert_eq!(normalize(&normalize(&noise)), normalize(&noise));
        let items: Vec<Item> = names
            .iter()
            .enumerate()
            .map(|(i, n)| Item { id: format!("id-{i}"), name: n.clone(), fields: serde_json::Map::new() })
            .collect();
        let _ = match_name(&items, &noise);
        let chosen = &items[pick.index(items.len())];
        match match_name(&items, &chosen.id) {
            NameMatch::Found(found) => prop_assert_eq!(&found.id, &chosen.id),
            other => prop_assert!(false, "its id did not find it: {:?}", other),
        }
        match match_name(&items, &chosen.name) {
            NameMatch::Found(found) => prop_assert_eq!(&found.name, &chosen.name),
            NameMatch::Ambiguous(several) => prop_assert!(several.iter().any(|i| i.id == chosen.id)),
            NameMatch::NotFound(_) => prop_assert!(false, "its own name did not find it"),
        }
    }

    /// The patterns the API's schema documents are exactly the rules the server applies.
    #[test]
    fn documented_name_patterns_are_the_enforced_rules(
        text in prop_oneof![any::<String>(), "[A-Za-z0-9_.@:-]{0,130}", "[a-z0-9_-]{0,66}"],
    ) {
        use switchboard_core::ids::{INTEGRATION_ID_PATTERN, IntegrationId, NAME_PATTERN, OrgId, UserId};
        let names = regex::Regex::new(NAME_PATTERN).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let integrations = regex::Regex::new(INTEGRATION_ID_PATTERN).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(names.is_match(&text), OrgId::parse(&text).is_ok(), "org {:?}", text);
        prop_assert_eq!(names.is_match(&text), UserId::parse(&text).is_ok(), "user {:?}", text);
        prop_assert_eq!(integrations.is_match(&text), IntegrationId::parse(&text).is_ok(), "integration {:?}", text);
    }

    /// A joined proxy path never leaves the base URL's origin or path.
    #[test]
    fn proxied_paths_stay_under_the_base(p in any::<String>(), shaped in "([a-z0-9%.]{0,6}/){0,5}[a-z0-9%.]{0,6}", q in proptest::option::of("[a-z0-9=&%]{0,20}")) {
        let base = url::Url::parse("https://api.example.com/v2/").unwrap_or_else(|_| unreachable!());
        for candidate in [p.as_str(), shaped.as_str()] {
            if let Ok(joined) = proxy::join(&base, candidate, q.as_deref()) {
                prop_assert_eq!(joined.origin(), base.origin());
                prop_assert!(joined.path().starts_with("/v2/"), "{} left the base", joined);
            }
        }
    }

    /// The request extractors' pure parts: a bearer token is a trimmed, non-empty part of the
    /// header; a cookie's value is one of the pairs given; the body's shape agrees with a JSON parser.
    #[test]
    fn request_input_is_read_as_the_extractors_promise(
        header in any::<String>(),
        token in "[!-~]{1,40}",
        cookies in proptest::collection::vec(("[a-z_]{1,8}", "[!-:<-~]{0,12}"), 0..6),
        body in prop_oneof![any::<String>().prop_map(String::into_bytes), proptest::collection::vec(any::<u8>(), 0..64)],
    ) {
        use switchboard_core::request::{BodyShape, bearer_token, body_shape, cookie, is_json_media_type};
        if let Some(t) = bearer_token(&header) {
            prop_assert!(!t.is_empty() && t == t.trim() && header.contains(t));
        }
        let presented = format!("Bearer {token}");
        prop_assert_eq!(bearer_token(&presented), Some(token.as_str()));
        let joined = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        for (name, _) in &cookies {
            let want = cookies.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str());
            prop_assert_eq!(cookie([joined.as_str()], name), want);
        }
        prop_assert_eq!(is_json_media_type(&header), is_json_media_type(&header.to_ascii_uppercase()));
        let parsed = serde_json::from_slice::<Value>(&body);
        match body_shape(&body) {
            BodyShape::Empty => prop_assert!(body.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))),
            BodyShape::Null => prop_assert_eq!(parsed.ok(), Some(Value::Null)),
            BodyShape::Object => prop_assert!(parsed.map_or(true, |v| v.is_object())),
            BodyShape::NotAnObject => {
                prop_assert!(is_json(&body));
                prop_assert!(parsed.map_or(true, |v| !v.is_object() && !v.is_null()));
            }
            BodyShape::NotJson => prop_assert!(!is_json(&body)),
        }
    }
}
