//! TLS: rustls on the ring provider, the platform's trust store plus optional
//! extra roots (`ca_cert` in the config file) for self-hosted servers.

use anyhow::{Context as _, Result};
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use std::path::Path;
use std::sync::Arc;

/// Makes ring the process-wide rustls provider. Call once at start.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client config that trusts the platform roots and the PEM certificates in
/// `ca_cert`; `alpn` lists the protocols to offer (e.g. `h2`, `http/1.1` for HTTP,
/// none for WebSocket).
pub fn client_config(ca_cert: Option<&Path>, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>> {
    let extra: Vec<CertificateDer<'static>> = match ca_cert {
        Some(path) => CertificateDer::pem_file_iter(path)
            .with_context(|| format!("reading CA certificates from {}", path.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("parsing CA certificates in {}", path.display()))?,
        None => Vec::new(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .context("loading the platform's trusted certificates")?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("configuring TLS protocol versions")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The HTTP client used for every agent request.
pub fn http_client(ca_cert: Option<&Path>) -> Result<reqwest::Client> {
    let tls = client_config(ca_cert, &[b"h2", b"http/1.1"])?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(Arc::unwrap_or_clone(tls))
        .user_agent(concat!("breeze-agent/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(15))
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .context("building the HTTP client")
}
