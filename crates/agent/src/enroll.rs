//! `breeze-agent enroll`: describe this machine, exchange the key or token for
//! credentials, and store them (0600).

use crate::collectors::{arch_name, identity};
use crate::state::{Credentials, StateDir};
use anyhow::{Context as _, Result, bail};
use breeze_proto::agent::{
    EnrollRequest, PROTOCOL_VERSION, SecretToken, verifying_key_from_base64,
};
use breeze_proto::ids::SiteId;
use secrecy::{ExposeSecret as _, SecretString};
use std::path::Path;

/// The secret the installer was given.
pub enum Enrollment {
    Key(SecretString),
    Token(SecretString),
}

pub struct EnrollOptions<'a> {
    pub server: &'a str,
    pub enrollment: Enrollment,
    pub site_id: Option<SiteId>,
    pub state_dir: &'a Path,
    pub ca_cert: Option<&'a Path>,
    pub force: bool,
}

/// Builds the request describing this machine.
pub fn build_request(enrollment: &Enrollment, site_id: Option<SiteId>) -> EnrollRequest {
    let (version, build) = identity::os_version_and_build();
    let (enrollment_key, enrollment_token) = match enrollment {
        Enrollment::Key(k) => (Some(SecretToken::new(k.expose_secret())), None),
        Enrollment::Token(t) => (None, Some(SecretToken::new(t.expose_secret()))),
    };
    EnrollRequest {
        protocol_version: PROTOCOL_VERSION,
        enrollment_key,
        enrollment_token,
        site_id,
        hostname: identity::hostname(),
        os_type: identity::os(),
        os_version: version,
        os_build: build,
        architecture: arch_name(),
        agent_version: crate::AGENT_VERSION.into(),
        fingerprint: identity::fingerprint(),
        hardware: identity::hardware_summary(),
    }
}

pub async fn enroll(opts: EnrollOptions<'_>) -> Result<Credentials> {
    let state = StateDir::open(opts.state_dir)?;
    if let Some(existing) = Credentials::load(&state)?
        && !opts.force
    {
        bail!(
            "already enrolled as agent {} with {}; pass --force to enroll again",
            existing.agent_id,
            existing.server_url
        );
    }
    let server = crate::config::normalize_server_url(opts.server)?;
    let http = crate::tls::http_client(opts.ca_cert)?;
    let req = build_request(&opts.enrollment, opts.site_id);
    let resp = crate::api::enroll(&http, &server, &req)
        .await
        .with_context(|| format!("enrolling with {server}"))?;
    verifying_key_from_base64(&resp.signing_public_key)
        .context("the server sent an invalid command-signing key")?;
    let creds = Credentials {
        server_url: server.to_string(),
        agent_id: resp.agent_id,
        device_id: resp.device_id,
        org_id: resp.org_id,
        site_id: resp.site_id,
        auth_token: resp.auth_token,
        pending_token: None,
        signing_public_key: resp.signing_public_key,
        config: resp.config,
        fingerprint: req.fingerprint,
        enrolled_at: resp.server_time,
    };
    creds.save(&state)?;
    Ok(creds)
}
