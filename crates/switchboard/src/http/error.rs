//! The one table from errors to HTTP statuses and API.md's JSON error shape.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::services::ServiceError;

/// `{"error": {"code": "...", "message": "..."}}`
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// snake_case code, e.g. `invalid_request`, `not_found`.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
    /// The request field at fault, for `invalid_request`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For an input with several problems: each one, at its JSON pointer (`/input/channel`),
    /// with the candidates of a name that matched several items or none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub details: Option<Vec<crate::services::InputProblem>>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_s: Option<u64>,
    pub details: Option<Vec<crate::services::InputProblem>>,
    /// More response headers (a rate limit's `RateLimit` fields); boxed, as errors travel far.
    pub headers: Option<Box<Vec<(HeaderName, HeaderValue)>>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None, retry_after_s: None, details: None, headers: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the {limit}-byte limit (setting SWITCHBOARD_MAX_BODY_BYTES)"),
        )
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use ServiceError as E;
        match e {
            E::Invalid { field, message } => Self { field: Some(field), ..Self::bad_request(message) },
            E::InvalidInput { message, problems } => Self { details: Some(problems), ..Self::bad_request(message) },
            E::Unauthenticated(m) => Self::unauthenticated(m),
            E::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, "forbidden", m),
            E::NotFound(m) => Self::not_found(m),
            E::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            E::InvalidCredentials(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_credentials", m),
            E::NeedsReauth(m) => Self::new(StatusCode::CONFLICT, "needs_reauth", m),
            E::InsufficientScope { message, .. } => Self::new(StatusCode::FORBIDDEN, "insufficient_scope", message),
            E::RateLimited { message, retry_after_s } => {
                Self { retry_after_s, ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message) }
            }
            E::Provider(m) | E::ProviderUncertain(m) => Self::new(StatusCode::BAD_GATEWAY, "provider_error", m),
            E::ProviderRefused(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "provider_refused", m),
            E::TooLarge(m) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", m),
            E::Unavailable(m) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
            E::Internal(detail) => {
                // The cause goes to the log; the caller gets an opaque message.
                tracing::error!(error = %detail, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "something went wrong on our side; it has been logged (quote the x-request-id header when reporting it)",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let headers = self.headers;
        let body = ErrorBody {
            error: ErrorDetail { code: self.code, message: self.message, field: self.field, details: self.details },
        };
        let mut res = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(s) = self.retry_after_s
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        for (name, value) in headers.into_iter().flat_map(|h| *h) {
            res.headers_mut().insert(name, value);
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
