//! Pieces every route module uses: list options, 404/panic answers.

use crate::auth::principal::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use axum::response::{IntoResponse, Response};
use breeze_proto::api::{ListParams, Organization, Page};
use breeze_proto::ids::OrgId;
use breeze_store::listing::ListOpts;

pub fn list_opts(p: &ListParams) -> Result<ListOpts, ApiError> {
    Ok(ListOpts::parse(
        p.limit,
        p.cursor.as_deref(),
        p.sort.as_deref(),
        p.q.as_deref(),
    )?)
}

/// List options of a list with no sort choice (`limit`, `cursor`, `q`).
pub fn unsorted_list_opts(
    limit: Option<u32>,
    cursor: Option<String>,
    q: Option<String>,
) -> Result<ListOpts, ApiError> {
    list_opts(&ListParams {
        limit,
        cursor,
        sort: None,
        q,
    })
}

/// The organization a create request names in `org_id`, which the caller must reach and
/// may write to: one out of reach is a 422 naming `org_id`, a read-only (suspended or
/// churned) one the usual refusal.
pub async fn writable_org(
    state: &AppState,
    auth: &Auth,
    org_id: OrgId,
) -> Result<Organization, ApiError> {
    let org = breeze_store::orgs::get(&state.db, &auth.scope, org_id)
        .await
        .map_err(|_| ApiError::validation("org_id", "no such organization"))?;
    auth.writable(org.id)?;
    Ok(org)
}

pub fn page<T>(data: Vec<T>, next_cursor: Option<String>) -> axum::Json<Page<T>> {
    axum::Json(Page { data, next_cursor })
}

pub async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()
}

/// Checks a value against the allowed words of an enum-like field.
pub fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<String, ApiError> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(ApiError::validation(
            field,
            format!("must be one of: {}", allowed.join(", ")),
        ))
    }
}
