//! Webhook triggers: HMAC-SHA256 signature, timestamp window and replay guard.
//!
//! A caller signs the raw request body with the automation's secret:
//! `X-Breeze-Signature: sha256=<hex HMAC-SHA256(secret, body)>`, and sends the unix time in
//! `X-Breeze-Timestamp`. A timestamp more than [`WINDOW_SECS`] from the server clock is
//! refused as stale (401); a signature already seen is refused as a repeat (409). The
//! timestamp header is not covered by the signature (the contract signs the body alone),
//! so seen signatures are kept for as long as the secret lives (rotating it forgets them):
//! a captured request replayed later with a fresh timestamp is still a repeat.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far `X-Breeze-Timestamp` may be from the server clock, in seconds.
pub const WINDOW_SECS: i64 = 300;

fn purpose(id: breeze_proto::ids::AutomationId) -> String {
    format!("automation-webhook:{}", id.0)
}

/// A new webhook secret, and its sealed form for the store.
pub fn new_secret(
    state: &crate::state::AppState,
    id: breeze_proto::ids::AutomationId,
) -> anyhow::Result<(String, String)> {
    let secret = crate::notify::channels::new_signing_secret();
    let sealed = state.keys.seal(&purpose(id), secret.as_bytes())?;
    Ok((secret, sealed))
}

/// The secret from its sealed form.
pub fn open_secret(
    state: &crate::state::AppState,
    id: breeze_proto::ids::AutomationId,
    sealed: &str,
) -> anyhow::Result<String> {
    Ok(String::from_utf8(state.keys.open(&purpose(id), sealed)?)?)
}

/// Why a webhook call was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Missing or malformed headers, or a wrong signature.
    BadSignature(&'static str),
    /// The timestamp is outside the window.
    Stale,
}

/// Checks the signature header against `body` and the timestamp against `now`.
pub fn verify(
    secret: &str,
    body: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Refusal> {
    let sig = signature
        .and_then(|s| s.trim().strip_prefix("sha256="))
        .ok_or(Refusal::BadSignature(
            "X-Breeze-Signature must be sha256=<hex>",
        ))?;
    let sig = hex::decode(sig).map_err(|_| Refusal::BadSignature("the signature is not hex"))?;
    let ts: i64 = timestamp
        .and_then(|t| t.trim().parse().ok())
        .ok_or(Refusal::BadSignature(
            "X-Breeze-Timestamp must be unix seconds",
        ))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| Refusal::BadSignature("the secret is unusable"))?;
    mac.update(body);
    mac.verify_slice(&sig)
        .map_err(|_| Refusal::BadSignature("the signature does not match"))?;
    if (now.timestamp() - ts).abs() > WINDOW_SECS {
        return Err(Refusal::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| panic!());
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn signature_and_window() {
        let now = chrono::Utc::now();
        let ts = now.timestamp().to_string();
        let good = sign("s", b"{}");
        assert_eq!(verify("s", b"{}", Some(&good), Some(&ts), now), Ok(()));
        assert!(matches!(
            verify("s", b"{ }", Some(&good), Some(&ts), now),
            Err(Refusal::BadSignature(_))
        ));
        assert!(matches!(
            verify("t", b"{}", Some(&good), Some(&ts), now),
            Err(Refusal::BadSignature(_))
        ));
        let old = (now.timestamp() - 360).to_string();
        assert_eq!(
            verify("s", b"{}", Some(&good), Some(&old), now),
            Err(Refusal::Stale)
        );
        assert!(verify("s", b"{}", None, Some(&ts), now).is_err());
    }
}
