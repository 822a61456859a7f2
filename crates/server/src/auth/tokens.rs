//! Opaque bearer tokens: 256 random bits, base64url, with a prefix telling their kind
//! (`bza_` access, `bzr_` refresh, …). Only their SHA-256 is stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const ACCESS: &str = "bza";
pub const REFRESH: &str = "bzr";
pub const MFA_CHALLENGE: &str = "bzm";
pub const RESET: &str = "bzp";
pub const INVITE: &str = "bzi";
pub const SETUP: &str = "bzs";

pub fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(b))
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}
