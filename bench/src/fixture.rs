//! The app secret the benchmark stores in moto_server (by default the project's public demo
//! secret, examples/demo-secret.json), and the part of it the harness needs itself: the Entra
//! app for the stand-in. Events are signed from the whole secret (events.rs).

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not the secret's JSON shape: {source}")]
    Shape {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The secret, as stored, and what the stand-in and the event signer take from it.
#[derive(Debug, Clone)]
pub struct AppFixture {
    /// The JSON exactly as read: what the function gets from Secrets Manager.
    pub secret_json: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Deserialize)]
struct SecretShape {
    tenant_id: String,
    client_id: String,
    client_secret: String,
}

impl AppFixture {
    pub fn load(path: &Path) -> Result<AppFixture, FixtureError> {
        let secret_json = std::fs::read_to_string(path).map_err(|source| FixtureError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&secret_json).map_err(|source| FixtureError::Shape {
            path: path.to_owned(),
            source,
        })
    }

    /// The fixture for a secret given as its JSON text.
    pub fn from_json(secret_json: &str) -> Result<AppFixture, serde_json::Error> {
        let shape: SecretShape = serde_json::from_str(secret_json)?;
        Ok(AppFixture {
            secret_json: secret_json.to_owned(),
            tenant_id: shape.tenant_id,
            client_id: shape.client_id,
            client_secret: shape.client_secret,
        })
    }

    /// A stand-in that accepts exactly this app, with every user present and quiet logs.
    pub fn standin_config(&self) -> standin::Config {
        standin::Config {
            tenant: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            client_secrets: vec![self.client_secret.clone()],
            ..standin::Config::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_secret_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo-secret.json");
        let fixture = AppFixture::load(&path).unwrap();
        assert_eq!(
            fixture.standin_config().client_secrets,
            [fixture.client_secret]
        );
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let error = AppFixture::load(Path::new("/nonexistent/secret.json")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/secret.json"));
    }
}
