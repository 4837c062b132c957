//! One error vocabulary for everything a request can fail with, and its two
//! renderings: an HTML page for the site ([`PageError`]) and the JSON envelope
//! for the API ([`ApiError`]). Internal causes are logged once here and never shown.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// What went wrong while handling a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The URL names nothing.
    #[error("not found")]
    NotFound,
    /// The thing asked for does not exist, and we can say why.
    #[error("{0}")]
    Missing(String),
    /// The request itself is wrong; the details say where.
    #[error("{message}")]
    BadRequest {
        /// Summary for people.
        message: String,
        /// Where exactly (record index, field, reason).
        details: Vec<ErrorDetail>,
    },
    /// No or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request is larger than a documented limit.
    #[error("{0}")]
    TooLarge(String),
    /// The body's content type is not one we take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed, but the records (or the request) are not acceptable; details say where.
    #[error("{message}")]
    Unprocessable {
        /// Summary for people.
        message: String,
        /// Where exactly.
        details: Vec<ErrorDetail>,
    },
    /// The request conflicts with one still in progress (an `Idempotency-Key` in flight).
    #[error("{0}")]
    Conflict(String),
    /// Too many requests for this token; retry after this many seconds.
    #[error("rate limit exceeded for this token; retry after {0} s")]
    RateLimited(u64),
    /// The database is down or unready.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A database failure; the cause is logged, not shown.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A template failed to render; logged, not shown.
    #[error("template rendering failed")]
    Render(#[from] askama::Error),
}

/// One precise complaint about the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Record index (0-based) or line number, when the input is a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The field concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl AppError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound | Self::Missing(_) => StatusCode::NOT_FOUND,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable, machine-readable code for the API envelope.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound | Self::Missing(_) => "not_found",
            Self::BadRequest { .. } => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::TooLarge(_) => "too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unprocessable { .. } => "invalid_records",
            Self::Conflict(_) => "conflict",
            Self::RateLimited(_) => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Database(_) | Self::Render(_) => "internal",
        }
    }

    /// The message users see: the error itself for their mistakes, a generic
    /// sentence for ours (whose cause goes to the log instead).
    pub fn public_message(&self) -> String {
        match self {
            Self::NotFound => "Nothing is published at this address.".into(),
            Self::Database(_) | Self::Render(_) => {
                "Something went wrong on our side. It has been logged; please try again later.".into()
            }
            other => other.to_string(),
        }
    }

    fn details(&self) -> &[ErrorDetail] {
        match self {
            Self::BadRequest { details, .. } | Self::Unprocessable { details, .. } => details,
            _ => &[],
        }
    }

    /// Logs internal causes once, at the boundary.
    fn log(&self) {
        match self {
            Self::Database(source) => {
                tracing::error!(error = %source, "database error while handling a request")
            }
            Self::Render(source) => tracing::error!(error = %source, "template rendering failed"),
            Self::Unavailable(reason) => tracing::warn!(%reason, "service unavailable"),
            _ => {}
        }
    }
}

/// An [`AppError`] rendered as the site's HTML error page.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0.log();
        crate::web::errors::error_page(self.0.status(), &self.0.public_message())
    }
}

/// An [`AppError`] rendered as the API's JSON envelope:
/// `{"error": {"code", "message", "details": [{"index", "field", "reason"}]}}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

/// The envelope every API error comes in (documented in the OpenAPI document as is).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorEnvelope)]
pub(crate) struct Envelope<'a> {
    /// The error.
    error: EnvelopeBody<'a>,
}

/// Inside the envelope.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorBody)]
pub(crate) struct EnvelopeBody<'a> {
    /// Stable machine-readable code, e.g. `invalid_records`.
    code: &'a str,
    /// For people.
    message: String,
    /// Where exactly: record index (JSON) or line (NDJSON, CSV), field, reason.
    details: &'a [ErrorDetail],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let body = Envelope {
            error: EnvelopeBody { code: self.0.code(), message: self.0.public_message(), details: self.0.details() },
        };
        let mut response = (self.0.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        match &self.0 {
            AppError::RateLimited(seconds) => {
                headers.insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(*seconds));
            }
            AppError::Unauthorized(_) => {
                headers.insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer realm=\"gatelog\""),
                );
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_causes_are_not_shown() {
        let error = AppError::Database(sqlx::Error::Protocol("password authentication failed for user x".into()));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.public_message().contains("password"));
    }

    #[tokio::test]
    async fn the_api_envelope_carries_code_message_and_details() {
        let error = ApiError(AppError::BadRequest {
            message: "batch rejected".into(),
            details: vec![ErrorDetail { index: Some(3), field: Some("p50".into()), reason: "must be ≤ p90".into() }],
        });
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(json["error"]["code"], "bad_request");
        assert_eq!(json["error"]["message"], "batch rejected");
        assert_eq!(json["error"]["details"][0]["index"], 3);
        assert_eq!(json["error"]["details"][0]["field"], "p50");
    }
}
