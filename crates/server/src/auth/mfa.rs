//! TOTP (RFC 6238) second factor and recovery codes.

use totp_rs::{Algorithm, Builder, Secret, Totp};

pub const ISSUER: &str = "Breeze";

pub fn new_secret() -> Vec<u8> {
    use rand::RngCore;
    let mut b = vec![0u8; 20];
    rand::rng().fill_bytes(&mut b);
    b
}

pub fn totp(secret: Vec<u8>, account: &str) -> anyhow::Result<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| anyhow::anyhow!("building TOTP: {e}"))
}

pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// Checks a 6-digit code at `unix_secs` (±1 step for clock skew). Answers the time step it
/// matched, so the caller can refuse a replay of the same step.
pub fn check(t: &Totp, code: &str, unix_secs: u64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let step = unix_secs / 30;
    for s in [step.saturating_sub(1), step, step + 1] {
        if crate::auth::tokens::constant_time_eq(&t.generate(s * 30).to_string(), &code) {
            return i64::try_from(s).ok();
        }
    }
    None
}

/// Ten recovery codes like `k3p9-x7vq-2mwd`.
pub fn recovery_codes() -> Vec<String> {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| {
            (0..3)
                .map(|_| {
                    (0..4)
                        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

pub fn normalize_recovery(code: &str) -> String {
    code.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_only() {
        let t = totp(new_secret(), "a@b.c").expect("totp");
        let now = 1_800_000_000u64;
        let code = t.generate(now).to_string();
        assert_eq!(check(&t, &code, now), Some((now / 30) as i64));
        assert_eq!(
            check(&t, &code, now + 30),
            Some((now / 30) as i64),
            "one step of skew allowed"
        );
        assert_eq!(check(&t, &code, now + 120), None);
        assert_eq!(check(&t, "12345", now), None);
        assert!(
            t.to_url()
                .unwrap_or_default()
                .starts_with("otpauth://totp/Breeze")
        );
        assert_eq!(recovery_codes().len(), 10);
    }
}
