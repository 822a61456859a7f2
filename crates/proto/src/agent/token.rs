//! A secret string on the wire (enrollment keys, bearer tokens) that never shows in
//! `Debug` output or logs.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A secret carried in a protocol body. `Debug` prints `SecretToken(***)`; read the
/// value with [`SecretToken::expose`] only where it is sent or hashed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
#[serde(transparent)]
pub struct SecretToken(String);

impl SecretToken {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let t = SecretToken::new("hunter2-super-secret");
        assert!(!format!("{t:?}").contains("hunter2"));
        assert_eq!(
            serde_json::to_string(&t).ok().as_deref(),
            Some("\"hunter2-super-secret\"")
        );
    }
}
