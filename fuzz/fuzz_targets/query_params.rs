//! Any text as query parameters (`name=value` lines): parsing must never panic, and a parsed
//! interval is never empty.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    if let Ok(p) = keylens_query::Params::parse(&pairs, 1_780_000_000_000_000, &["metric", "a", "b", "alpha"]) {
        assert!(p.from < p.to);
        let _ = p.buckets();
        let _ = p.to_json();
    }
    for (_, v) in &pairs {
        let _ = keylens_query::params::parse_filter(v);
        let _ = keylens_event::IsoDuration::parse(v).map(|d| d.add_to(1_780_000_000_000_000));
        let _ = keylens_event::time::parse_instant(v);
    }
});
