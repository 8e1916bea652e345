//! A JSON object walker whose errors name the dotted path of the field (`data.user.id`,
//! `webhooks.jamf.secrets[1]`) and never its value: used for MDM payloads and for the secret,
//! where serde's own messages could quote a value (and a value may be a secret).

use serde_json::{Map, Value};

/// A field that is missing or has the wrong shape. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, problem: impl ToString) -> Self {
        Self {
            field: field.into(),
            problem: problem.to_string(),
        }
    }
}

/// The trimmed text, or None when it is empty: senders use "" for "unknown".
pub(crate) fn non_empty(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// One JSON object and its dotted path, so every error can name the field it is about.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    /// The top level, which must be an object; `name` labels it in errors (`body`, `(root)`).
    pub(crate) fn root(value: &'a Value, name: &str) -> Result<Self, FieldError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                path: String::new(),
            }),
            _ => Err(FieldError::new(name, "is not a JSON object")),
        }
    }

    /// The object's members, each value with its path, in key order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'a String, String, &'a Value)> + '_ {
        self.map.iter().map(|(k, v)| (k, self.path(k), v))
    }

    /// Fails on the first key not in `allowed`: in configuration a misspelt optional key
    /// (`timestamp_heade`) must not silently turn a protection off.
    pub(crate) fn deny_unknown(&self, allowed: &[&str]) -> Result<(), FieldError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(unknown) => Err(FieldError::new(self.path(unknown), "is not a known key")),
            None => Ok(()),
        }
    }

    /// A list of strings, each trimmed (empty strings are kept for the caller to judge).
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<&'a str>, FieldError> {
        let path = self.path(key);
        self.array(key)?
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.trim()),
                _ => Err(FieldError::new(format!("{path}[{i}]"), "must be a string")),
            })
            .collect()
    }

    /// A nested object as the top of its own walk (for values reached through [`entries`]).
    pub(crate) fn nested(value: &'a Value, path: String) -> Result<Self, FieldError> {
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            _ => Err(FieldError::new(path, "must be an object")),
        }
    }

    pub(crate) fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn error(&self, key: &str, problem: impl ToString) -> FieldError {
        FieldError::new(self.path(key), problem)
    }

    /// The value at `key`; JSON null counts as absent, since senders use both for "no value".
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An optional string, trimmed; empty counts as absent.
    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(non_empty(s)),
            Some(_) => Err(self.error(key, "must be a string")),
        }
    }

    pub(crate) fn required_str(&self, key: &str) -> Result<&'a str, FieldError> {
        if self.get(key).is_none() {
            return Err(self.error(key, "is required"));
        }
        self.str(key)?.ok_or_else(|| self.error(key, "is empty"))
    }

    pub(crate) fn object(&self, key: &str) -> Result<Option<Fields<'a>>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields {
                map,
                path: self.path(key),
            })),
            Some(_) => Err(self.error(key, "must be an object")),
        }
    }

    pub(crate) fn required_object(&self, key: &str) -> Result<Fields<'a>, FieldError> {
        self.object(key)?
            .ok_or_else(|| self.error(key, "is required"))
    }

    /// An optional array; absent counts as empty.
    pub(crate) fn array(&self, key: &str) -> Result<&'a [Value], FieldError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.error(key, "must be an array")),
        }
    }

    /// An optional array of objects, each with its indexed path (`key[2]`).
    pub(crate) fn objects(&self, key: &str) -> Result<Vec<Fields<'a>>, FieldError> {
        self.array(key)?
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(map) => Ok(Fields {
                    map,
                    path: format!("{}[{i}]", self.path(key)),
                }),
                _ => Err(FieldError::new(
                    format!("{}[{i}]", self.path(key)),
                    "must be an object",
                )),
            })
            .collect()
    }

    /// An identifier that senders write as an integer or as a string, as its text.
    pub(crate) fn id_text(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => {
                scalar_text(value).ok_or_else(|| self.error(key, "must be an integer or a string"))
            }
        }
    }

    pub(crate) fn required_id_text(&self, key: &str) -> Result<String, FieldError> {
        self.id_text(key)?
            .ok_or_else(|| self.error(key, "is required"))
    }

    /// Text from inventory data, where a wrong type means "unknown" rather than a bad event.
    pub(crate) fn loose_text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(scalar_text).flatten()
    }
}

/// A string (trimmed) or an integer as decimal text. The outer None means "another JSON type",
/// the inner None "an empty string", so callers can tell a wrong type from a blank value.
pub(crate) fn scalar_text(value: &Value) -> Option<Option<String>> {
    match value {
        Value::String(s) => Some(non_empty(s).map(str::to_owned)),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(Some(n.to_string())),
        _ => None,
    }
}
