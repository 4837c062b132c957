//! The public site: one module per page area, each with its handler, its
//! askama template struct and its tests. [`render`] is the one place a
//! template becomes a response.

pub mod api_docs;
pub mod compare;
pub mod errors;
pub mod feed;
pub mod health;
pub mod home;
pub mod ledger;
pub mod methodology;
pub mod metrics;
pub mod providers;
pub mod snapshot;

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How long browsers and caches may keep a page: short, since new disclosures change pages.
const PAGE_CACHE_CONTROL: &str = "public, max-age=60";

/// Renders a page with status 200.
pub fn render<T: Template>(template: &T) -> Response {
    render_with_status(StatusCode::OK, template)
}

/// Renders a page with the given status; a render failure is logged and becomes a plain 500.
pub fn render_with_status<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => {
            let cache = if status.is_success() { PAGE_CACHE_CONTROL } else { "no-store" };
            let mut response = (status, html).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            response
        }
        Err(error) => {
            tracing::error!(%error, template = std::any::type_name::<T>(), "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error: the page could not be rendered.").into_response()
        }
    }
}
