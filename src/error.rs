//! One error vocabulary for everything a request can fail with ([`AppError`]), the
//! audience each URL speaks to ([`Audience`]), and the API's rendering: the JSON
//! envelope ([`ApiError`]). The site's rendering, the HTML error page, is
//! `crate::web::errors`, which also renders every error response for its audience
//! whoever produced it. Internal causes are logged once here and never shown.

use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use gatelog_core::api::ErrorDetail;

/// Who reads the answer at a URL: people (an HTML page) or programs (the JSON envelope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Pages, feeds, exports and static files.
    Site,
    /// `/api/`, the tlog-tiles read API at the root (`/checkpoint`, `/tile/`), the health
    /// probes and the dataset exports (`/data/{file}`): what programs read, whose errors
    /// have always been the envelope.
    Api,
}

impl Audience {
    /// The audience of a request path.
    pub fn of(path: &str) -> Self {
        let api = path.starts_with("/api/")
            || path == "/checkpoint"
            || path.starts_with("/checkpoint/")
            || path.starts_with("/tile/")
            || path == "/healthz"
            || path == "/readyz"
            || path.strip_prefix("/data/").is_some_and(is_export);
        if api { Self::Api } else { Self::Site }
    }
}

/// Whether `/data/{file}` is the export route's (`crate::web::data::export`), not the
/// dictionary page or the snapshot archive's directory.
fn is_export(file: &str) -> bool {
    !file.is_empty() && !file.contains('/') && file != "dictionary" && file != "snapshots"
}

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
    /// Too many requests from this client address (`crate::api::per_ip`); retry after this many seconds.
    #[error("too many requests from your address; retry after {0} s")]
    AddressRateLimited(u64),
    /// The URL exists but not for this method; the message names the ones it takes.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The database is down or unready.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Every request slot is taken (`crate::routes::shed_when_busy`); retry in a second.
    #[error("the server is at capacity; retry in a second")]
    Overloaded,
    /// The request ran past the server's time limit.
    #[error("the request took longer than the server allows; please try again")]
    TimedOut,
    /// A refusal by the HTTP layers (axum's rejections, tower-http's limits) with no variant
    /// of its own: its status and what it said.
    #[error("{message}")]
    Http {
        /// The status the layer answered.
        status: StatusCode,
        /// What it said, or a sentence for its status.
        message: String,
    },
    /// A handler panicked; the panic message is logged, not shown.
    #[error("a request handler panicked")]
    Panic,
    /// A database failure; the cause is logged, not shown.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A template failed to render; logged, not shown.
    #[error("template rendering failed")]
    Render(#[from] askama::Error),
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
            Self::RateLimited(_) | Self::AddressRateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(_) | Self::Overloaded | Self::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
            Self::Http { status, .. } => *status,
            Self::Database(_) | Self::Render(_) | Self::Panic => StatusCode::INTERNAL_SERVER_ERROR,
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
            Self::RateLimited(_) | Self::AddressRateLimited(_) => "rate_limited",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Unavailable(_) | Self::Overloaded | Self::TimedOut => "unavailable",
            Self::Http { status, .. } => match *status {
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                StatusCode::TOO_MANY_REQUESTS => "rate_limited",
                StatusCode::SERVICE_UNAVAILABLE => "unavailable",
                status if status.is_server_error() => "internal",
                _ => "bad_request",
            },
            Self::Database(_) | Self::Render(_) | Self::Panic => "internal",
        }
    }

    /// The message users see: the error itself for their mistakes, a generic
    /// sentence for ours (whose cause goes to the log instead).
    pub fn public_message(&self) -> String {
        match self {
            Self::NotFound => "Nothing is published at this address.".into(),
            Self::Database(_) | Self::Render(_) | Self::Panic => {
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

    /// The headers that go with this error, whichever the audience: `Retry-After` on a
    /// rate limit or at capacity, `WWW-Authenticate` on missing credentials.
    pub(crate) fn headers(&self, headers: &mut HeaderMap) {
        match self {
            Self::RateLimited(seconds) | Self::AddressRateLimited(seconds) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(*seconds));
            }
            Self::Overloaded => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::Unauthorized(_) => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"gatelog\""));
            }
            _ => {}
        }
    }

    /// What either rendering shows, taken once the error is logged.
    pub(crate) fn into_public(self, audience: Option<Audience>) -> PublicError {
        self.log();
        PublicError {
            audience,
            status: self.status(),
            code: self.code(),
            message: self.public_message(),
            details: self.details().to_vec(),
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

/// An [`AppError`] rendered as the site's HTML error page (by `crate::web::errors`).
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

/// An error as either audience may see it, carried in the extensions of every error
/// response our code makes, so `crate::web::errors::render_for_audience` can render it
/// again for the audience of the URL (a `Query` rejection on a page, say).
#[derive(Debug, Clone)]
pub struct PublicError {
    /// The audience it was rendered for; `None` when it has not been rendered yet.
    pub audience: Option<Audience>,
    /// The HTTP status.
    pub status: StatusCode,
    /// The envelope's machine-readable code.
    pub code: &'static str,
    /// For people; never an internal cause.
    pub message: String,
    /// Where exactly, for the envelope.
    pub details: Vec<ErrorDetail>,
}

impl PublicError {
    /// The JSON envelope for this error, marked as rendered for the API.
    pub fn json(mut self) -> Response {
        let body =
            Envelope { error: EnvelopeBody { code: self.code, message: self.message.clone(), details: &self.details } };
        let mut response = (self.status, Json(body)).into_response();
        self.audience = Some(Audience::Api);
        response.extensions_mut().insert(self);
        response
    }
}

/// An error not rendered for an audience yet: its status and headers, and the
/// [`PublicError`] that `crate::web::errors::render_for_audience` renders as the
/// request's audience wants. For code that serves both audiences (middleware, extractors).
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        self.headers(response.headers_mut());
        let public = self.into_public(None);
        response.extensions_mut().insert(public);
        response
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
        let mut headers = HeaderMap::new();
        self.0.headers(&mut headers);
        let mut response = self.0.into_public(Some(Audience::Api)).json();
        response.headers_mut().extend(headers);
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
