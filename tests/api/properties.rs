//! The fuzz suite's invariants (`tests/support/invariants.rs`) on stable Rust, in `make test`:
//! a bounded number of cases from fixed seeds, so a run is fast and a failure reproducible.
//! `make fuzz` runs the same checks coverage-guided, for as long as it is given.

use std::path::Path;

use serde_json::Value;

use crate::invariants::{self, Request, SOURCES};

/// Cases per property: enough to touch every edit of the mutator many times, in seconds.
const CASES: usize = 2_000;

fn program(rng: &mut fastrand::Rng) -> Vec<u8> {
    let len = rng.usize(0..24);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// The bodies of the sample events, the seed corpus of the fuzz targets too.
fn sample_bodies() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut bodies = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let Ok(event) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if let Some(body) = event["body"].as_str() {
            bodies.push(body.as_bytes().to_vec());
        }
    }
    assert!(bodies.len() >= 5, "the sample events have bodies");
    bodies
}

#[test]
fn a_correctly_signed_request_is_accepted_by_every_scheme() {
    let secret = invariants::secret();
    for body in sample_bodies() {
        for source in SOURCES {
            let request = invariants::signed(&secret, source, &body);
            assert!(invariants::accepted(&secret, &request), "{source}");
            invariants::check_authentication(&secret, &request);
        }
    }
}

#[test]
fn no_scheme_accepts_a_mutated_request_that_is_not_authentic() {
    let secret = invariants::secret();
    let bodies = sample_bodies();
    let mut rng = fastrand::Rng::with_seed(0x5eed_a07f);
    let mut rejected = 0;
    for case in 0..CASES {
        let body = &bodies[case % bodies.len()];
        let mut request: Request = invariants::signed(&secret, SOURCES[case % 4], body);
        invariants::mutate(&mut request, &program(&mut rng));

        invariants::check_authentication(&secret, &request);
        rejected += usize::from(!invariants::accepted(&secret, &request));
    }
    // The mutator must really break requests, or the property would prove nothing.
    assert!(rejected > CASES / 2, "only {rejected} of {CASES} rejected");
}

#[test]
fn the_payload_parsers_take_any_bytes_and_return_well_formed_losses() {
    let mut rng = fastrand::Rng::with_seed(0x5eed_b0d1);
    let bodies = sample_bodies();
    let mut losses = 0;
    for case in 0..CASES {
        let mut body = bodies[case % bodies.len()].clone();
        // Byte edits on a real body, so that most cases get past the JSON parser.
        for _ in 0..rng.usize(0..4) {
            if body.is_empty() {
                break;
            }
            let i = rng.usize(..body.len());
            match rng.u8(0..3) {
                0 => body[i] = rng.u8(..),
                1 => {
                    body.remove(i);
                }
                _ => body.insert(i, *b"{}[],:\"0aZ@".get(rng.usize(..11)).unwrap()),
            }
        }
        losses += usize::from(invariants::check_payload(&body));
    }
    // Enough edited bodies must still parse as losses, or the checks on them never ran.
    assert!(
        losses > CASES / 10,
        "only {losses} of {CASES} parsed as losses"
    );
    for _ in 0..200 {
        let noise: Vec<u8> = (0..rng.usize(0..64)).map(|_| rng.u8(..)).collect();
        invariants::check_payload(&noise);
    }
}

#[test]
fn every_user_reference_stays_in_one_graph_path_segment() {
    let mut rng = fastrand::Rng::with_seed(0x5eed_9a74);
    let alphabet: Vec<char> = "aZ09.-_'!#^~$@/?%&+ \\é#EXT".chars().collect();
    let mut parsed = 0;
    for _ in 0..CASES * 5 {
        let name: String = (0..rng.usize(1..12))
            .map(|_| alphabet[rng.usize(..alphabet.len())])
            .collect();
        let text = format!("{name}@contoso.com");
        invariants::check_user_path(&text);
        parsed += usize::from(revoker::domain::UserRef::parse(&text).is_ok());
    }
    for fixed in [
        "alice_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        "$admin@contoso.com",
        "$o'neil@contoso.com",
        "6F1C2A1E-8F5B-4C1D-9E2A-0123456789AB",
    ] {
        invariants::check_user_path(fixed);
    }
    assert!(parsed > 100, "only {parsed} generated names parsed");
}
