//! `OrgConfig::from_yaml` on arbitrary text. Invariants: nothing panics, and an accepted config
//! survives its own round trip (`from_yaml(to_json())` gives an equal config, as config.rs
//! promises: that is what `GET /v1/config` shows and what a client may `PUT` back).
#![no_main]

use flowmeter::config::OrgConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = OrgConfig::from_yaml(text) {
        let json = config.to_json().to_string();
        let again = OrgConfig::from_yaml(&json);
        assert_eq!(again.as_ref(), Ok(&config), "round trip of {json}");
    }
});
