//! The site's error rendering (the HTML error page) and the one place every error
//! response gets the rendering its audience reads: [`render_for_audience`] answers a
//! page with the HTML page and the API with the JSON envelope, whoever produced the
//! error (a handler, an extractor, axum's router, tower-http's limits). Also the 404
//! fallback and the panic handler.

use std::any::Any;

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, Audience, PageError, PublicError};

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

/// The HTML error page for an error, marked as rendered for the site.
fn page(mut public: PublicError) -> Response {
    let status = public.status;
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        message: &public.message,
    };
    let mut response = super::render_with_status(status, &page);
    public.audience = Some(Audience::Site);
    response.extensions_mut().insert(public);
    response
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        self.0.headers(&mut headers);
        let mut response = page(self.0.into_public(Some(Audience::Site)));
        response.headers_mut().extend(headers);
        response
    }
}

/// Fallback for unknown URLs: a 404 in the rendering of the URL's audience.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

/// Turns a panic into a 500 for [`render_for_audience`]; the panic message goes to the log only.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(non-string panic payload)");
    tracing::error!(panic = detail, "request handler panicked");
    AppError::Panic.into_response()
}

/// Middleware: every error response (4xx, 5xx) leaves in the rendering of its URL's
/// [`Audience`]: the HTML error page for the site, the JSON envelope for the API.
/// An error already rendered for that audience passes untouched; one rendered for the
/// other (a `Query` rejection on a page) or not rendered yet ([`AppError`] as a
/// response) is rendered from its [`PublicError`]; plain text or an empty body from
/// the HTTP layers (405, 413, 415, axum's rejections) becomes an [`AppError::Http`]
/// carrying what it said. Status and headers (`Retry-After`, `Allow`) are kept.
/// A body some handler chose deliberately (JSON on the API, HTML on the site: a
/// replayed idempotent answer, say) is left as it is.
pub async fn render_for_audience(request: Request, next: Next) -> Response {
    let audience = Audience::of(request.uri().path());
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let public = match response.extensions().get::<PublicError>() {
        Some(public) if public.audience == Some(audience) => return response,
        Some(public) => public.clone(),
        None if !is_plain_or_empty(response.headers()) => return response,
        None => {
            let (parts, body) = response.into_parts();
            // Our layers' refusals are a sentence or two; anything longer is not one of them.
            let said = axum::body::to_bytes(body, 4096).await.ok();
            let said = said.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            let error = layer_error(status, &method, &parts.headers, said.trim());
            let response = Response::from_parts(parts, axum::body::Body::empty());
            return rerender(response, error.into_public(None), audience);
        }
    };
    rerender(response, public, audience)
}

/// `response`'s status and headers with `public` rendered for `audience` as its body.
fn rerender(response: Response, public: PublicError, audience: Audience) -> Response {
    let (parts, _) = response.into_parts();
    let mut rendered = match audience {
        Audience::Site => page(public),
        Audience::Api => public.json(),
    };
    *rendered.status_mut() = parts.status;
    let body_headers = [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::CONTENT_ENCODING, header::CACHE_CONTROL];
    let mut kept = parts.headers;
    for name in &body_headers {
        kept.remove(name);
    }
    for name in rendered.headers().keys() {
        kept.remove(name);
    }
    rendered.headers_mut().extend(kept);
    rendered
}

/// Whether a response's body is plain text or absent: what axum and tower-http answer with.
fn is_plain_or_empty(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()) {
        None => true,
        Some(content_type) => content_type.starts_with("text/plain"),
    }
}

/// An error response from the HTTP layers, as an [`AppError`].
fn layer_error(status: StatusCode, method: &Method, headers: &HeaderMap, said: &str) -> AppError {
    match status {
        StatusCode::NOT_FOUND => AppError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = headers.get(header::ALLOW).and_then(|value| value.to_str().ok()).unwrap_or("");
            let allowed = allowed.split(',').map(str::trim).filter(|m| !m.is_empty()).collect::<Vec<_>>();
            AppError::MethodNotAllowed(if allowed.is_empty() {
                format!("This address does not answer {method} requests.")
            } else {
                format!("This address does not answer {method} requests; it answers {}.", allowed.join(", "))
            })
        }
        status => {
            let message = if said.is_empty() {
                match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "The request body is larger than this server accepts.".to_owned(),
                    StatusCode::SERVICE_UNAVAILABLE => "The service is unavailable; please try again later.".to_owned(),
                    status if status.is_server_error() => {
                        "Something went wrong on our side. It has been logged; please try again later.".to_owned()
                    }
                    status => status.canonical_reason().unwrap_or("The request was refused.").to_owned(),
                }
            } else {
                said.to_owned()
            };
            AppError::Http { status, message }
        }
    }
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

#[cfg(test)]
mod audience_tests;
