//! First-run setup: the first partner and its Partner Admin, created once.

use crate::StoreError;
use crate::db::{Db, Engine, Q};
use crate::partners::{self, NewPartner};
use crate::users::{self, NewUser};
use breeze_core::roles::PARTNER_ADMIN;
use breeze_core::scope::OrgAccess;
use breeze_proto::ids::{PartnerId, RoleId, UserId};
use chrono::{DateTime, Utc};

#[derive(sqlx::FromRow)]
struct N {
    n: i64,
}

/// Creates the first partner and its admin, atomically, only while no user exists.
pub async fn create_first_admin(
    db: &Db,
    partner: &NewPartner<'_>,
    admin: &NewUser<'_>,
    now: DateTime<Utc>,
) -> Result<(PartnerId, UserId), StoreError> {
    let mut tx = db.begin().await?;
    if tx.engine() == Engine::Postgres {
        tx.exec(Q::new("SELECT pg_advisory_xact_lock(7311047)"))
            .await?;
    }
    let n: N = tx.one(Q::new("SELECT COUNT(*) AS n FROM users")).await?;
    if n.n > 0 {
        return Err(StoreError::Conflict(
            "setup has already been completed".into(),
        ));
    }
    let pid = partners::insert(&mut tx, partner, now).await?;
    let uid = users::insert(&mut tx, admin, now).await?;
    users::add_partner_member(
        &mut tx,
        pid,
        uid,
        RoleId(PARTNER_ADMIN),
        &OrgAccess::All,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((pid, uid))
}
