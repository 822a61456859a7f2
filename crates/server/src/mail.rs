//! Outgoing e-mail over SMTP (password resets, invitations). Without SMTP configured,
//! nothing is sent and the server says so in its log (never logging the token).

use crate::config::SmtpConfig;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

#[derive(Clone)]
pub struct Mailer {
    inner: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

impl Mailer {
    pub fn new(c: Option<&SmtpConfig>) -> anyhow::Result<Mailer> {
        let Some(c) = c else {
            return Ok(Mailer { inner: None });
        };
        let mut b = match c.tls.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)?,
            _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
        }
        .port(c.port);
        if let (Some(u), Some(p)) = (&c.username, &c.password) {
            b = b.credentials(Credentials::new(u.clone(), p.expose_secret().to_string()));
        }
        let from: Mailbox = c
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("smtp.from: {e}"))?;
        Ok(Mailer {
            inner: Some((b.build(), from)),
        })
    }

    pub fn configured(&self) -> bool {
        self.inner.is_some()
    }

    /// Sends a plain-text message. Answers false when SMTP is not configured.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<bool> {
        let Some((transport, from)) = &self.inner else {
            tracing::warn!(subject, "e-mail not sent: SMTP is not configured");
            return Ok(false);
        };
        let msg = Message::builder()
            .from(from.clone())
            .to(to.parse().map_err(|e| anyhow::anyhow!("recipient: {e}"))?)
            .subject(subject)
            .body(body)?;
        transport.send(msg).await?;
        Ok(true)
    }
}
