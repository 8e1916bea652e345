//! What the function is told, parsed once at init: the environment ([`Config`]) and the
//! secret's JSON ([`AppSecret`]). Pure parsing, no I/O; a bad value is an error that names the
//! variable or the key, never a secret value.

mod env;
mod secret;

pub use env::{Config, ConfigError};
pub use secret::{AppSecret, SecretFormatError, WebhookSource};
