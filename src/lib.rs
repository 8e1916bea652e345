//! Lost-device revoker: an AWS Lambda that signs the owner of a lost or stolen device out of
//! Microsoft Entra ID. The crate is a library; `src/bin/*` are thin Lambda entry points.

pub mod audit;
pub mod config;
pub mod domain;
pub mod entra;
pub mod graph;
pub mod ingress;
mod json_fields;
pub mod mdm;
pub mod revoke;
pub mod sample_events;
pub mod secrets;
pub mod signature;
