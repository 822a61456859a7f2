//! Resolves a request, once, into who is asking ([`Principal`]) and what they may reach
//! ([`Scope`]). Handlers take `Auth` as an argument; without a valid bearer token the
//! request answers 401 before the handler runs.
//!
//! A user whose partner requires two-factor authentication and who has not set it up yet
//! gets 403 `mfa_enrollment_required` from `Auth`; only the handlers that let them enrol
//! (or sign out, or see who they are) take [`EnrollingAuth`] instead.

use crate::audit::AuditSlot;
use crate::auth::tokens;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use breeze_core::Scope;
use breeze_core::permissions::{Action, Resource};
use breeze_proto::ids::{OrgId, SessionId, UserId};
use breeze_store::users::{Membership, UserRow};
use breeze_store::{orgs, partner_settings, sessions, users};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Who is asking. API keys and agents join with later issues.
#[derive(Clone, Debug)]
pub enum Principal {
    User { user: UserRow, session: SessionId },
}

/// An authenticated request.
#[derive(Clone, Debug)]
pub struct Auth {
    pub principal: Principal,
    pub scope: Scope,
    pub membership: Option<Membership>,
    /// When the credential stops working (the access token's expiry).
    pub expires_at: DateTime<Utc>,
    /// The partner requires MFA and this user has not set it up.
    pub mfa_enrollment_required: bool,
    /// Organizations of the caller's partner that are `suspended` or `churned`, with
    /// that status: their data is read-only (see [`Auth::require`], [`Auth::writable`]).
    pub read_only_orgs: BTreeMap<OrgId, String>,
}

/// An authenticated request that may come from a user who still has to set up the MFA
/// their partner requires: for `/auth/me`, `/auth/mfa/*` and `/auth/logout` only.
#[derive(Clone, Debug)]
pub struct EnrollingAuth(pub Auth);

impl Auth {
    pub fn user(&self) -> &UserRow {
        match &self.principal {
            Principal::User { user, .. } => user,
        }
    }

    pub fn user_id(&self) -> UserId {
        self.user().id()
    }

    pub fn session(&self) -> SessionId {
        match &self.principal {
            Principal::User { session, .. } => *session,
        }
    }

    /// 403 unless the scope holds the permission. (Objects outside the scope never get
    /// here: the store answers 404 for them.) A user of a suspended or churned
    /// organization may read only: anything else answers 403 `org_suspended` /
    /// `org_churned`. Partner staff reach several organizations; the handlers that act
    /// on one call [`Auth::writable`] with it.
    pub fn require(&self, resource: Resource, action: Action) -> Result<(), ApiError> {
        if !self.scope.allows(resource, action) {
            return Err(ApiError::Forbidden(format!(
                "this needs the {}:{} permission",
                resource, action
            )));
        }
        match self.scope.own_org() {
            Some(org) if action != Action::Read => self.writable(org),
            _ => Ok(()),
        }
    }

    /// 403 `org_suspended` / `org_churned` when `org` is read-only: its devices,
    /// sites, groups, enrollment keys and scripts take no change and run nothing. (The
    /// organization record itself stays editable by partner staff, so that its status
    /// can be set back.)
    pub fn writable(&self, org: OrgId) -> Result<(), ApiError> {
        match self.read_only_orgs.get(&org) {
            Some(status) => Err(ApiError::org_read_only(status)),
            None => Ok(()),
        }
    }

    /// [`Auth::require`], then [`Auth::writable`] for `org`.
    pub fn require_in(
        &self,
        resource: Resource,
        action: Action,
        org: OrgId,
    ) -> Result<(), ApiError> {
        self.require(resource, action)?;
        self.writable(org)
    }

    /// Resolves an access token, by its hash, into the caller: the live session, an
    /// active account, and the scope as the account's memberships give it *now*. The
    /// extractor runs it once per request; a long-lived response (the event stream) runs
    /// it again to notice logouts, disabled accounts and changed roles.
    pub async fn resolve(state: &AppState, token_hash: &str) -> Result<Auth, ApiError> {
        let now = state.now();
        let session = sessions::by_access_hash(&state.db, token_hash, now)
            .await?
            .ok_or_else(|| {
                ApiError::Unauthorized("the access token is invalid or expired".into())
            })?;
        let user = users::by_id_for_auth(&state.db, UserId(session.user_id))
            .await
            .map_err(|e| match e {
                breeze_store::StoreError::NotFound => {
                    ApiError::Unauthorized("the account no longer exists".into())
                }
                e => e.into(),
            })?;
        if user.status != "active" {
            return Err(ApiError::Unauthorized("the account is disabled".into()));
        }
        let (scope, membership) = users::resolve_scope(&state.db, &user).await?;
        // Users with MFA (most requests, once a partner requires it) skip the lookup.
        let mfa_enrollment_required = match scope.partner_id {
            Some(p) if !user.mfa_enabled => {
                partner_settings::require_mfa_for_auth(&state.db, p).await?
            }
            _ => false,
        };
        let read_only_orgs = match scope.partner_id {
            Some(p) => orgs::read_only_for_auth(&state.db, p)
                .await?
                .into_iter()
                .collect(),
            None => BTreeMap::new(),
        };
        let auth = Auth {
            principal: Principal::User {
                user,
                session: SessionId(session.id),
            },
            scope,
            membership,
            expires_at: session.expires_at,
            mfa_enrollment_required,
            read_only_orgs,
        };
        Ok(auth)
    }
}

/// The bearer token's caller (any MFA standing), recorded as the request's audit actor.
async fn from_parts(parts: &mut Parts, state: &AppState) -> Result<Auth, ApiError> {
    let token = bearer(&parts.headers)
        .ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))?;
    if !token.starts_with(tokens::ACCESS) {
        return Err(ApiError::Unauthorized("not an access token".into()));
    }
    let auth = Auth::resolve(state, &tokens::hash(token)).await?;
    if let Some(slot) = parts.extensions.get::<AuditSlot>() {
        slot.set_actor(&auth);
    }
    Ok(auth)
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// `Option<Auth>`: `None` without an `Authorization` header; a bad token is still a 401.
impl axum::extract::OptionalFromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.contains_key(AUTHORIZATION) {
            <Auth as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}

/// `Option<EnrollingAuth>`: `None` without an `Authorization` header; a bad token is
/// still a 401.
impl axum::extract::OptionalFromRequestParts<AppState> for EnrollingAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.contains_key(AUTHORIZATION) {
            from_parts(parts, state)
                .await
                .map(|a| Some(EnrollingAuth(a)))
        } else {
            Ok(None)
        }
    }
}

impl FromRequestParts<AppState> for EnrollingAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        from_parts(parts, state).await.map(EnrollingAuth)
    }
}

/// Every endpoint but the MFA enrolment ones: a user who must still set up MFA is refused.
impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = from_parts(parts, state).await?;
        if auth.mfa_enrollment_required {
            return Err(ApiError::MfaEnrollmentRequired);
        }
        Ok(auth)
    }
}
