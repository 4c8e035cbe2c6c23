//! Any bytes as a request body: splitting and validating must never panic, and every event is
//! either accepted or rejected with its index.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = 1_780_000_000_000_000;
    if let Ok(judged) = keylens_event::parse_body(data, now) {
        for (i, j) in judged.iter().enumerate() {
            if let Err(r) = j {
                assert_eq!(r.index, i);
            }
        }
    }
});
