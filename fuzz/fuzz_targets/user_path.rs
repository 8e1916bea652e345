//! Identifier parsing and the Graph user path: any text that parses as a user stays in one
//! path segment and decodes back to itself (tests/support/invariants.rs).
#![no_main]

#[path = "../../tests/support/invariants.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        invariants::check_user_path(text);
        invariants::check_user_path(&format!("{text}@contoso.com"));
    }
});
