//! The outbound-address guard: every connection the server makes on a tenant's behalf
//! (SMTP now; webhooks, chat, paging and SMS later) is resolved and checked here, and the
//! caller connects to the addresses this answers, never resolving the name again. Names
//! and addresses are judged by `breeze_core::outbound` against the operator's
//! `[outbound] allow` list. Errors are the guard's own categories: they never carry bytes
//! a remote server sent.

use crate::notify::resolve::Resolver;
use breeze_core::outbound::{self, AllowList, Verdict};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::time::Instant;

/// `[outbound]`: where the server may connect for tenants, how long it may take, and how
/// the delivery queue retries.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Destinations allowed although their address is internal: hosts, `host:port`
    /// pairs and CIDRs (`["127.0.0.1", "mail.internal:587", "10.2.0.0/16"]`).
    pub allow: AllowList,
    /// The deadline of one whole outbound conversation (connect, TLS, greeting, commands).
    pub timeout_secs: u64,
    /// Delivery attempts of a queued job before it is marked failed.
    pub max_attempts: u32,
    /// The first retry waits this long; each next one twice as long, up to `retry_max_secs`.
    pub retry_base_millis: u64,
    pub retry_max_secs: u64,
    /// How often the delivery worker looks for due jobs (new jobs wake it at once).
    pub queue_poll_millis: u64,
    /// How names are resolved (tests replace it; not read from the file).
    #[serde(skip)]
    pub resolver: Resolver,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            allow: AllowList::default(),
            timeout_secs: 15,
            max_attempts: 8,
            retry_base_millis: 30_000,
            retry_max_secs: 3600,
            queue_poll_millis: 1000,
            resolver: Resolver::default(),
        }
    }
}

/// What went wrong with an outbound connection, in the server's own words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("destination not allowed ({0})")]
    NotAllowed(&'static str),
    #[error("the host name did not resolve")]
    DoesNotResolve,
    #[error("connection refused")]
    ConnectionRefused,
    #[error("connection closed by the server")]
    ConnectionClosed,
    #[error("connection failed")]
    ConnectionFailed,
    #[error("timed out ({0})")]
    TimedOut(&'static str),
    #[error("TLS handshake failed")]
    Tls,
    #[error("the server does not offer STARTTLS")]
    NoStartTls,
    #[error("the server refused the conversation")]
    ServerRefused,
    #[error("authentication rejected")]
    AuthRejected,
    #[error("no supported authentication method")]
    NoAuthMechanism,
    #[error("sender refused")]
    SenderRefused,
    #[error("recipient refused")]
    RecipientRefused,
    #[error("message refused")]
    MessageRefused,
    #[error("unexpected reply from the server")]
    Protocol,
    #[error("the message could not be composed")]
    BadMessage,
}

impl OutboundConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=600).contains(&self.timeout_secs) {
            anyhow::bail!("outbound.timeout_secs must be between 1 and 600");
        }
        if !(1..=100).contains(&self.max_attempts) {
            anyhow::bail!("outbound.max_attempts must be between 1 and 100");
        }
        if self.retry_base_millis < 10 {
            anyhow::bail!("outbound.retry_base_millis must be at least 10");
        }
        if self.queue_poll_millis == 0 || self.retry_max_secs == 0 {
            anyhow::bail!(
                "outbound.queue_poll_millis and outbound.retry_max_secs must be positive"
            );
        }
        Ok(())
    }

    /// The addresses `host` may be reached at on `port`, each checked; refused when any
    /// address it resolves to is refused (a name that mixes public and internal answers
    /// is a rebinding trick). Connect to these, never to the name.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, OutboundError> {
        self.addresses(host, port, true).await
    }

    /// The addresses of a destination the operator configured (the server's own `[smtp]`):
    /// not judged, but resolved once like the others so the connection uses them.
    pub async fn resolve_trusted(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, OutboundError> {
        self.addresses(host, port, false).await
    }

    /// The check when a tenant saves a destination. A literal or a name resolving to a
    /// refused address is refused; a name that does not resolve (yet) is accepted, since
    /// every connection checks again after resolving.
    pub async fn check_destination(&self, host: &str, port: u16) -> Result<(), OutboundError> {
        match self.resolve(host, port).await {
            Ok(_) | Err(OutboundError::DoesNotResolve) | Err(OutboundError::TimedOut(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn addresses(
        &self,
        host: &str,
        port: u16,
        judged: bool,
    ) -> Result<Vec<SocketAddr>, OutboundError> {
        let ips: Vec<IpAddr> = if let Some(ip) = outbound::literal_ip(host) {
            vec![ip]
        } else if judged && outbound::is_local_name(host) && !self.allow.permits(host, None, port) {
            return Err(OutboundError::NotAllowed("loopback address"));
        } else {
            let found = tokio::time::timeout(self.timeout(), self.resolver.lookup(host))
                .await
                .map_err(|_| OutboundError::TimedOut("resolving the host name"))?
                .map_err(|_| OutboundError::DoesNotResolve)?;
            if found.is_empty() {
                return Err(OutboundError::DoesNotResolve);
            }
            found
        };
        if judged {
            for ip in &ips {
                if let Verdict::Refused(why) = outbound::judge(&self.allow, host, *ip, port) {
                    return Err(OutboundError::NotAllowed(why));
                }
            }
        }
        let mut out: Vec<SocketAddr> = Vec::with_capacity(ips.len());
        for ip in ips {
            let a = SocketAddr::new(outbound::canonical(ip), port);
            if !out.contains(&a) {
                out.push(a);
            }
        }
        Ok(out)
    }
}

/// One deadline for a whole conversation, applied to each step.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn after(d: Duration) -> Deadline {
        Deadline(Instant::now() + d)
    }

    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// Runs one step; past the deadline it is abandoned as `TimedOut(during)`.
    pub async fn step<T, E>(
        &self,
        during: &'static str,
        fut: impl std::future::Future<Output = Result<T, E>>,
        map: impl FnOnce(E) -> OutboundError,
    ) -> Result<T, OutboundError> {
        match tokio::time::timeout_at(self.0, fut).await {
            Ok(r) => r.map_err(map),
            Err(_) => Err(OutboundError::TimedOut(during)),
        }
    }
}
