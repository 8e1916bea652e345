//! Authentication of all four schemes: the input picks a source and a body and mutates a
//! correctly signed request; whatever comes out, the function may accept it only if the
//! independent check says it is authentic (tests/support/invariants.rs).
#![no_main]

#[path = "../../tests/support/invariants.rs"]
mod invariants;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use revoker::config::AppSecret;

fuzz_target!(|data: &[u8]| {
    static SECRET: OnceLock<AppSecret> = OnceLock::new();
    let secret = SECRET.get_or_init(invariants::secret);
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    // The first bytes up to a 0xff are the body; the rest is the mutation program.
    let split = rest.iter().position(|&b| b == 0xff).unwrap_or(rest.len());
    let (body, program) = rest.split_at(split);
    let source = invariants::SOURCES[usize::from(pick) % invariants::SOURCES.len()];
    let mut request = invariants::signed(secret, source, body);
    if program.is_empty() {
        assert!(invariants::accepted(secret, &request), "a signed request was refused");
    }
    invariants::mutate(&mut request, program);
    invariants::check_authentication(secret, &request);
});
