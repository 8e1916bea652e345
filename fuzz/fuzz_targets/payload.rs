//! Both payload parsers (canonical and Jamf) on any bytes: no panic, and every loss they
//! return is well formed (tests/support/invariants.rs).
#![no_main]

#[path = "../../tests/support/invariants.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    invariants::check_payload(data);
});
