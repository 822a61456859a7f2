//! Pieces every route module uses: list options, 404/panic answers.

use crate::error::ApiError;
use axum::response::{IntoResponse, Response};
use breeze_proto::api::{ListParams, Page};
use breeze_store::listing::ListOpts;

pub fn list_opts(p: &ListParams) -> Result<ListOpts, ApiError> {
    Ok(ListOpts::parse(
        p.limit,
        p.cursor.as_deref(),
        p.sort.as_deref(),
        p.q.as_deref(),
    )?)
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
