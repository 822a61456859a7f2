//! Job leases (issue 13, used by issue 14's scale-out): a row per periodic job holding who
//! runs it until when, so with several replicas on one PostgreSQL database each periodic
//! job runs on one of them at a time, and another takes over once the holder stops
//! renewing (it died) and the lease expires.
//!
//! Taking or renewing a lease is one conditional upsert, atomic on both engines (see
//! [`try_acquire`]).

use crate::StoreError;
use crate::db::{Db, Q};
use chrono::{DateTime, Duration, Utc};

#[derive(sqlx::FromRow)]
struct LeaseRow {
    holder: String,
    expires_at: DateTime<Utc>,
}

/// Takes or renews the lease `name` for `holder` until `now + ttl`. True when `holder` now
/// holds it: it was free, expired, or already `holder`'s.
pub async fn try_acquire(
    db: &Db,
    name: &str,
    holder: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let until = now + ttl;
    // One statement on both engines: PostgreSQL's `ON CONFLICT … DO UPDATE … WHERE` locks
    // the row (waiting for a concurrent taker) and re-checks the condition on its latest
    // version, so exactly one of two replicas racing for a free lease gets it, and the
    // holder renewing at the same instant as another replica's attempt is never turned
    // away. (The `SELECT … FOR UPDATE SKIP LOCKED` this replaced skipped the row while
    // the other replica looked at it: the holder then skipped its own period, and nobody
    // ran it.)
    let n = db
        .exec(
            Q::new(
                "INSERT INTO job_leases (name, holder, expires_at, acquired_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at, \
                 acquired_at = CASE WHEN job_leases.holder = excluded.holder \
                 THEN job_leases.acquired_at ELSE excluded.acquired_at END \
                 WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= ?",
            )
            .bind(name)
            .bind(holder)
            .bind(until)
            .bind(now)
            .bind(now),
        )
        .await?;
    Ok(n > 0)
}

/// Gives the lease up (on shutdown), so another replica need not wait for it to expire.
/// The row stays (with no holder, expired at `now`): its `last_period` must survive, or
/// the next holder could run the period this one just ran.
pub async fn release(
    db: &Db,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE job_leases SET holder = '', expires_at = ? WHERE name = ? AND holder = ?")
            .bind(now)
            .bind(name)
            .bind(holder),
    )
    .await?;
    Ok(())
}

/// Claims `period` of the job `name` for `holder`, who must hold its lease: true when
/// the period was not claimed before (by anyone), so the job runs for it now. Periods
/// only move forward, so a lease that changes hands at a period boundary, or a holder
/// that ticks twice in one period, runs no period twice.
pub async fn claim_period(
    db: &Db,
    name: &str,
    holder: &str,
    period: i64,
) -> Result<bool, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE job_leases SET last_period = ? WHERE name = ? AND holder = ? \
                 AND (last_period IS NULL OR last_period < ?)",
            )
            .bind(period)
            .bind(name)
            .bind(holder)
            .bind(period),
        )
        .await?;
    Ok(n > 0)
}

/// The last period of the job `name` that was claimed, if any.
pub async fn last_period(db: &Db, name: &str) -> Result<Option<i64>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct P {
        last_period: Option<i64>,
    }
    let row: Option<P> = db
        .optional(Q::new("SELECT last_period FROM job_leases WHERE name = ?").bind(name))
        .await?;
    Ok(row.and_then(|r| r.last_period))
}

/// Who holds the lease `name` and until when, if anyone took it.
pub async fn holder(db: &Db, name: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
    let row: Option<LeaseRow> = db
        .optional(Q::new("SELECT holder, expires_at FROM job_leases WHERE name = ?").bind(name))
        .await?;
    Ok(row.map(|r| (r.holder, r.expires_at)))
}
