//! Password hashing with argon2id (parameters from the configuration).

use crate::config::AuthConfig;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

#[derive(Clone, Debug)]
pub struct Hasher {
    params: Params,
    /// A hash of a random password, verified against when an account does not exist, so
    /// a login takes as long for an unknown e-mail as for a known one.
    dummy: String,
}

impl Hasher {
    pub fn new(c: &AuthConfig) -> anyhow::Result<Hasher> {
        let params = Params::new(
            c.argon2_memory_kib,
            c.argon2_iterations,
            c.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let mut h = Hasher {
            params,
            dummy: String::new(),
        };
        h.dummy = h.hash(&crate::auth::tokens::random_token("x"))?;
        Ok(h)
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn hash(&self, password: &str) -> anyhow::Result<String> {
        PasswordHasher::<PasswordHash>::hash_password(&self.argon(), password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    }

    pub fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let target = hash.unwrap_or(&self.dummy);
        let ok = target
            .parse::<PasswordHash>()
            .map(|parsed| {
                self.argon()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && hash.is_some()
    }

    pub fn describe(&self) -> String {
        format!(
            "argon2id m={} KiB, t={}, p={}",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        )
    }
}
