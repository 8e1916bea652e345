//! Microsoft's side, the adapter behind revocation's `Revoker`: which cloud to talk to, the
//! app's credentials and where they come from ([`CredentialSource`]), app-only tokens from
//! Entra ID, and the Graph call that signs a user out.

mod calls;
mod cloud;
mod credentials;
mod devices;
mod directory;
mod graph;
mod intune;
mod token;

pub use calls::{GraphAnswer, GraphUnavailable};
pub use cloud::Cloud;
pub use credentials::{
    CertificateCredential, CertificateError, ClientCredential, CredentialSource, CredentialsError,
    EntraCredentials,
};
#[cfg(feature = "dev-tools")]
pub(crate) use graph::user_path;
pub use graph::{GraphClient, RevokeAction};
pub(crate) use token::TokenClient;
