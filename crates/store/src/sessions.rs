//! Login sessions (short-lived access tokens), refresh token families with rotation and
//! reuse detection (RFC 9700 §4.13.2), and single-use tokens (MFA challenges, password
//! resets, invitations). Only SHA-256 hashes of tokens are stored.

use crate::StoreError;
use crate::db::{Db, Q, Tx};
use breeze_proto::ids::{SessionId, UserId};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// Where a session came from.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Hashes of a freshly minted token pair and how long its tokens live.
pub struct NewTokens<'a> {
    pub access_hash: &'a str,
    pub refresh_hash: &'a str,
    pub access_ttl: Duration,
    /// How long the refresh token lives unused.
    pub refresh_ttl: Duration,
    /// When set, no token of the login outlives its start plus this, however active.
    pub max_session: Option<Duration>,
}

/// A token pair that was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub session: SessionId,
    pub access_expires_at: DateTime<Utc>,
}

async fn insert_pair(
    tx: &mut Tx,
    user: Uuid,
    family: Uuid,
    family_started: DateTime<Utc>,
    t: &NewTokens<'_>,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<Issued, StoreError> {
    let end = t.max_session.map(|d| family_started + d);
    let capped = |at: DateTime<Utc>| end.map_or(at, |e| at.min(e));
    let access_expires_at = capped(now + t.access_ttl);
    tx.exec(
        Q::new("INSERT INTO refresh_tokens (id, family_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
            .bind(Uuid::now_v7())
            .bind(family)
            .bind(t.refresh_hash)
            .bind(now)
            .bind(capped(now + t.refresh_ttl)),
    )
    .await?;
    let sid = SessionId::new();
    tx.exec(
        Q::new(
            "INSERT INTO sessions (id, user_id, family_id, token_hash, ip_address, user_agent, expires_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(sid)
        .bind(user)
        .bind(family)
        .bind(t.access_hash)
        .bind(client.ip.clone())
        .bind(client.user_agent.clone())
        .bind(access_expires_at)
        .bind(now),
    )
    .await?;
    Ok(Issued {
        session: sid,
        access_expires_at,
    })
}

/// Starts a new login: a new refresh family with its first refresh token and session.
pub async fn start(
    db: &Db,
    user: UserId,
    t: &NewTokens<'_>,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<Issued, StoreError> {
    let mut tx = db.begin().await?;
    let family = Uuid::now_v7();
    tx.exec(
        Q::new("INSERT INTO refresh_token_families (id, user_id, created_at) VALUES (?, ?, ?)")
            .bind(family)
            .bind(user)
            .bind(now),
    )
    .await?;
    let issued = insert_pair(&mut tx, user.0, family, now, t, client, now).await?;
    tx.commit().await?;
    Ok(issued)
}

/// The live session an access token belongs to.
pub async fn by_access_hash(
    db: &Db,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<SessionRow>, StoreError> {
    db.optional(
        Q::new(
            "SELECT s.id, s.user_id, s.family_id, s.expires_at FROM sessions s \
             JOIN refresh_token_families f ON f.id = s.family_id \
             WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND f.revoked_at IS NULL",
        )
        .bind(hash)
        .bind(now),
    )
    .await
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refresh {
    /// The token was live: it is now spent and a new pair exists.
    Rotated {
        user: UserId,
        access_expires_at: DateTime<Utc>,
    },
    /// The token had been spent before: its whole family is now revoked.
    Reused { user: UserId, family: Uuid },
    /// Unknown, expired or revoked.
    Invalid,
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    id: Uuid,
    family_id: Uuid,
    user_id: Uuid,
    family_started: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Whose login a refresh token belongs to, without spending it (to find the policy the
/// next pair is issued under). Answers `None` for an unknown token.
pub async fn refresh_owner(db: &Db, refresh_hash: &str) -> Result<Option<UserId>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Owner {
        user_id: Uuid,
    }
    let o: Option<Owner> = db
        .optional(
            Q::new(
                "SELECT f.user_id FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id \
                 WHERE t.token_hash = ?",
            )
            .bind(refresh_hash),
        )
        .await?;
    Ok(o.map(|o| UserId(o.user_id)))
}

/// Spends a refresh token and issues the next pair of its family. A second use of a spent
/// token revokes the family: every refresh token and session in it stops working.
pub async fn refresh(
    db: &Db,
    refresh_hash: &str,
    next: &NewTokens<'_>,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<Refresh, StoreError> {
    let mut tx = db.begin().await?;
    let row: Option<RefreshRow> = tx
        .optional(
            Q::new(
                "SELECT t.id, t.family_id, f.user_id, f.created_at AS family_started, t.expires_at, t.used_at, f.revoked_at \
                 FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id WHERE t.token_hash = ?",
            )
            .bind(refresh_hash),
        )
        .await?;
    let Some(row) = row else {
        return Ok(Refresh::Invalid);
    };
    if row.revoked_at.is_some() {
        return Ok(Refresh::Invalid);
    }
    if row.used_at.is_some() {
        revoke_family_in(&mut tx, row.family_id, "refresh token reuse", now).await?;
        tx.commit().await?;
        return Ok(Refresh::Reused {
            user: UserId(row.user_id),
            family: row.family_id,
        });
    }
    if row.expires_at <= now {
        return Ok(Refresh::Invalid);
    }
    // The login reached its longest allowed life (a policy shortened since it started).
    if next
        .max_session
        .is_some_and(|d| row.family_started + d <= now)
    {
        revoke_family_in(&mut tx, row.family_id, "session lifetime reached", now).await?;
        tx.commit().await?;
        return Ok(Refresh::Invalid);
    }
    let spent = tx
        .exec(
            Q::new("UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL")
                .bind(now)
                .bind(row.id),
        )
        .await?;
    if spent != 1 {
        // Another request spent it between our read and write: that is reuse too.
        revoke_family_in(&mut tx, row.family_id, "refresh token reuse", now).await?;
        tx.commit().await?;
        return Ok(Refresh::Reused {
            user: UserId(row.user_id),
            family: row.family_id,
        });
    }
    let issued = insert_pair(
        &mut tx,
        row.user_id,
        row.family_id,
        row.family_started,
        next,
        client,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Refresh::Rotated {
        user: UserId(row.user_id),
        access_expires_at: issued.access_expires_at,
    })
}

async fn revoke_family_in(
    tx: &mut Tx,
    family: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.exec(
        Q::new("UPDATE refresh_token_families SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(reason)
            .bind(family),
    )
    .await?;
    tx.exec(
        Q::new("UPDATE sessions SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(family),
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SignInRow {
    created_at: DateTime<Utc>,
}

/// When the user of `session` signed in before the sign-in that started it (each sign-in
/// starts a refresh-token family); `None` for their first.
pub async fn previous_sign_in(
    db: &Db,
    session: SessionId,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let row: Option<SignInRow> = db
        .optional(
            Q::new(
                "SELECT p.created_at FROM sessions s \
                 JOIN refresh_token_families f ON f.id = s.family_id \
                 JOIN refresh_token_families p ON p.user_id = f.user_id AND p.created_at < f.created_at \
                 WHERE s.id = ? ORDER BY p.created_at DESC LIMIT 1",
            )
            .bind(session),
        )
        .await?;
    Ok(row.map(|r| r.created_at))
}

/// Logs out: the session's whole family (its refresh tokens and sessions) is revoked.
pub async fn logout(db: &Db, session: SessionId, now: DateTime<Utc>) -> Result<(), StoreError> {
    let row: Option<SessionRow> = db
        .optional(
            Q::new("SELECT id, user_id, family_id, expires_at FROM sessions WHERE id = ?")
                .bind(session),
        )
        .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound);
    };
    let mut tx = db.begin().await?;
    revoke_family_in(&mut tx, row.family_id, "logout", now).await?;
    tx.commit().await
}

/// Revokes the family a refresh token belongs to, if it is `user`'s.
pub async fn revoke_family_of_refresh(
    db: &Db,
    user: UserId,
    refresh_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    #[derive(sqlx::FromRow)]
    struct F {
        family_id: Uuid,
    }
    let f: Option<F> = db
        .optional(
            Q::new(
                "SELECT t.family_id FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id \
                 WHERE t.token_hash = ? AND f.user_id = ?",
            )
            .bind(refresh_hash)
            .bind(user),
        )
        .await?;
    if let Some(f) = f {
        let mut tx = db.begin().await?;
        revoke_family_in(&mut tx, f.family_id, "logout", now).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Revokes every session of a user (password reset).
pub async fn revoke_all_for_user(
    db: &Db,
    user: UserId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    tx.exec(
        Q::new("UPDATE refresh_token_families SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(reason)
            .bind(user),
    )
    .await?;
    tx.exec(
        Q::new("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(user),
    )
    .await?;
    tx.commit().await
}

/// Deletes sessions and refresh tokens that expired more than a day ago.
pub async fn purge_expired(db: &Db, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let cutoff = now - Duration::days(1);
    let a = db
        .exec(Q::new("DELETE FROM sessions WHERE expires_at < ?").bind(cutoff))
        .await?;
    let b = db
        .exec(Q::new("DELETE FROM auth_tokens WHERE expires_at < ?").bind(cutoff))
        .await?;
    Ok(a + b)
}

// ------------------------------------------------------------------ single-use tokens

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    MfaChallenge,
    PasswordReset,
    Invite,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::MfaChallenge => "mfa_challenge",
            TokenKind::PasswordReset => "password_reset",
            TokenKind::Invite => "invite",
        }
    }
}

pub async fn create_token(
    db: &Db,
    kind: TokenKind,
    user: UserId,
    hash: &str,
    data: Value,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "INSERT INTO auth_tokens (id, kind, user_id, token_hash, data, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(Uuid::now_v7())
        .bind(kind.as_str())
        .bind(user)
        .bind(hash)
        .bind(data)
        .bind(now + ttl)
        .bind(now),
    )
    .await
    .map(|_| ())
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    user_id: Uuid,
    data: Json<Value>,
}

/// Spends a single-use token: answers its user and data once; afterwards (or when expired,
/// or of another kind) answers `None`.
pub async fn consume_token(
    db: &Db,
    kind: TokenKind,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(UserId, Value)>, StoreError> {
    let row: Option<TokenRow> = db
        .optional(
            Q::new(
                "UPDATE auth_tokens SET used_at = ? WHERE token_hash = ? AND kind = ? AND used_at IS NULL \
                 AND expires_at > ? RETURNING user_id, data",
            )
            .bind(now)
            .bind(hash)
            .bind(kind.as_str())
            .bind(now),
        )
        .await?;
    Ok(row.map(|r| (UserId(r.user_id), r.data.0)))
}

/// Reads a live single-use token without spending it (e.g. to check an MFA code first).
pub async fn peek_token(
    db: &Db,
    kind: TokenKind,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(UserId, Value)>, StoreError> {
    let row: Option<TokenRow> = db
        .optional(
            Q::new(
                "SELECT user_id, data FROM auth_tokens WHERE token_hash = ? AND kind = ? AND used_at IS NULL \
                 AND expires_at > ?",
            )
            .bind(hash)
            .bind(kind.as_str())
            .bind(now),
        )
        .await?;
    Ok(row.map(|r| (UserId(r.user_id), r.data.0)))
}

/// Voids a user's unspent tokens of one kind (a new reset link replaces the old ones).
pub async fn void_tokens(
    db: &Db,
    kind: TokenKind,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "UPDATE auth_tokens SET used_at = ? WHERE kind = ? AND user_id = ? AND used_at IS NULL",
        )
        .bind(now)
        .bind(kind.as_str())
        .bind(user),
    )
    .await
    .map(|_| ())
}
