//! The public site: one module per page area, each with its handler, its
//! askama template struct and its tests. [`render`] is the one place a
//! template becomes a response.

pub mod api_docs;
pub mod cite;
pub mod compare;
pub mod compliance;
pub mod data;
pub mod errors;
pub mod feed;
pub mod health;
pub mod home;
pub mod ledger;
pub mod links;
pub mod methodology;
mod metric_rows;
pub mod metrics;
pub mod providers;
pub mod scorecard;
pub mod snapshot;

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How long browsers and caches may keep a page: short, since new disclosures change pages.
const PAGE_CACHE_CONTROL: &str = "public, max-age=60";

/// A 304 if the client already has this snapshot's version of the page.
pub fn not_modified(headers: &axum::http::HeaderMap, snapshot: &snapshot::Snapshot) -> Option<Response> {
    let etag = snapshot.etag();
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    matches.then(|| {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        response
    })
}

/// Renders a page computed from a snapshot, with its ETag.
pub fn render_snapshot<T: Template>(template: &T, snapshot: &snapshot::Snapshot) -> Response {
    let mut response = render(template);
    if response.status().is_success()
        && let Ok(value) = HeaderValue::from_str(&snapshot.etag())
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// A page already rendered from this snapshot under `key` (its path and query), answered
/// without computing or rendering anything: a repeated view of one checkpoint is a lookup.
pub fn kept(snapshot: &snapshot::Snapshot, key: &str, content_type: &'static str) -> Option<Response> {
    let body = snapshot.memo.get::<axum::body::Bytes>(&format!("page:{key}"))?;
    Some(snapshot_response((*body).clone(), snapshot, content_type))
}

/// Renders a page computed from a snapshot, with its ETag, and keeps it for [`kept`].
pub fn render_kept<T: Template>(template: &T, snapshot: &snapshot::Snapshot, key: &str) -> Response {
    match template.render() {
        Ok(html) => keep(axum::body::Bytes::from(html), snapshot, key, "text/html; charset=utf-8"),
        Err(error) => {
            tracing::error!(%error, template = std::any::type_name::<T>(), "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error: the page could not be rendered.").into_response()
        }
    }
}

/// Keeps `body` under `key` for [`kept`] and answers it.
pub fn keep(body: axum::body::Bytes, snapshot: &snapshot::Snapshot, key: &str, content_type: &'static str) -> Response {
    snapshot.memo.put(format!("page:{key}"), std::sync::Arc::new(body.clone()));
    snapshot_response(body, snapshot, content_type)
}

fn snapshot_response(body: axum::body::Bytes, snapshot: &snapshot::Snapshot, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(PAGE_CACHE_CONTROL));
    if let Ok(value) = HeaderValue::from_str(&snapshot.etag()) {
        headers.insert(header::ETAG, value);
    }
    response
}

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

#[cfg(test)]
mod unreadable_tests;
