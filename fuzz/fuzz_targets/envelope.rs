//! The vault's envelope parser, and opening whatever it accepts with a real data key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::vault::{Binding, DataKey, Envelope};

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::parse(data) {
        let key = DataKey::generate();
        let binding = Binding { org: "acme", table: "connections", row: "conn_1", field: "credentials" };
        // A forged envelope never opens under a key that did not seal it.
        assert!(key.open(&env, &binding).is_err());
    }
});
