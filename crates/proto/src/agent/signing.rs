//! ed25519 command signatures.
//!
//! # Signed bytes ([`canonical_command_bytes`])
//!
//! The ASCII domain tag `breeze-command-v1` followed by seven fields, each written as
//! its byte length (u64, big-endian) and then its bytes:
//!
//! 1. `id`: lowercase hyphenated UUID
//! 2. `device_id`: lowercase hyphenated UUID
//! 3. `command_type`: UTF-8
//! 4. `payload`: [`canonical_json`] of the payload
//! 5. `issued_at`: Unix seconds, decimal ASCII (may start with `-`)
//! 6. `expires_at`: Unix seconds, decimal ASCII
//! 7. `nonce`: UTF-8, empty when absent
//!
//! Times are signed to the whole second; [`sign_command`] truncates the envelope's
//! times before signing so the envelope sent is exactly the one signed.
//!
//! # Canonical JSON ([`canonical_json`])
//!
//! No whitespace; object keys sorted by their UTF-8 bytes, recursively; strings
//! escaped as `serde_json` writes them; numbers as `serde_json` prints them
//! (integers in decimal, floats in shortest round-trip form). It does not depend on
//! `serde_json`'s map ordering (`preserve_order` may be on anywhere in the build).

use super::{CommandEnvelope, SignedCommand};
use crate::ids::DeviceId;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, TimeZone as _, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const DOMAIN: &[u8] = b"breeze-command-v1";

/// Why an agent refused a command. Reported in [`super::CommandResult::rejection`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommandRejection {
    /// The signature is not valid base64, not 64 bytes, or does not verify.
    #[error("bad signature")]
    BadSignature,
    /// No signature at all.
    #[error("command is not signed")]
    Unsigned,
    /// `expires_at` is in the past (by the agent's clock, corrected by the server
    /// time it last saw).
    #[error("command expired")]
    Expired,
    /// `device_id` is not this agent's device.
    #[error("command is for another device")]
    WrongDevice,
    /// This command id was already received (and run or refused) before.
    #[error("command id already seen (replay)")]
    Replayed,
    /// Signed correctly but of a type this agent does not know.
    #[error("unsupported command type")]
    Unsupported,
    /// Signed correctly but its payload does not parse for its type.
    #[error("invalid command payload")]
    InvalidPayload,
}

/// A key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("key is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("key must be 32 bytes, got {0}")]
    Length(usize),
    #[error("not a valid ed25519 public key")]
    InvalidPublicKey,
}

/// Canonical JSON text of `value` (see the module docs).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => push_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
    }
}

fn push_json_string(s: &str, out: &mut String) {
    // Serializing a `str` cannot fail; fall back to an empty string literal anyway.
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

fn push_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The exact bytes that are signed for `envelope` (see the module docs).
pub fn canonical_command_bytes(envelope: &CommandEnvelope) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(DOMAIN);
    push_field(
        &mut out,
        envelope.id.as_uuid().hyphenated().to_string().as_bytes(),
    );
    push_field(
        &mut out,
        envelope
            .device_id
            .as_uuid()
            .hyphenated()
            .to_string()
            .as_bytes(),
    );
    push_field(&mut out, envelope.command_type.as_bytes());
    push_field(&mut out, canonical_json(&envelope.payload).as_bytes());
    push_field(
        &mut out,
        envelope.issued_at.timestamp().to_string().as_bytes(),
    );
    push_field(
        &mut out,
        envelope.expires_at.timestamp().to_string().as_bytes(),
    );
    push_field(&mut out, envelope.nonce.as_deref().unwrap_or("").as_bytes());
    out
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_opt(t.timestamp(), 0).single().unwrap_or(t)
}

/// Signs `envelope` (after truncating its times to whole seconds).
pub fn sign_command(signing_key: &SigningKey, mut envelope: CommandEnvelope) -> SignedCommand {
    envelope.issued_at = whole_seconds(envelope.issued_at);
    envelope.expires_at = whole_seconds(envelope.expires_at);
    let signature = signing_key.sign(&canonical_command_bytes(&envelope));
    SignedCommand {
        envelope,
        signature: B64.encode(signature.to_bytes()),
    }
}

/// Checks signature, device and expiry, in that order, and returns the envelope.
/// Replay detection needs the agent's memory of seen ids and is done by the agent.
pub fn verify_command(
    verifying_key: &VerifyingKey,
    command: &SignedCommand,
    expected_device_id: DeviceId,
    now: DateTime<Utc>,
) -> Result<CommandEnvelope, CommandRejection> {
    if command.signature.trim().is_empty() {
        return Err(CommandRejection::Unsigned);
    }
    let raw = B64
        .decode(command.signature.trim())
        .map_err(|_| CommandRejection::BadSignature)?;
    let bytes: [u8; 64] = raw.try_into().map_err(|_| CommandRejection::BadSignature)?;
    let signature = Signature::from_bytes(&bytes);
    verifying_key
        .verify_strict(&canonical_command_bytes(&command.envelope), &signature)
        .map_err(|_| CommandRejection::BadSignature)?;
    if command.envelope.device_id != expected_device_id {
        return Err(CommandRejection::WrongDevice);
    }
    if now.timestamp() > command.envelope.expires_at.timestamp() {
        return Err(CommandRejection::Expired);
    }
    Ok(command.envelope.clone())
}

fn key_bytes(b64: &str) -> Result<[u8; 32], SigningError> {
    let raw = B64.decode(b64.trim())?;
    let len = raw.len();
    raw.try_into().map_err(|_| SigningError::Length(len))
}

/// Reads a public key in the form of [`super::EnrollResponse::signing_public_key`].
pub fn verifying_key_from_base64(b64: &str) -> Result<VerifyingKey, SigningError> {
    VerifyingKey::from_bytes(&key_bytes(b64)?).map_err(|_| SigningError::InvalidPublicKey)
}

/// Writes a public key in the form of [`super::EnrollResponse::signing_public_key`].
pub fn verifying_key_to_base64(key: &VerifyingKey) -> String {
    B64.encode(key.to_bytes())
}

/// Reads a signing key stored as base64 of its 32-byte seed.
pub fn signing_key_from_base64(b64: &str) -> Result<SigningKey, SigningError> {
    Ok(SigningKey::from_bytes(&key_bytes(b64)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CommandId;
    use chrono::Duration;
    use serde_json::json;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
    }

    fn envelope(device: DeviceId) -> CommandEnvelope {
        CommandEnvelope {
            id: CommandId::new(),
            device_id: device,
            command_type: "run_script".into(),
            payload: json!({"language": "bash", "content": "echo hi", "parameters": {"b": "2", "a": "1"}}),
            issued_at: t(1_800_000_000) + Duration::milliseconds(250),
            expires_at: t(1_800_003_600),
            nonce: Some("n1".into()),
        }
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let device = DeviceId::new();
        let signed = sign_command(&key(), envelope(device));
        let got = verify_command(&key().verifying_key(), &signed, device, t(1_800_000_100));
        assert_eq!(got, Ok(signed.envelope.clone()));
        assert_eq!(
            signed.envelope.issued_at,
            t(1_800_000_000),
            "times are whole seconds"
        );
    }

    #[test]
    fn signature_survives_a_json_round_trip() -> Result<(), serde_json::Error> {
        let device = DeviceId::new();
        let signed = sign_command(&key(), envelope(device));
        let text = serde_json::to_string(&signed)?;
        let back: SignedCommand = serde_json::from_str(&text)?;
        assert!(verify_command(&key().verifying_key(), &back, device, t(1_800_000_100)).is_ok());
        Ok(())
    }

    #[test]
    fn tampered_payload_is_refused() {
        let device = DeviceId::new();
        let mut signed = sign_command(&key(), envelope(device));
        signed.envelope.payload["content"] = json!("rm -rf /");
        let got = verify_command(&key().verifying_key(), &signed, device, t(1_800_000_100));
        assert_eq!(got, Err(CommandRejection::BadSignature));
    }

    #[test]
    fn tampered_expiry_and_type_are_refused() {
        let device = DeviceId::new();
        let vk = key().verifying_key();
        let mut a = sign_command(&key(), envelope(device));
        a.envelope.expires_at = t(1_900_000_000);
        assert_eq!(
            verify_command(&vk, &a, device, t(1_800_000_100)),
            Err(CommandRejection::BadSignature)
        );
        let mut b = sign_command(&key(), envelope(device));
        b.envelope.command_type = "reboot".into();
        assert_eq!(
            verify_command(&vk, &b, device, t(1_800_000_100)),
            Err(CommandRejection::BadSignature)
        );
    }

    #[test]
    fn other_key_is_refused() {
        let device = DeviceId::new();
        let signed = sign_command(&SigningKey::from_bytes(&[9u8; 32]), envelope(device));
        let got = verify_command(&key().verifying_key(), &signed, device, t(1_800_000_100));
        assert_eq!(got, Err(CommandRejection::BadSignature));
    }

    #[test]
    fn unsigned_and_garbage_signatures_are_refused() {
        let device = DeviceId::new();
        let mut signed = sign_command(&key(), envelope(device));
        let vk = key().verifying_key();
        signed.signature = String::new();
        assert_eq!(
            verify_command(&vk, &signed, device, t(1_800_000_100)),
            Err(CommandRejection::Unsigned)
        );
        signed.signature = "not base64!".into();
        assert_eq!(
            verify_command(&vk, &signed, device, t(1_800_000_100)),
            Err(CommandRejection::BadSignature)
        );
        signed.signature = B64.encode([1u8; 10]);
        assert_eq!(
            verify_command(&vk, &signed, device, t(1_800_000_100)),
            Err(CommandRejection::BadSignature)
        );
    }

    #[test]
    fn expired_is_refused() {
        let device = DeviceId::new();
        let signed = sign_command(&key(), envelope(device));
        let vk = key().verifying_key();
        assert!(
            verify_command(&vk, &signed, device, t(1_800_003_600)).is_ok(),
            "valid up to expiry"
        );
        assert_eq!(
            verify_command(&vk, &signed, device, t(1_800_003_601)),
            Err(CommandRejection::Expired)
        );
    }

    #[test]
    fn wrong_device_is_refused() {
        let signed = sign_command(&key(), envelope(DeviceId::new()));
        let got = verify_command(
            &key().verifying_key(),
            &signed,
            DeviceId::new(),
            t(1_800_000_100),
        );
        assert_eq!(got, Err(CommandRejection::WrongDevice));
    }

    #[test]
    fn canonical_json_is_stable_under_key_reordering() -> Result<(), serde_json::Error> {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"d":true,"c":null}],"x":"é\n"},"c":1.5}"#)?;
        let b: Value =
            serde_json::from_str(r#"{"c":1.5,"a":{"x":"é\n","y":[1,{"c":null,"d":true}]},"b":1}"#)?;
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":"é\n","y":[1,{"c":null,"d":true}]},"b":1,"c":1.5}"#
        );
        Ok(())
    }

    #[test]
    fn canonical_bytes_do_not_depend_on_payload_key_order() -> Result<(), serde_json::Error> {
        let device = DeviceId::new();
        let mut e = envelope(device);
        let signed = sign_command(&key(), e.clone());
        e.payload = serde_json::from_str(
            r#"{"parameters":{"a":"1","b":"2"},"content":"echo hi","language":"bash"}"#,
        )?;
        e.issued_at = signed.envelope.issued_at;
        let reordered = SignedCommand {
            envelope: e,
            signature: signed.signature.clone(),
        };
        assert!(
            verify_command(&key().verifying_key(), &reordered, device, t(1_800_000_100)).is_ok()
        );
        Ok(())
    }

    #[test]
    fn public_key_base64_round_trips() -> Result<(), SigningError> {
        let vk = key().verifying_key();
        assert_eq!(
            verifying_key_from_base64(&verifying_key_to_base64(&vk))?,
            vk
        );
        assert!(matches!(
            verifying_key_from_base64("AAAA"),
            Err(SigningError::Length(3))
        ));
        Ok(())
    }
}
