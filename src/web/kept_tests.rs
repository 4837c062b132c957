//! Kept pages: gzipped once per checkpoint for clients that accept gzip, through the real
//! router (with its `CompressionLayer`), identity for those that refuse it.

use std::io::Read as _;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};

use super::page_data::current;
use super::{KeptPage, accepts_gzip};
use crate::testing::{TestApp, TestResponse};

/// A GET with this Accept-Encoding (none if `None`).
async fn get_encoded(app: &TestApp, uri: &str, accept_encoding: Option<&str>) -> TestResponse {
    let mut request = Request::get(uri);
    if let Some(value) = accept_encoding {
        request = request.header(header::ACCEPT_ENCODING, value);
    }
    let response = app.send(request.body(Body::empty()).expect("request")).await;
    response.assert_status(StatusCode::OK);
    response
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body).read_to_end(&mut out).expect("a gzip body");
    out
}

fn varies_on_accept_encoding(response: &TestResponse) -> bool {
    response
        .headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding"))
}

/// The memo entry a page is kept under.
async fn kept_page(app: &TestApp, key: &str) -> Arc<KeptPage> {
    let snapshot = current(&app.state).await.expect("snapshot");
    snapshot.memo.get::<KeptPage>(&format!("page:{key}")).expect("the page is kept")
}

/// Asked twice with `Accept-Encoding: gzip`, a kept page comes gzipped, decompressing to exactly
/// the body sent to a client that refuses gzip; the second answer is the kept compressed bytes
/// themselves (neither rendered nor compressed again), with the same ETag and Cache-Control.
#[tokio::test]
async fn kept_pages_are_gzipped_once_and_served_as_kept() {
    let app = TestApp::with_demo().await;
    for uri in ["/", "/providers/corvid-gpu", "/metrics/queue-times"] {
        let first = get_encoded(&app, uri, Some("gzip, deflate, br")).await;
        assert_eq!(first.header("content-encoding"), "gzip", "{uri}");
        assert!(varies_on_accept_encoding(&first), "{uri}: Vary names Accept-Encoding");
        // The dashboard's key also names its (empty) filter fields: `metrics::serde_urlencoded_query`.
        let key = if uri.starts_with("/metrics/") { format!("{uri}?None|None|None|None|None") } else { uri.to_owned() };
        let kept = kept_page(&app, &key).await;
        let gzipped = kept.gzip().expect("kept gzipped after the first gzip request").clone();

        let second = get_encoded(&app, uri, Some("gzip")).await;
        assert_eq!(second.header("content-encoding"), "gzip", "{uri}");
        assert!(varies_on_accept_encoding(&second), "{uri}");
        let again = kept_page(&app, &key).await;
        assert!(Arc::ptr_eq(&kept, &again), "{uri}: the second request did not render and keep the page again");
        let gzipped_again = again.gzip().expect("still gzipped");
        assert_eq!(gzipped.as_ptr(), gzipped_again.as_ptr(), "{uri}: compressed once, not per request");
        assert_eq!(second.body, gzipped.to_vec(), "{uri}: the kept compressed bytes go out as they are");

        let identity = get_encoded(&app, uri, Some("gzip;q=0")).await;
        assert_eq!(identity.header("content-encoding"), "", "{uri}: gzip;q=0 refuses gzip");
        assert!(varies_on_accept_encoding(&identity), "{uri}");
        assert_eq!(gunzip(&second.body), identity.body, "{uri}: gzip decompresses to exactly the page");
        assert_eq!(identity.body, kept.identity.to_vec(), "{uri}");
        for name in ["etag", "cache-control", "content-type"] {
            assert_eq!(first.header(name), identity.header(name), "{uri}: {name}");
            assert_eq!(second.header(name), identity.header(name), "{uri}: {name}");
        }
        assert!(!identity.header("etag").is_empty(), "{uri}: kept pages keep their ETag");
    }
}

/// A client that sends no Accept-Encoding, or one refusing gzip through `*`, gets the page as
/// rendered; one accepting anything through `*` gets it gzipped.
#[tokio::test]
async fn the_wildcard_and_absent_accept_encoding_decide_like_gzip() {
    let app = TestApp::with_demo().await;
    let plain = get_encoded(&app, "/", None).await;
    assert_eq!(plain.header("content-encoding"), "");
    let refused = get_encoded(&app, "/", Some("*;q=0, identity")).await;
    assert_eq!(refused.header("content-encoding"), "");
    assert_eq!(refused.body, plain.body);
    let any = get_encoded(&app, "/", Some("*")).await;
    assert_eq!(any.header("content-encoding"), "gzip");
    assert_eq!(gunzip(&any.body), plain.body);
}

/// RFC 9110 §12.5.3: q=0 means "not acceptable"; `*` stands for codings not listed.
#[test]
fn accept_encoding_q_values_are_parsed() {
    let accepts = |value: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).expect("header value"));
        accepts_gzip(&headers)
    };
    assert!(!accepts_gzip(&HeaderMap::new()), "no header: identity");
    for yes in [
        "gzip",
        "GZIP",
        "x-gzip",
        "gzip, deflate, br, zstd",
        "br;q=1.0, gzip;q=0.8",
        "gzip;q=0.001",
        "*",
        "gzip ; Q=1",
        "gzip;q=0.5",
    ] {
        assert!(accepts(yes), "{yes}");
    }
    for no in [
        "",
        "identity",
        "br",
        "gzip;q=0",
        "gzip; q=0.000",
        "*;q=0",
        "gzip;q=0, *",
        "gzip;q=0.5, identity",
        "gzip;q=2",
        "gzip;q=zero",
    ] {
        assert!(!accepts(no), "{no}");
    }
}
