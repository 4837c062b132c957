//! One rendering per audience (issue 20): every error status a page can answer is the
//! HTML error page, every one the API can answer is the JSON envelope, whichever layer
//! produced it. Driven through the real router where the status can be reached there.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use tower::ServiceExt;

use crate::testing::{TestApp, TestResponse};

/// The site's error page: HTML, a heading naming the status, a link home.
fn assert_page(response: &TestResponse, status: StatusCode) {
    response.assert_status(status);
    assert!(response.header("content-type").starts_with("text/html"), "{}", response.header("content-type"));
    let html = response.html();
    let heading = html.text_of("h1");
    assert!(heading.starts_with(&status.as_u16().to_string()), "heading {heading:?}");
    assert!(html.exists("a[href='/']"), "the error page links home");
    assert!(!html.text_of(".error-page p").is_empty(), "the page says what happened");
}

/// The API's envelope: JSON with `error.code` and a message.
fn assert_envelope(response: &TestResponse, status: StatusCode, code: &str) {
    response.assert_status(status);
    assert!(response.header("content-type").starts_with("application/json"), "{}", response.header("content-type"));
    let json = response.json();
    assert_eq!(json["error"]["code"], code, "{json}");
    assert!(!json["error"]["message"].as_str().expect("message").is_empty(), "{json}");
    assert!(json["error"]["details"].is_array(), "{json}");
}

async fn send(router: &Router, request: Request<Body>) -> TestResponse {
    let response = router.clone().oneshot(request).await.expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("read body");
    TestResponse { status, headers, body: body.to_vec() }
}

fn static_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("static")
}

#[tokio::test]
async fn not_found_is_a_page_on_the_site_and_the_envelope_on_the_api() {
    let app = TestApp::new().await;
    assert_page(&app.get("/no/such/page").await, StatusCode::NOT_FOUND);
    assert_page(&app.get("/static/no-such.css").await, StatusCode::NOT_FOUND);
    assert_envelope(&app.get("/api/v1/nothing").await, StatusCode::NOT_FOUND, "not_found");
    assert_envelope(&app.get("/data/no-such-dataset.csv").await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_page_or_envelope_that_keeps_allow() {
    let app = TestApp::new().await;
    let page = app.send(Request::post("/providers").body(Body::empty()).expect("request")).await;
    assert_page(&page, StatusCode::METHOD_NOT_ALLOWED);
    assert!(page.header("allow").contains("GET"), "Allow: {}", page.header("allow"));
    assert!(page.html().text_of(".error-page p").contains("POST"));

    let api = app.get("/api/v1/records").await;
    assert_envelope(&api, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert!(api.header("allow").contains("POST"), "Allow: {}", api.header("allow"));
    let tiles = app.send(Request::delete("/checkpoint").body(Body::empty()).expect("request")).await;
    assert_envelope(&tiles, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

/// A body over the server-wide limit is refused by tower-http before any handler.
#[tokio::test]
async fn a_body_over_the_limit_is_a_413_page_or_envelope() {
    let app = TestApp::new().await;
    let over = (crate::routes::MAX_BODY_BYTES + 1).to_string();
    let request = |method: &str, uri: &str| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, over.as_str())
            .body(Body::empty())
            .expect("request")
    };
    assert_page(&app.send(request("GET", "/")).await, StatusCode::PAYLOAD_TOO_LARGE);
    let api = app.send(request("POST", "/api/v1/records")).await;
    assert_envelope(&api, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
}

#[tokio::test]
async fn an_unsupported_body_type_on_the_api_is_the_envelope() {
    let app = TestApp::new().await;
    let token = app.provider_token("nordic-hpc").await;
    let api = app.post("/api/v1/records", "text/plain", "x", Some(&token), &[]).await;
    assert_envelope(&api, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

/// The case: `?sort=a&sort=b` fails `Query` on a page, which answered the envelope.
#[tokio::test]
async fn a_bad_query_string_is_a_400_page_on_a_page_and_the_envelope_on_the_api() {
    let app = TestApp::new().await;
    assert_page(&app.get("/providers?sort=name&sort=grade").await, StatusCode::BAD_REQUEST);
    assert_page(&app.get("/compare?a=x&a=y").await, StatusCode::BAD_REQUEST);
    let api = app.get("/api/v1/ledger/proof/consistency?from=x&to=3").await;
    assert_envelope(&api, StatusCode::BAD_REQUEST, "bad_request");
}

/// The per-address limit answers before any route: a page for pages, the envelope for the API.
#[tokio::test]
async fn the_per_address_limit_is_a_429_page_or_envelope_with_retry_after() {
    let app = TestApp::new().await;
    let rate = crate::api::per_ip::PerIpRate {
        per_second: NonZeroU32::new(1).expect("rate"),
        burst: NonZeroU32::new(1).expect("burst"),
    };
    let state = app.state.clone().with_per_ip_rate(Some(rate));
    let router = crate::app(state, &static_dir())
        .layer(MockConnectInfo("203.0.113.7:5000".parse::<SocketAddr>().expect("address")));
    let get = |uri: &str| Request::get(uri).body(Body::empty()).expect("request");
    send(&router, get("/healthz")).await.assert_status(StatusCode::OK);
    let page = send(&router, get("/methodology")).await;
    assert_page(&page, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.header("retry-after").parse::<u64>().expect("Retry-After") >= 1);
    let api = send(&router, get("/api/v1/ledger/checkpoint")).await;
    assert_envelope(&api, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(api.header("retry-after").parse::<u64>().expect("Retry-After") >= 1);
}

/// The per-token limit was already the envelope; it still is, with Retry-After.
#[tokio::test]
async fn the_per_token_limit_is_the_envelope_with_retry_after() {
    let app = TestApp::new().await;
    let token = app.provider_token("nordic-hpc").await;
    let mut tries = 0;
    let limited = loop {
        tries += 1;
        assert!(tries < 1000, "the per-token limit never answered");
        let response = app.post("/api/v1/records?dry_run=true", "application/json", "[]", Some(&token), &[]).await;
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            break response;
        }
    };
    assert_envelope(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(limited.header("retry-after").parse::<u64>().expect("Retry-After") >= 1);
}

/// At capacity, the load shedder's 503 is a page or the envelope, with `Retry-After: 1`.
/// A batch whose body never ends holds the only slot.
#[tokio::test]
async fn at_capacity_the_503_is_a_page_or_envelope_with_retry_after() {
    let app = TestApp::new().await;
    let token = app.provider_token("nordic-hpc").await;
    let router = crate::app(app.state.clone().with_max_concurrent(1), &static_dir());
    // The body tells when the handler starts reading it (the slot is taken), then never ends.
    let (reading, read_started) = tokio::sync::oneshot::channel::<()>();
    let endless = Body::from_stream(futures_util::stream::once(async move {
        let _ = reading.send(());
        std::future::pending::<Result<Bytes, std::io::Error>>().await
    }));
    let held = Request::post("/api/v1/records")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(endless)
        .expect("request");
    let holder = tokio::spawn(router.clone().oneshot(held));
    read_started.await.expect("the batch is being read");
    let get = |uri: &str| Request::get(uri).body(Body::empty()).expect("request");
    let api = send(&router, get("/api/v1/ledger/checkpoint")).await;
    assert_envelope(&api, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert_eq!(api.header("retry-after"), "1");
    let page = send(&router, get("/methodology")).await;
    assert_page(&page, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(page.header("retry-after"), "1");
    holder.abort();
}

/// What the real router cannot be made to do on demand (time out after 30 s, panic, take
/// a JSON body on a page) through the same middleware stack, over a small router.
fn small_app(timeout: Duration) -> Router {
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(60)).await;
        "late"
    }
    async fn boom() -> &'static str {
        panic!("handler bug")
    }
    async fn takes_json(axum::Json(_): axum::Json<serde_json::Value>) -> &'static str {
        "ok"
    }
    async fn chosen_json() -> (StatusCode, axum::Json<serde_json::Value>) {
        (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(serde_json::json!({"error": {"code": "stored"}})))
    }
    let router = Router::new()
        .route("/slow", get(slow))
        .route("/api/v1/slow", get(slow))
        .route("/boom", get(boom))
        .route("/api/v1/boom", get(boom))
        .route("/form", post(takes_json))
        .route("/api/v1/form", post(takes_json))
        .route("/api/v1/stored", get(chosen_json));
    crate::routes::with_middleware(router, timeout)
}

#[tokio::test]
async fn a_timeout_is_a_503_page_or_envelope() {
    let app = small_app(Duration::from_millis(50));
    let get = |uri: &str| Request::get(uri).body(Body::empty()).expect("request");
    assert_page(&send(&app, get("/slow")).await, StatusCode::SERVICE_UNAVAILABLE);
    assert_envelope(&send(&app, get("/api/v1/slow")).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

#[tokio::test]
async fn a_panic_is_a_500_page_or_envelope_that_shows_nothing_of_it() {
    let app = small_app(Duration::from_secs(30));
    let get = |uri: &str| Request::get(uri).body(Body::empty()).expect("request");
    let page = send(&app, get("/boom")).await;
    assert_page(&page, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!page.text().contains("handler bug"));
    let api = send(&app, get("/api/v1/boom")).await;
    assert_envelope(&api, StatusCode::INTERNAL_SERVER_ERROR, "internal");
    assert!(!api.text().contains("handler bug"));
    assert_eq!(api.header("x-content-type-options"), "nosniff", "security headers on errors too");
}

/// axum's own rejections (here `Json`'s 415 and 400) leave as the audience's rendering,
/// keeping what they said.
#[tokio::test]
async fn axum_rejections_are_a_page_or_envelope() {
    let app = small_app(Duration::from_secs(30));
    let post = |uri: &str, content_type: &str, body: &'static str| {
        Request::post(uri).header(header::CONTENT_TYPE, content_type).body(Body::from(body)).expect("request")
    };
    let page = send(&app, post("/form", "text/plain", "x")).await;
    assert_page(&page, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(page.html().text_of(".error-page p").contains("Content-Type"), "axum's reason is kept");
    let api = send(&app, post("/api/v1/form", "text/plain", "x")).await;
    assert_envelope(&api, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    assert!(api.json()["error"]["message"].as_str().expect("message").contains("Content-Type"));
    let api = send(&app, post("/api/v1/form", "application/json", "{")).await;
    assert_envelope(&api, StatusCode::BAD_REQUEST, "bad_request");
}

/// A JSON body a handler chose itself (a replayed idempotent answer) is left as it is.
#[tokio::test]
async fn a_json_error_body_a_handler_chose_is_left_alone() {
    let app = small_app(Duration::from_secs(30));
    let response = send(&app, Request::get("/api/v1/stored").body(Body::empty()).expect("request")).await;
    response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json()["error"]["code"], "stored");
}

#[test]
fn each_url_has_the_audience_that_reads_it() {
    use crate::error::Audience::{Api, Site};
    for (path, audience) in [
        ("/", Site),
        ("/providers", Site),
        ("/data", Site),
        ("/data/dictionary", Site),
        ("/data/snapshots/12/SHA256SUMS", Site),
        ("/static/css/gatelog.css", Site),
        ("/feed.atom", Site),
        ("/api/v1/records", Api),
        ("/checkpoint", Api),
        ("/checkpoint/witnessed", Api),
        ("/tile/0/000", Api),
        ("/healthz", Api),
        ("/readyz", Api),
        ("/data/prices.csv", Api),
        ("/data/prices", Api),
        ("/data/snapshots.json", Api),
    ] {
        assert_eq!(crate::error::Audience::of(path), audience, "{path}");
    }
}
