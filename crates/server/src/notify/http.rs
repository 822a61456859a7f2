//! Outbound HTTP for notification channels: one JSON POST to a tenant's URL. The host is
//! resolved and checked by the outbound guard and the connection is pinned to the checked
//! addresses (never resolved again), no redirect is followed (a 3xx is a failure), every
//! request runs under `[outbound] timeout_secs`, and the receiver's body is never read:
//! only its status code is kept.

use crate::notify::guard::{OutboundConfig, OutboundError};
use std::sync::Arc;

/// Why a send failed, in the server's words, with the receiver's status when it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub status: Option<i64>,
    /// Retrying cannot help (refused destination, bad configuration, a 4xx answer).
    pub permanent: bool,
}

impl Failure {
    pub fn permanent(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            status: None,
            permanent: true,
        }
    }

    pub fn retry(reason: impl Into<String>, status: Option<i64>) -> Failure {
        Failure {
            reason: reason.into(),
            status,
            permanent: false,
        }
    }
}

impl From<OutboundError> for Failure {
    fn from(e: OutboundError) -> Failure {
        match e {
            OutboundError::NotAllowed(_) => Failure::permanent(e.to_string()),
            e => Failure::retry(e.to_string(), None),
        }
    }
}

fn tls_config() -> Result<rustls::ClientConfig, Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|_| Failure::retry("the trusted certificates could not be loaded", None))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| Failure::retry("TLS could not be configured", None))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn categorize(e: &reqwest::Error) -> Failure {
    if e.is_timeout() {
        return Failure::retry(
            OutboundError::TimedOut("waiting for the receiver").to_string(),
            None,
        );
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            let err = match io.kind() {
                K::ConnectionRefused => OutboundError::ConnectionRefused,
                K::TimedOut => OutboundError::TimedOut("connecting"),
                K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
                    OutboundError::ConnectionClosed
                }
                _ => OutboundError::ConnectionFailed,
            };
            return Failure::retry(err.to_string(), None);
        }
        if s.is::<rustls::Error>() {
            return Failure::retry(OutboundError::Tls.to_string(), None);
        }
        source = s.source();
    }
    if e.is_connect() {
        return Failure::retry(OutboundError::ConnectionFailed.to_string(), None);
    }
    Failure::retry(OutboundError::Protocol.to_string(), None)
}

/// POSTs `body` (JSON) to `url` with `headers`. Answers the receiver's 2xx status.
pub async fn post_json(
    out: &OutboundConfig,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<i64, Failure> {
    let u = url::Url::parse(url).map_err(|_| Failure::permanent("the URL is unusable"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(Failure::permanent(
            OutboundError::NotAllowed("not an http or https URL").to_string(),
        ));
    }
    let port = u
        .port_or_known_default()
        .ok_or_else(|| Failure::permanent("the URL is unusable"))?;
    let (host, domain) = match u.host() {
        Some(url::Host::Domain(d)) => (d.to_string(), true),
        Some(url::Host::Ipv4(ip)) => (ip.to_string(), false),
        Some(url::Host::Ipv6(ip)) => (ip.to_string(), false),
        None => return Err(Failure::permanent("the URL is unusable")),
    };
    // Resolved and judged now; the connection goes to these addresses only.
    let addrs = out.resolve(&host, port).await?;
    let mut b = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .http1_only()
        .connect_timeout(out.timeout())
        .timeout(out.timeout())
        .user_agent(concat!("Breeze/", env!("CARGO_PKG_VERSION")));
    if domain {
        b = b.resolve_to_addrs(&host, &addrs);
    }
    let client = b
        .build()
        .map_err(|_| Failure::retry("the HTTP client could not be built", None))?;
    let mut req = client
        .post(u)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.send().await.map_err(|e| categorize(&e))?;
    let status = resp.status();
    // The body is dropped unread: a receiver's words never reach a user.
    drop(resp);
    let code = i64::from(status.as_u16());
    if status.is_success() {
        Ok(code)
    } else if status.is_redirection() {
        Err(Failure {
            reason: "redirect not followed".into(),
            status: Some(code),
            permanent: true,
        })
    } else if status.is_server_error() || code == 408 || code == 429 {
        Err(Failure::retry(
            format!("the receiver answered HTTP {code}"),
            Some(code),
        ))
    } else {
        Err(Failure {
            reason: format!("the receiver refused the notification (HTTP {code})"),
            status: Some(code),
            permanent: true,
        })
    }
}
