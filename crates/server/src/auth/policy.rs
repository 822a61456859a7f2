//! The session policy a user's sign-in runs under: their partner's (console Settings) where
//! it sets something, the server's `[auth]` configuration elsewhere.

use crate::config::AuthConfig;
use crate::error::ApiResult;
use crate::state::AppState;
use breeze_core::settings::{LifetimeDefaults, Lifetimes};
use breeze_proto::ids::{PartnerId, UserId};
use breeze_store::{Db, StoreError, partner_settings, users};

/// The server's configured lifetimes.
pub fn defaults(c: &AuthConfig) -> LifetimeDefaults {
    LifetimeDefaults {
        access_ttl_secs: c.access_ttl_secs,
        refresh_ttl_days: c.refresh_ttl_days,
    }
}

/// The partner a user belongs to (as staff or through an organization); `None` for
/// platform operators.
pub async fn partner_of(db: &Db, user: UserId) -> Result<Option<PartnerId>, StoreError> {
    Ok(users::membership(db, user).await?.map(|m| match m {
        users::Membership::Partner { partner_id, .. }
        | users::Membership::Organization { partner_id, .. } => partner_id,
    }))
}

/// The token lifetimes of a new sign-in (or refresh) of `user`.
pub async fn lifetimes_for(state: &AppState, user: UserId) -> ApiResult<Lifetimes> {
    let policy = match partner_of(&state.db, user).await? {
        Some(p) => partner_settings::get_for_auth(&state.db, p).await?.session,
        None => Default::default(),
    };
    Ok(policy.lifetimes(defaults(&state.config.auth)))
}
