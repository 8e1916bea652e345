//! Lost-device revoker: an AWS Lambda that signs the owner of a lost or stolen device out of
//! Microsoft Entra ID. The crate is a library; `src/bin/*` are thin Lambda entry points.

pub mod domain;
