//! Outgoing e-mail over SMTP (password resets, invitations, test messages). Mail for a
//! partner's users goes through the partner's own SMTP server when it has one switched on
//! (console Settings), else through the server's `[smtp]`. Without either, nothing is sent
//! and the server says so in its log (never logging the token).

use crate::config::SmtpConfig;
use crate::state::AppState;
use anyhow::Context;
use breeze_core::settings::SmtpTls;
use breeze_proto::ids::PartnerId;
use breeze_store::partner_settings::{self, Smtp};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// How long one SMTP conversation may take before it counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// An SMTP server to send through.
pub struct SmtpTarget<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<&'a str>,
    pub password: Option<&'a SecretString>,
    /// `addr@example.com` or `Name <addr@example.com>`.
    pub from: &'a str,
}

#[derive(Clone)]
struct Inner {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
}

#[derive(Clone)]
pub struct Mailer {
    inner: Option<Inner>,
}

impl Mailer {
    /// The server's own mailer, from its `[smtp]` configuration (none: nothing is sent).
    pub fn new(c: Option<&SmtpConfig>) -> anyhow::Result<Mailer> {
        let Some(c) = c else {
            return Ok(Mailer { inner: None });
        };
        let tls = SmtpTls::parse("smtp.tls", &c.tls)?;
        Mailer::connect(&SmtpTarget {
            host: &c.host,
            port: c.port,
            tls,
            username: c.username.as_deref(),
            password: c.password.as_ref(),
            from: &c.from,
        })
        .context("smtp")
    }

    /// A mailer for one SMTP server. Nothing is contacted until a message is sent.
    pub fn connect(t: &SmtpTarget<'_>) -> anyhow::Result<Mailer> {
        let mut b = match t.tls {
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(t.host)?,
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(t.host)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(t.host),
        }
        .port(t.port)
        .timeout(Some(SMTP_TIMEOUT));
        if let (Some(u), Some(p)) = (t.username, t.password) {
            b = b.credentials(Credentials::new(
                u.to_string(),
                p.expose_secret().to_string(),
            ));
        }
        let from: Mailbox = t
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("from address: {e}"))?;
        Ok(Mailer {
            inner: Some(Inner {
                transport: b.build(),
                from,
                host: t.host.to_string(),
                port: t.port,
            }),
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
    pub async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<bool> {
        let Some(inner) = &self.inner else {
            tracing::warn!(subject, "e-mail not sent: SMTP is not configured");
            return Ok(false);
        };
        let msg = Message::builder()
            .from(inner.from.clone())
            .to(to.parse().map_err(|e| anyhow::anyhow!("recipient: {e}"))?)
            .subject(subject)
            .body(body)?;
        inner.transport.send(msg).await?;
        Ok(true)
    }
}

/// The key purpose a partner's SMTP password is sealed under: bound to the partner, so a
/// sealed value copied to another partner's row does not open.
pub fn smtp_password_purpose(partner: PartnerId) -> String {
    format!("smtp-password:{partner}")
}

/// A mailer for a partner's SMTP settings, enabled or not (the settings' test message
/// uses it before they are switched on).
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
    Mailer::connect(&SmtpTarget {
        host,
        port: s.port.unwrap_or_else(|| tls.default_port()),
        tls,
        username: s.username.as_deref(),
        password: password.as_ref(),
        from,
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
