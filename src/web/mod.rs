//! The public site: one module per page area, each with its handler, its
//! askama template struct and its tests. [`render`] is the one place a
//! template becomes a response.

pub mod api_docs;
pub mod cite;
pub mod compare;
mod compare_charts;
pub mod compliance;
pub mod counterparties;
pub mod data;
pub mod disclosure_words;
pub mod energy;
pub mod errors;
pub mod feed;
pub mod format;
pub mod health;
pub mod home;
pub mod ledger;
pub mod links;
pub mod methodology;
mod metric_charts;
mod metric_rows;
pub mod metrics;
pub mod page_data;
pub mod providers;
pub mod reports;
pub mod scorecard;

use std::io::Write as _;
use std::sync::{Arc, OnceLock};

use askama::Template;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How long browsers and caches may keep a page: short, since new disclosures change pages.
const PAGE_CACHE_CONTROL: &str = "public, max-age=60";

/// A 304 if the client already has this snapshot's version of the page.
pub fn not_modified(headers: &axum::http::HeaderMap, snapshot: &page_data::PageData) -> Option<Response> {
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
pub fn render_snapshot<T: Template>(template: &T, snapshot: &page_data::PageData) -> Response {
    let mut response = render(template);
    if response.status().is_success()
        && let Ok(value) = HeaderValue::from_str(&snapshot.etag())
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// A page already rendered from this snapshot under `key` (its path and query), answered
/// without computing or rendering anything: a repeated view of one checkpoint is a lookup,
/// gzipped once for every client that accepts gzip (see [`KeptPage`]).
pub fn kept(
    headers: &HeaderMap,
    snapshot: &page_data::PageData,
    key: &str,
    content_type: &'static str,
) -> Option<Response> {
    let page = snapshot.memo.get::<KeptPage>(&format!("page:{key}"))?;
    Some(page.response(headers, snapshot, content_type))
}

/// Renders a page computed from a snapshot, with its ETag, and keeps it for [`kept`].
pub fn render_kept<T: Template>(
    template: &T,
    headers: &HeaderMap,
    snapshot: &page_data::PageData,
    key: &str,
) -> Response {
    match template.render() {
        Ok(html) => keep(Bytes::from(html), headers, snapshot, key, "text/html; charset=utf-8"),
        Err(error) => {
            tracing::error!(%error, template = std::any::type_name::<T>(), "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error: the page could not be rendered.").into_response()
        }
    }
}

/// Keeps `body` under `key` for [`kept`] and answers it.
pub fn keep(
    body: Bytes,
    headers: &HeaderMap,
    snapshot: &page_data::PageData,
    key: &str,
    content_type: &'static str,
) -> Response {
    let page = snapshot.memo.put(format!("page:{key}"), Arc::new(KeptPage::new(body)));
    page.response(headers, snapshot, content_type)
}

/// A kept page: its body as rendered and, once a client accepting gzip has asked for it, the
/// same body gzipped. Both forms live in one memo entry, so the memo's bound on entries bounds
/// them together (the gzipped form adds a fraction of the page, never a second entry).
///
/// Without the gzipped form, the router's `CompressionLayer` gzipped the same bytes again on
/// every request: a 1 MB dashboard then ran at a few percent of a static file's rate. The
/// layer leaves a response that already carries `Content-Encoding` alone (tower-http 0.7,
/// `compression/future.rs`: "never recompress responses that are already compressed";
/// `should_compress` is false when the header is present), so a gzipped kept page goes out as is.
pub(crate) struct KeptPage {
    identity: Bytes,
    /// Compressed on the first request that accepts gzip rather than eagerly when kept: the
    /// rendering request usually is that request, so the cost is the same then, and a page
    /// no client takes gzipped (an SVG fetched by a script that sends no Accept-Encoding)
    /// never pays it. Concurrent first requests wait for one compression instead of each
    /// doing their own. `None`: too small to be worth it, or compression failed.
    gzip: OnceLock<Option<Bytes>>,
}

impl KeptPage {
    /// Below this a body goes out as rendered; the `CompressionLayer` may still gzip it per
    /// request, which costs little at this size.
    const MIN_GZIP_BYTES: usize = 1024;

    fn new(identity: Bytes) -> Self {
        Self { identity, gzip: OnceLock::new() }
    }

    /// The gzipped body, compressing it on first use (flate2's default level, as the
    /// `CompressionLayer` used; this runs once per page and checkpoint).
    fn gzip(&self) -> Option<&Bytes> {
        self.gzip
            .get_or_init(|| {
                if self.identity.len() < Self::MIN_GZIP_BYTES {
                    return None;
                }
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(self.identity.len() / 4),
                    flate2::Compression::default(),
                );
                match encoder.write_all(&self.identity).and_then(|()| encoder.finish()) {
                    Ok(gzipped) => Some(Bytes::from(gzipped)),
                    Err(error) => {
                        tracing::error!(%error, "gzipping a kept page failed; it is served uncompressed");
                        None
                    }
                }
            })
            .as_ref()
    }

    /// The page for a request with these headers: gzipped if the client accepts gzip.
    fn response(&self, headers: &HeaderMap, snapshot: &page_data::PageData, content_type: &'static str) -> Response {
        let gzipped = if accepts_gzip(headers) { self.gzip() } else { None };
        let mut response = snapshot_response(gzipped.unwrap_or(&self.identity).clone(), snapshot, content_type);
        let headers = response.headers_mut();
        // Which body is sent depends on Accept-Encoding, whichever one this is (RFC 9110 §12.5.5).
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if gzipped.is_some() {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    }
}

/// Whether the client takes a gzip body (RFC 9110 §12.5.3): `gzip` (or `x-gzip`), or failing
/// that `*`, listed with a q-value above 0 (`gzip;q=0` refuses it) and not below identity's.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut identity, mut any) = (None, None, None);
    let items = headers.get_all(header::ACCEPT_ENCODING).into_iter().filter_map(|v| v.to_str().ok());
    for item in items.flat_map(|v| v.split(',')) {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let weight = parts.map(str::trim).find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")));
        // A malformed weight makes the item unusable; ignore it rather than guess.
        let Some(q) = weight.map_or(Some(1.0), |q| q.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)))
        else {
            continue;
        };
        let slot = if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            &mut gzip
        } else if coding.eq_ignore_ascii_case("identity") {
            &mut identity
        } else if coding == "*" {
            &mut any
        } else {
            continue;
        };
        slot.get_or_insert(q);
    }
    let gzip = gzip.or(any).unwrap_or(0.0);
    // Identity unlisted is acceptable but not preferred: a plain `gzip;q=0.5` still gets gzip.
    let identity = identity.or(any).unwrap_or(0.0);
    gzip > 0.0 && gzip >= identity
}

fn snapshot_response(body: Bytes, snapshot: &page_data::PageData, content_type: &'static str) -> Response {
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
mod kept_tests;
#[cfg(test)]
mod unreadable_tests;
