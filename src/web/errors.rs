//! The styled error page, the 404 fallback and the panic handler.

use std::any::Any;

use askama::Template;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, AppError};

/// The HTML error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    /// Numeric status, e.g. 404.
    pub status: u16,
    /// Reason phrase, e.g. "Not Found".
    pub title: &'a str,
    /// What happened, for people.
    pub message: &'a str,
}

/// Renders the error page for a status and message.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage { status: status.as_u16(), title: status.canonical_reason().unwrap_or("Error"), message };
    super::render_with_status(status, &page)
}

/// Fallback for unknown URLs: the JSON envelope under `/api/`, the styled page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError(AppError::NotFound).into_response()
    } else {
        error_page(StatusCode::NOT_FOUND, &AppError::NotFound.public_message())
    }
}

/// Turns a panic into a 500 page; the panic message goes to the log only.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(non-string panic payload)");
    tracing::error!(panic = detail, "request handler panicked");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side. It has been logged; please try again later.",
    )
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn unknown_pages_get_a_styled_404() {
        let app = TestApp::new().await;
        let response = app.get("/no/such/page").await;
        response.assert_status(StatusCode::NOT_FOUND);
        let html = response.html();
        assert_eq!(html.text_of("h1"), "404 Not Found");
        assert_eq!(html.attr_of("link[rel=stylesheet]", "href"), "/static/css/gatelog.css");
        assert!(html.exists("a[href='/']"), "the 404 page links home");
    }

    #[tokio::test]
    async fn unknown_api_urls_get_the_json_envelope() {
        let app = TestApp::new().await;
        let response = app.get("/api/v1/nothing").await;
        response.assert_status(StatusCode::NOT_FOUND);
        assert_eq!(response.json()["error"]["code"], "not_found");
    }

    #[tokio::test]
    async fn missing_static_files_get_the_styled_404() {
        let app = TestApp::new().await;
        let response = app.get("/static/nope.css").await;
        response.assert_status(StatusCode::NOT_FOUND);
        assert_eq!(response.html().text_of("h1"), "404 Not Found");
    }
}
