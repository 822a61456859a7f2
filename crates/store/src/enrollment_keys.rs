//! Site enrollment keys: the secret is shown once and stored as its SHA-256; a key
//! allows enrollments until it expires, is revoked or reaches `max_uses`.

use crate::StoreError;
use crate::db::{Db, Engine, Q};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_proto::api;
use breeze_proto::ids::{EnrollmentKeyId, OrgId, SiteId, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    org_id: Uuid,
    site_id: Uuid,
    name: String,
    key_prefix: String,
    max_uses: Option<i64>,
    uses: i64,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl From<KeyRow> for api::EnrollmentKey {
    fn from(r: KeyRow) -> Self {
        api::EnrollmentKey {
            id: EnrollmentKeyId(r.id),
            org_id: OrgId(r.org_id),
            site_id: SiteId(r.site_id),
            name: r.name,
            key_prefix: r.key_prefix,
            max_uses: r.max_uses,
            uses: r.uses,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            created_by: r.created_by.map(UserId),
            created_at: r.created_at,
        }
    }
}

const COLS: &str = "SELECT k.id, k.org_id, k.site_id, k.name, k.key_prefix, k.max_uses, k.uses, \
    k.expires_at, k.revoked_at, k.created_by, k.created_at FROM enrollment_keys k \
    JOIN organizations o ON o.id = k.org_id WHERE o.deleted_at IS NULL";

fn scoped(q: &mut Q, scope: &Scope) {
    tenancy::sites_in_scope(q, scope, "o.partner_id", "o.id", "k.site_id", false);
}

pub struct NewKey<'a> {
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub name: &'a str,
    pub key_hash: &'a str,
    pub key_prefix: &'a str,
    pub max_uses: Option<i64>,
    pub expires_at: DateTime<Utc>,
    pub created_by: Option<UserId>,
}

/// Creates a key; the caller fetched the site through its scope.
pub async fn create(
    db: &Db,
    k: &NewKey<'_>,
    now: DateTime<Utc>,
) -> Result<EnrollmentKeyId, StoreError> {
    let id = EnrollmentKeyId::new();
    db.exec(
        Q::new(
            "INSERT INTO enrollment_keys (id, org_id, site_id, name, key_hash, key_prefix, max_uses, uses, expires_at, revoked_at, created_by, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, ?, ?)",
        )
        .bind(id)
        .bind(k.org_id)
        .bind(k.site_id)
        .bind(k.name)
        .bind(k.key_hash)
        .bind(k.key_prefix)
        .bind(k.max_uses)
        .bind(k.expires_at)
        .bind(k.created_by)
        .bind(now),
    )
    .await?;
    Ok(id)
}

pub async fn get(
    db: &Db,
    scope: &Scope,
    id: EnrollmentKeyId,
) -> Result<api::EnrollmentKey, StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND k.id = ").push_bind(id);
    db.one::<KeyRow>(q).await.map(Into::into)
}

pub async fn list(
    db: &Db,
    scope: &Scope,
    org: Option<OrgId>,
    site: Option<SiteId>,
    opts: &ListOpts,
) -> Result<(Vec<api::EnrollmentKey>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    if let Some(o) = org {
        q.push(" AND k.org_id = ").push_bind(o);
    }
    if let Some(s) = site {
        q.push(" AND k.site_id = ").push_bind(s);
    }
    opts.finish(&mut q, &[], "k.created_at DESC, k.id")?;
    let rows: Vec<KeyRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

pub async fn revoke(
    db: &Db,
    scope: &Scope,
    id: EnrollmentKeyId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    get(db, scope, id).await?;
    db.exec(
        Q::new("UPDATE enrollment_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
            .bind(now)
            .bind(id),
    )
    .await?;
    Ok(())
}

/// What a valid key allows.
pub struct UsableKey {
    pub id: EnrollmentKeyId,
    pub org_id: OrgId,
    pub site_id: SiteId,
    /// Whether the key has `max_uses`: a use is then reserved before the enrollment
    /// ([`reserve_uses`]) and given back if it fails ([`refund_use`]); an unlimited key's
    /// uses are only counted ([`add_uses`]).
    pub limited: bool,
}

#[derive(sqlx::FromRow)]
struct Usable {
    id: Uuid,
    org_id: Uuid,
    site_id: Uuid,
    max_uses: Option<i64>,
}

/// Agent enrollment (no user scope: the key is the credential): the valid key with this
/// hash. `None` when the key is unknown, revoked, expired or used up. Reads without a
/// lock: a limited key's use is then reserved by [`reserve_uses`].
pub async fn usable_for_agent(
    db: &Db,
    key_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<UsableKey>, StoreError> {
    let k: Option<Usable> = db
        .optional(
            Q::new(
                "SELECT id, org_id, site_id, max_uses FROM enrollment_keys WHERE key_hash = ? AND revoked_at IS NULL \
                 AND expires_at > ? AND (max_uses IS NULL OR uses < max_uses)",
            )
            .bind(key_hash)
            .bind(now),
        )
        .await?;
    Ok(k.map(|k| UsableKey {
        id: EnrollmentKeyId(k.id),
        org_id: OrgId(k.org_id),
        site_id: SiteId(k.site_id),
        limited: k.max_uses.is_some(),
    }))
}

/// Adds counted uses of unlimited keys (the server coalesces them: a fleet enrolling
/// with one key would otherwise queue on its row, each enrollment holding the row's lock
/// through its commit).
pub async fn add_uses(db: &Db, uses: &[(EnrollmentKeyId, i64)]) -> Result<(), StoreError> {
    for (key, n) in uses {
        db.exec(
            Q::new("UPDATE enrollment_keys SET uses = uses + ? WHERE id = ?")
                .bind(*n)
                .bind(*key),
        )
        .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Budget {
    uses: i64,
    max_uses: i64,
}

/// Reserves up to `wanted` uses of a limited key, in one short transaction: how many it
/// got, 0 when the key is revoked, expired, used up or unlimited. `max_uses` is never
/// exceeded: the uses left are read and taken under the row's lock.
///
/// The server reserves the uses of concurrent enrollments with one key in one call, before
/// their enrollment transactions, which then do not touch the key's row (issue 14: with
/// the use taken inside each enrollment transaction, every enrollment with the key held
/// the row's lock through its commit, and a fleet enrolled at one commit's pace).
pub async fn reserve_uses(
    db: &Db,
    key: EnrollmentKeyId,
    wanted: i64,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    if wanted <= 0 {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let mut q = Q::new(
        "SELECT uses, max_uses FROM enrollment_keys WHERE id = ? AND revoked_at IS NULL \
         AND expires_at > ? AND max_uses IS NOT NULL",
    )
    .bind(key)
    .bind(now);
    // SQLite's `BEGIN IMMEDIATE` already holds the database's write lock.
    if tx.engine() == Engine::Postgres {
        q.push(" FOR UPDATE");
    }
    let budget: Option<Budget> = tx.optional(q).await?;
    let granted = budget.map_or(0, |b| (b.max_uses - b.uses).clamp(0, wanted));
    if granted > 0 {
        tx.exec(
            Q::new("UPDATE enrollment_keys SET uses = uses + ? WHERE id = ?")
                .bind(granted)
                .bind(key),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(granted)
}

/// Gives back a reserved use whose enrollment did not happen (refused, failed, or its
/// request went away).
pub async fn refund_use(db: &Db, key: EnrollmentKeyId) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE enrollment_keys SET uses = uses - 1 WHERE id = ? AND uses > 0").bind(key),
    )
    .await?;
    Ok(())
}
