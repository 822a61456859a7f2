//! The server's keys: a master key (encrypts secrets at rest, such as MFA secrets) and the
//! ed25519 command-signing key. Created on first start as 0600 files in the data directory
//! unless the configuration supplies them.

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::path::Path;

pub struct Keys {
    master: [u8; 32],
    pub signing: SigningKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { .. }")
    }
}

/// Writes `bytes` to a new file only its owner can read.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn load_or_create(
    dir: &Path,
    name: &str,
    given: Option<&SecretString>,
) -> anyhow::Result<[u8; 32]> {
    let decode = |s: &str, what: &str| -> anyhow::Result<[u8; 32]> {
        let v = B64
            .decode(s.trim())
            .with_context(|| format!("{what} is not base64"))?;
        v.try_into()
            .map_err(|_| anyhow::anyhow!("{what} must be 32 bytes"))
    };
    if let Some(s) = given {
        return decode(s.expose_secret(), name);
    }
    let path = dir.join(name);
    if path.exists() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                bail!(
                    "{} is readable by others (mode {mode:o}); chmod 600 it",
                    path.display()
                );
            }
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return decode(&text, &path.display().to_string());
    }
    let mut k = [0u8; 32];
    rand::rng().fill_bytes(&mut k);
    write_private(&path, B64.encode(k).as_bytes())?;
    tracing::info!(path = %path.display(), "created key");
    Ok(k)
}

impl Keys {
    pub fn load(
        dir: &Path,
        master: Option<&SecretString>,
        signing: Option<&SecretString>,
    ) -> anyhow::Result<Keys> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        let m = load_or_create(dir, "master.key", master)?;
        let s = load_or_create(dir, "signing.key", signing)?;
        Ok(Keys {
            master: m,
            signing: SigningKey::from_bytes(&s),
        })
    }

    /// A key for one purpose derived from the master key, so no two uses share a key.
    fn derive(&self, purpose: &str) -> anyhow::Result<[u8; 32]> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.master)
            .map_err(|_| anyhow::anyhow!("bad key"))?;
        mac.update(purpose.as_bytes());
        Ok(mac.finalize().into_bytes().into())
    }

    /// HMAC-SHA256 of `data` under the key derived for `purpose` (replicas sharing the
    /// master key compute the same).
    pub fn mac(&self, purpose: &str, data: &[u8]) -> anyhow::Result<[u8; 32]> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.derive(purpose)?)
            .map_err(|_| anyhow::anyhow!("bad key"))?;
        mac.update(data);
        Ok(mac.finalize().into_bytes().into())
    }

    /// Encrypts a secret at rest: base64(nonce || ciphertext), bound to `purpose`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> anyhow::Result<String> {
        let cipher = XChaCha20Poly1305::new(&self.derive(purpose)?.into());
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(B64.encode(out))
    }

    pub fn open(&self, purpose: &str, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let raw = B64.decode(sealed).context("sealed value is not base64")?;
        if raw.len() < 24 {
            bail!("sealed value too short");
        }
        let (nonce, ct) = raw.split_at(24);
        let cipher = XChaCha20Poly1305::new(&self.derive(purpose)?.into());
        cipher
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| anyhow::anyhow!("cannot decrypt (wrong master key?)"))
    }

    pub fn signing_public_base64(&self) -> String {
        B64.encode(self.signing.verifying_key().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_private_and_reloaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Keys::load(dir.path(), None, None).expect("create");
        let b = Keys::load(dir.path(), None, None).expect("reload");
        assert_eq!(a.signing_public_base64(), b.signing_public_base64());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master.key"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed = a.seal("mfa", b"secret").expect("seal");
        assert_eq!(b.open("mfa", &sealed).expect("open"), b"secret");
        assert!(b.open("other-purpose", &sealed).is_err());
    }
}
