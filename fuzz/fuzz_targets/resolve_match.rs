//! Resolve's matching: lines are item names (ids made from them), the last line the wanted name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::resources::{Item, NameMatch, match_name, normalize, suggestions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines: Vec<&str> = text.split('\n').collect();
    let wanted = lines.pop().unwrap_or_default();
    let items: Vec<Item> = lines
        .iter()
        .enumerate()
        .map(|(i, n)| Item { id: format!("id{i}"), name: (*n).to_owned(), fields: serde_json::Map::new() })
        .collect();
    let norm = normalize(wanted);
    assert_eq!(normalize(&norm), norm, "normalising twice changed the name");
    match match_name(&items, wanted) {
        NameMatch::Found(item) => assert!(items.iter().any(|i| i.id == item.id)),
        NameMatch::Ambiguous(several) => assert!(several.len() >= 2),
        NameMatch::NotFound(close) => assert!(close.len() <= items.len()),
    }
    let _ = suggestions(&items, &norm, 5);
});
