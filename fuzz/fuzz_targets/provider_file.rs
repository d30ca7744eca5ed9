//! The provider-file parser and the whole-entry validation behind `providers validate`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::catalog::{Catalog, Source};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let _ = Catalog::load(&[Source { origin: "fuzz.toml".into(), text }]);
});
