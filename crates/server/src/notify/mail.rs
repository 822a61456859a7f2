//! Outgoing e-mail over SMTP (password resets, invitations, test messages): composing a
//! message and holding one SMTP conversation. Mail for a partner's users goes through the
//! partner's own SMTP server when it has one switched on (console Settings), else through
//! the server's `[smtp]`; without either, nothing is sent and the server says so in its log
//! (never logging the token). Resets and invitations are not sent from a request: they are
//! queued (`notify::queue`) and delivered by the worker.
//!
//! A partner's server is a tenant's destination: its name is resolved and checked by the
//! outbound guard, and the conversation connects to the checked address (certificates are
//! still verified against the name). The server's own `[smtp]` is the operator's and is not
//! judged, but is resolved once the same way. Every step runs under one deadline
//! (`[outbound] timeout_secs`), and failures are reported in the guard's categories,
//! never with the remote server's reply text.

use crate::config::SmtpConfig;
use crate::notify::guard::{Deadline, OutboundConfig, OutboundError};
use crate::state::AppState;
use anyhow::Context;
use breeze_core::settings::SmtpTls;
use breeze_proto::ids::PartnerId;
use breeze_store::partner_settings::{self, Smtp};
use lettre::Message;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

/// An SMTP server to send through.
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub from: Mailbox,
    /// A tenant's destination, checked by the outbound guard (the operator's own is not).
    pub guarded: bool,
}

#[derive(Clone)]
pub struct Mailer {
    inner: Option<Arc<SmtpTarget>>,
}

/// Where a conversation failed, to name a refusal.
#[derive(Clone, Copy)]
enum Phase {
    Connect,
    StartTls,
    Auth,
    Sender,
    Recipient,
    Message,
}

/// An SMTP client error in the guard's words: the remote reply is dropped.
fn categorize(e: &lettre::transport::smtp::Error, phase: Phase) -> OutboundError {
    if e.is_tls() {
        return OutboundError::Tls;
    }
    if e.is_timeout() {
        return OutboundError::TimedOut("waiting for the server");
    }
    if e.is_transient() || e.is_permanent() {
        return match phase {
            Phase::Connect => OutboundError::ServerRefused,
            Phase::StartTls => OutboundError::Tls,
            Phase::Auth => OutboundError::AuthRejected,
            Phase::Sender => OutboundError::SenderRefused,
            Phase::Recipient => OutboundError::RecipientRefused,
            Phase::Message => OutboundError::MessageRefused,
        };
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            return match io.kind() {
                K::ConnectionRefused => OutboundError::ConnectionRefused,
                K::TimedOut => OutboundError::TimedOut("connecting"),
                K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
                    OutboundError::ConnectionClosed
                }
                _ => OutboundError::ConnectionFailed,
            };
        }
        source = s.source();
    }
    if e.is_client() && matches!(phase, Phase::Auth) {
        return OutboundError::NoAuthMechanism;
    }
    OutboundError::Protocol
}

impl Mailer {
    /// The server's own mailer, from its `[smtp]` configuration (none: nothing is sent).
    pub fn new(c: Option<&SmtpConfig>) -> anyhow::Result<Mailer> {
        let Some(c) = c else {
            return Ok(Mailer { inner: None });
        };
        let tls = SmtpTls::parse("smtp.tls", &c.tls)?;
        Mailer::to(SmtpTarget {
            host: c.host.clone(),
            port: c.port,
            tls,
            username: c.username.clone(),
            password: c.password.clone(),
            from: c
                .from
                .parse()
                .map_err(|e| anyhow::anyhow!("smtp.from: {e}"))?,
            guarded: false,
        })
    }

    /// A mailer for one SMTP server. Nothing is contacted until a message is sent.
    pub fn to(t: SmtpTarget) -> anyhow::Result<Mailer> {
        Ok(Mailer {
            inner: Some(Arc::new(t)),
        })
    }

    pub fn configured(&self) -> bool {
        self.inner.is_some()
    }

    /// The SMTP server's host and port, when there is one.
    pub fn endpoint(&self) -> Option<(&str, u16)> {
        self.inner.as_ref().map(|i| (i.host.as_str(), i.port))
    }

    /// Sends a plain-text message. Answers false when SMTP is not configured.
    pub async fn send(
        &self,
        out: &OutboundConfig,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<bool, OutboundError> {
        let Some(t) = &self.inner else {
            tracing::warn!(subject, "e-mail not sent: SMTP is not configured");
            return Ok(false);
        };
        let msg = Message::builder()
            .from(t.from.clone())
            .to(to.parse().map_err(|_| OutboundError::BadMessage)?)
            .subject(subject)
            .body(body)
            .map_err(|_| OutboundError::BadMessage)?;
        let deadline = Deadline::after(out.timeout());
        // One deadline for the whole conversation, on top of the one each step gets.
        match tokio::time::timeout(out.timeout(), converse(t, out, &msg, deadline)).await {
            Ok(r) => r.map(|()| true),
            Err(_) => Err(OutboundError::TimedOut("the whole conversation")),
        }
    }
}

async fn converse(
    t: &SmtpTarget,
    out: &OutboundConfig,
    msg: &Message,
    deadline: Deadline,
) -> Result<(), OutboundError> {
    let addrs = if t.guarded {
        out.resolve(&t.host, t.port).await?
    } else {
        out.resolve_trusted(&t.host, t.port).await?
    };
    let hello = ClientId::default();
    let tls_params = || {
        TlsParameters::new(breeze_core::outbound::literal_ip(&t.host).map_or_else(
            || t.host.trim_end_matches('.').to_string(),
            |ip| ip.to_string(),
        ))
        .map_err(|_| OutboundError::Tls)
    };
    let wrapper = match t.tls {
        SmtpTls::Tls => Some(tls_params()?),
        _ => None,
    };
    let mut last = OutboundError::ConnectionFailed;
    let mut conn = None;
    // The checked addresses only, in order; the name is never looked up again.
    for a in addrs {
        match deadline
            .step(
                "connecting and waiting for the greeting",
                AsyncSmtpConnection::connect_tokio1(
                    a,
                    Some(deadline.remaining()),
                    &hello,
                    wrapper.clone(),
                    None,
                ),
                |e| categorize(&e, Phase::Connect),
            )
            .await
        {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(e @ OutboundError::TimedOut(_)) => return Err(e),
            Err(e) => last = e,
        }
    }
    let Some(mut conn) = conn else {
        return Err(last);
    };
    let r = conversation(t, msg, deadline, &mut conn, &hello, tls_params).await;
    if r.is_ok() {
        let _ = tokio::time::timeout(deadline.remaining(), conn.quit()).await;
    } else {
        let _ = tokio::time::timeout(deadline.remaining(), conn.abort()).await;
    }
    r
}

async fn conversation(
    t: &SmtpTarget,
    msg: &Message,
    deadline: Deadline,
    conn: &mut AsyncSmtpConnection,
    hello: &ClientId,
    tls_params: impl Fn() -> Result<TlsParameters, OutboundError>,
) -> Result<(), OutboundError> {
    if t.tls == SmtpTls::StartTls {
        if !conn.can_starttls() {
            return Err(OutboundError::NoStartTls);
        }
        let p = tls_params()?;
        deadline
            .step("the TLS handshake", conn.starttls(p, hello), |e| {
                categorize(&e, Phase::StartTls)
            })
            .await?;
    }
    if let (Some(u), Some(p)) = (&t.username, &t.password) {
        let creds = Credentials::new(u.clone(), p.expose_secret().to_string());
        deadline
            .step(
                "authenticating",
                conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds),
                |e| categorize(&e, Phase::Auth),
            )
            .await?;
    }
    let envelope = msg.envelope();
    let bytes = msg.formatted();
    let mut params = vec![];
    if !bytes.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
        params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    deadline
        .step(
            "sending the sender",
            conn.command(Mail::new(envelope.from().cloned(), params)),
            |e| categorize(&e, Phase::Sender),
        )
        .await?;
    for to in envelope.to() {
        deadline
            .step(
                "sending the recipient",
                conn.command(Rcpt::new(to.clone(), vec![])),
                |e| categorize(&e, Phase::Recipient),
            )
            .await?;
    }
    deadline
        .step("starting the message", conn.command(Data), |e| {
            categorize(&e, Phase::Message)
        })
        .await?;
    deadline
        .step("sending the message", conn.message(&bytes), |e| {
            categorize(&e, Phase::Message)
        })
        .await?;
    Ok(())
}

/// The key purpose a partner's SMTP password is sealed under: bound to the partner, so a
/// sealed value copied to another partner's row does not open.
pub fn smtp_password_purpose(partner: PartnerId) -> String {
    format!("smtp-password:{partner}")
}

/// A mailer for a partner's SMTP settings, enabled or not (the settings' test message
/// uses it before they are switched on). Its destination is checked by the outbound guard.
pub fn partner_mailer(state: &AppState, partner: PartnerId, s: &Smtp) -> anyhow::Result<Mailer> {
    let host = s.host.as_deref().context("no SMTP host is set")?;
    let from = s.from.as_deref().context("no sender address is set")?;
    let tls = s.tls.unwrap_or(SmtpTls::StartTls);
    let password = s
        .password_sealed
        .as_deref()
        .map(|sealed| -> anyhow::Result<SecretString> {
            let plain = state
                .keys
                .open(&smtp_password_purpose(partner), sealed)
                .context("opening the stored SMTP password")?;
            Ok(String::from_utf8(plain)
                .context("the stored SMTP password is not text")?
                .into())
        })
        .transpose()?;
    Mailer::to(SmtpTarget {
        host: host.to_string(),
        port: s.port.unwrap_or_else(|| tls.default_port()),
        tls,
        username: s.username.clone(),
        password,
        from: from
            .parse()
            .map_err(|e| anyhow::anyhow!("from address: {e}"))?,
        guarded: true,
    })
}

/// The mailer for mail to a user of `partner`: the partner's SMTP server when switched on,
/// else the server's. A partner's SMTP that is on but unusable is an error, not a silent
/// fallback to another server.
pub async fn for_partner(state: &AppState, partner: Option<PartnerId>) -> anyhow::Result<Mailer> {
    let Some(p) = partner else {
        return Ok(state.mailer.clone());
    };
    let s = partner_settings::get_for_auth(&state.db, p)
        .await
        .context("loading the partner's SMTP settings")?;
    if s.smtp.enabled {
        partner_mailer(state, p, &s.smtp).context("the partner's SMTP settings")
    } else {
        Ok(state.mailer.clone())
    }
}
