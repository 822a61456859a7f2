//! The server's error type and its one mapping to HTTP: not found → 404, conflict → 409,
//! validation → 400/422 naming the field, auth → 401/403, throttled → 429, anything
//! unexpected → a logged 500 whose body says nothing about internals.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use breeze_core::validate::ValidationError;
use breeze_proto::api::{ErrorBody, ErrorDetail};
use breeze_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("{message}")]
    Validation { field: String, message: String },
    /// A query string that does not parse: 422 `invalid_query`, the parameter named when
    /// it can be told.
    #[error("{message}")]
    InvalidQuery {
        field: Option<String>,
        message: String,
    },
    #[error("authentication required")]
    Unauthorized(String),
    #[error("forbidden")]
    Forbidden(String),
    /// The partner requires two-factor authentication and this user has not set it up.
    #[error("two-factor authentication must be set up first")]
    MfaEnrollmentRequired,
    #[error("not found")]
    NotFound,
    /// The object existed and is gone for good (a decommissioned device's agent).
    #[error("gone")]
    Gone(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A state of the object or its tenant refuses the request, with a code of its own
    /// (`device_quarantined` 409, `device_suspended` 403, `org_suspended` 403,
    /// `device_limit_reached` 409 …) so clients can tell the reasons apart.
    #[error("{code}: {message}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    #[error("too many requests")]
    RateLimited {
        retry_after_secs: u64,
        message: String,
    },
    #[error("request body too large")]
    PayloadTooLarge(String),
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Too many requests of this route class are in flight: 503 `overloaded` with
    /// `Retry-After` (see `crate::overload`).
    #[error("overloaded: {class} requests")]
    Overloaded {
        class: &'static str,
        retry_after_secs: u64,
    },
    /// A server this one talks to on the caller's behalf (e.g. their SMTP server) failed;
    /// the message says how, for the caller to fix their settings.
    #[error("upstream: {message}")]
    BadGateway { code: &'static str, message: String },
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Refused {
            status,
            code,
            message: message.into(),
        }
    }

    /// 403 for a read-only (suspended or churned) organization:
    /// `org_suspended` / `org_churned`.
    pub fn org_read_only(status: &str) -> Self {
        ApiError::refused(
            StatusCode::FORBIDDEN,
            breeze_core::org_status::refusal_code(status).unwrap_or("org_read_only"),
            format!(
                "the organization is {status}: its data is read-only and its agents are refused"
            ),
        )
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(e.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation { .. } | ApiError::InvalidQuery { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::MfaEnrollmentRequired => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Refused { status, .. } => *status,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::Overloaded { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn detail(&self) -> ErrorDetail {
        let (code, message, field) = match self {
            ApiError::BadRequest {
                code,
                message,
                field,
            } => (*code, message.clone(), field.clone()),
            ApiError::Validation { field, message } => {
                ("validation", message.clone(), Some(field.clone()))
            }
            ApiError::InvalidQuery { field, message } => {
                ("invalid_query", message.clone(), field.clone())
            }
            ApiError::Unauthorized(m) => ("unauthorized", m.clone(), None),
            ApiError::Forbidden(m) => ("forbidden", m.clone(), None),
            ApiError::MfaEnrollmentRequired => (
                "mfa_enrollment_required",
                "your organization requires two-factor authentication: set it up to continue"
                    .to_string(),
                None,
            ),
            ApiError::NotFound => ("not_found", "not found".to_string(), None),
            ApiError::Gone(m) => ("gone", m.clone(), None),
            ApiError::Conflict(m) => ("conflict", m.clone(), None),
            ApiError::Refused { code, message, .. } => (*code, message.clone(), None),
            ApiError::RateLimited { message, .. } => ("rate_limited", message.clone(), None),
            ApiError::PayloadTooLarge(m) => ("payload_too_large", m.clone(), None),
            ApiError::UnsupportedMediaType(m) => ("unsupported_media_type", m.clone(), None),
            ApiError::Unavailable(m) => ("unavailable", m.clone(), None),
            ApiError::Overloaded {
                class,
                retry_after_secs,
            } => (
                "overloaded",
                format!(
                    "the server is busy with {class} requests: try again in {retry_after_secs} s"
                ),
                None,
            ),
            ApiError::BadGateway { code, message } => (*code, message.clone(), None),
            ApiError::Internal(_) => ("internal", "internal server error".to_string(), None),
        };
        ErrorDetail {
            code: code.to_string(),
            message,
            field,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = format!("{e:#}"), "internal error");
        }
        let status = self.status();
        let retry = match &self {
            ApiError::RateLimited {
                retry_after_secs, ..
            }
            | ApiError::Overloaded {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let detail = self.detail();
        let mut resp = (
            status,
            axum::Json(ErrorBody {
                error: detail.clone(),
            }),
        )
            .into_response();
        // The audit middleware records why a mutating request failed.
        resp.extensions_mut().insert(detail);
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert("retry-after", v);
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid { field, message } => ApiError::Validation { field, message },
            e @ (StoreError::Config(_) | StoreError::Corrupt(_) | StoreError::Database(_)) => {
                ApiError::Internal(e.into())
            }
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::Validation {
            field: e.field,
            message: e.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_store_error_maps_to_the_right_status() {
        let cases = [
            (StoreError::NotFound, StatusCode::NOT_FOUND),
            (StoreError::Conflict("x".into()), StatusCode::CONFLICT),
            (
                StoreError::invalid("f", "bad"),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                StoreError::Config("x".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                StoreError::Corrupt("x".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                StoreError::Database(sqlx::Error::PoolTimedOut),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(ApiError::from(e).status(), status);
        }
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let e = ApiError::internal(anyhow::anyhow!("password=hunter2 at db.rs:42"));
        assert_eq!(e.detail().message, "internal server error");
        let v = ApiError::validation("email", "must be an e-mail address");
        assert_eq!(v.detail().field.as_deref(), Some("email"));
    }

    #[test]
    fn mfa_enrollment_and_upstream_failures_have_their_own_codes() {
        let m = ApiError::MfaEnrollmentRequired;
        assert_eq!(m.status(), StatusCode::FORBIDDEN);
        assert_eq!(m.detail().code, "mfa_enrollment_required");
        let g = ApiError::BadGateway {
            code: "smtp_failed",
            message: "connection refused".into(),
        };
        assert_eq!(g.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(g.detail().code, "smtp_failed");
        assert_eq!(g.detail().message, "connection refused");
    }

    #[test]
    fn overload_answers_503_overloaded_with_retry_after() {
        let e = ApiError::Overloaded {
            class: "agent",
            retry_after_secs: 7,
        };
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.detail().code, "overloaded");
        let resp = e.into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            resp.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"7"[..])
        );
    }
}
