//! What the fuzz targets (`fuzz/`) and the property tests (`tests/api/properties.rs`) need of
//! the crate-private parsing code: the real functions, reached from outside the crate. The
//! invariants both check live with them, in `tests/support/invariants.rs`.

use crate::domain::UserRef;
pub use crate::payload::{MdmOptions, PayloadError, PayloadFormat, parse as parse_payload};

/// The Graph path that addresses `user` (`users/{id|upn}`, or `users('{upn}')`).
pub fn user_path(user: &UserRef) -> String {
    crate::microsoft::user_path(user)
}
