//! A partner's own settings: outgoing e-mail (SMTP) and its users' session policy. They are
//! a partner-level object: only partner staff with every organization in reach see them
//! (anyone else gets `NotFound`). Login and mail code read them unscoped through the
//! `*_for_auth` functions, for the partner the user belongs to.

use crate::StoreError;
use crate::db::{Db, Engine, Q, Tx};
use crate::tenancy;
use breeze_core::Scope;
use breeze_core::settings::{SessionPolicy, SmtpTls};
use breeze_proto::ids::{PartnerId, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Outgoing mail through the partner's own SMTP server.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Smtp {
    /// Mail for the partner's users goes through this server (else the server's own).
    pub enabled: bool,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<SmtpTls>,
    pub username: Option<String>,
    /// The password sealed with the server's master key; never leaves the server.
    pub password_sealed: Option<String>,
    /// `addr@example.com` or `Name <addr@example.com>`.
    pub from: Option<String>,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("enabled", &self.enabled)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password_set", &self.password_sealed.is_some())
            .field("from", &self.from)
            .finish()
    }
}

/// Everything a partner has set; a partner that never saved anything has the defaults
/// (SMTP off, every lifetime from the server's configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartnerSettings {
    pub smtp: Smtp,
    pub session: SessionPolicy,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<UserId>,
}

#[derive(sqlx::FromRow)]
struct Row {
    smtp_enabled: bool,
    smtp_host: Option<String>,
    smtp_port: Option<i64>,
    smtp_tls: Option<String>,
    smtp_username: Option<String>,
    smtp_password_sealed: Option<String>,
    smtp_from: Option<String>,
    access_token_minutes: Option<i64>,
    session_lifetime_hours: Option<i64>,
    idle_timeout_minutes: Option<i64>,
    require_mfa: bool,
    updated_at: DateTime<Utc>,
    updated_by: Option<Uuid>,
}

impl Row {
    fn into_settings(self) -> Result<PartnerSettings, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("partner_settings.{what}"));
        Ok(PartnerSettings {
            smtp: Smtp {
                enabled: self.smtp_enabled,
                host: self.smtp_host,
                port: self
                    .smtp_port
                    .map(|p| u16::try_from(p).map_err(|_| corrupt("smtp_port")))
                    .transpose()?,
                tls: self
                    .smtp_tls
                    .map(|t| SmtpTls::parse("smtp_tls", &t).map_err(|_| corrupt("smtp_tls")))
                    .transpose()?,
                username: self.smtp_username,
                password_sealed: self.smtp_password_sealed,
                from: self.smtp_from,
            },
            session: SessionPolicy {
                access_token_minutes: self.access_token_minutes,
                session_lifetime_hours: self.session_lifetime_hours,
                idle_timeout_minutes: self.idle_timeout_minutes,
                require_mfa: self.require_mfa,
            },
            updated_at: Some(self.updated_at),
            updated_by: self.updated_by.map(UserId),
        })
    }
}

const COLS: &str = "SELECT smtp_enabled, smtp_host, smtp_port, smtp_tls, smtp_username, smtp_password_sealed, \
    smtp_from, access_token_minutes, session_lifetime_hours, idle_timeout_minutes, require_mfa, updated_at, \
    updated_by FROM partner_settings WHERE partner_id = ";

/// The partner whose settings `scope` may see: its own, for partner-wide staff only.
fn partner_of(scope: &Scope) -> Result<PartnerId, StoreError> {
    match scope.partner_id {
        Some(p) if tenancy::partner_wide(scope) => Ok(p),
        _ => Err(StoreError::NotFound),
    }
}

fn select(partner: PartnerId) -> Q {
    let mut q = Q::new(COLS);
    q.push_bind(partner);
    q
}

/// The settings of the caller's partner.
pub async fn get(db: &Db, scope: &Scope) -> Result<PartnerSettings, StoreError> {
    get_for_auth(db, partner_of(scope)?).await
}

/// A partner's settings for login and mail code, which act for a user of that partner.
/// Not scoped.
pub async fn get_for_auth(db: &Db, partner: PartnerId) -> Result<PartnerSettings, StoreError> {
    match db.optional::<Row>(select(partner)).await? {
        Some(r) => r.into_settings(),
        None => Ok(PartnerSettings::default()),
    }
}

/// Whether the partner makes two-factor authentication compulsory. Not scoped: asked for
/// every request of a user without MFA, so it reads one column.
pub async fn require_mfa_for_auth(db: &Db, partner: PartnerId) -> Result<bool, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Required {
        require_mfa: bool,
    }
    let r: Option<Required> = db
        .optional(
            Q::new("SELECT require_mfa FROM partner_settings WHERE partner_id = ?").bind(partner),
        )
        .await?;
    Ok(r.is_some_and(|r| r.require_mfa))
}

/// An edit in progress: the settings as they are, locked until [`Editing::save`] or drop
/// (which changes nothing), so two concurrent edits cannot lose each other's changes.
pub struct Editing {
    tx: Tx,
    partner: PartnerId,
    pub current: PartnerSettings,
}

/// Starts editing the settings of the caller's partner.
pub async fn edit(db: &Db, scope: &Scope, now: DateTime<Utc>) -> Result<Editing, StoreError> {
    let partner = partner_of(scope)?;
    let mut tx = db.begin().await?;
    // A row to lock (rolled back with the transaction if the edit is abandoned).
    tx.exec(
        Q::new(
            "INSERT INTO partner_settings (partner_id, updated_at) VALUES (?, ?) ON CONFLICT (partner_id) DO NOTHING",
        )
        .bind(partner)
        .bind(now),
    )
    .await?;
    let mut q = select(partner);
    if tx.engine() == Engine::Postgres {
        // SQLite's `BEGIN IMMEDIATE` already holds the write lock.
        q.push(" FOR UPDATE");
    }
    let current = tx.one::<Row>(q).await?.into_settings()?;
    Ok(Editing {
        tx,
        partner,
        current,
    })
}

impl Editing {
    /// Writes `new` (by `by`, at `now`) and answers it as stored.
    pub async fn save(
        mut self,
        new: &PartnerSettings,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<PartnerSettings, StoreError> {
        let s = &new.smtp;
        let p = &new.session;
        self.tx
            .exec(
                Q::new(
                    "UPDATE partner_settings SET smtp_enabled = ?, smtp_host = ?, smtp_port = ?, smtp_tls = ?, \
                     smtp_username = ?, smtp_password_sealed = ?, smtp_from = ?, access_token_minutes = ?, \
                     session_lifetime_hours = ?, idle_timeout_minutes = ?, require_mfa = ?, updated_at = ?, \
                     updated_by = ? WHERE partner_id = ?",
                )
                .bind(s.enabled)
                .bind(s.host.clone())
                .bind(s.port.map(i64::from))
                .bind(s.tls.map(|t| t.as_str()))
                .bind(s.username.clone())
                .bind(s.password_sealed.clone())
                .bind(s.from.clone())
                .bind(p.access_token_minutes)
                .bind(p.session_lifetime_hours)
                .bind(p.idle_timeout_minutes)
                .bind(p.require_mfa)
                .bind(now)
                .bind(by)
                .bind(self.partner),
            )
            .await?;
        let saved = self
            .tx
            .one::<Row>(select(self.partner))
            .await?
            .into_settings()?;
        self.tx.commit().await?;
        Ok(saved)
    }

    pub fn partner(&self) -> PartnerId {
        self.partner
    }
}
