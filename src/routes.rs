//! Every URL and the function that answers it, in one place, and the tower
//! middleware stack in one function.

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::handler::HandlerWithoutStateExt;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::api::ledger as ledger_api;
use crate::api::records as records_api;
use crate::error::AppError;
use crate::web::{errors, health, home};

/// Longest a request may take before the client gets a 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request body accepted on any route (the ingest API documents its own, smaller, limits).
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Content Security Policy for every response: nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The whole application: routes, static files, fallback, middleware.
pub fn app(state: AppState, static_dir: &Path) -> Router {
    let static_files = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        ))
        .service(ServeDir::new(static_dir).fallback(errors::not_found.into_service()));
    // A snapshot never changes once written: clients and caches may keep it for good.
    let snapshot_files = state.snapshots_dir.as_ref().map(|dir| {
        ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ))
            .service(ServeDir::new(dir).fallback(errors::not_found.into_service()))
    });

    let router = Router::new()
        .route("/", get(home::show))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(api_routes())
        .route("/docs/api", get(crate::web::api_docs::show))
        .route("/ledger", get(crate::web::ledger::index))
        .route("/providers", get(crate::web::providers::index))
        .route("/providers/{slug}", get(crate::web::scorecard::show))
        .route("/providers/{slug}/charts/{file}", get(crate::web::scorecard::chart_svg))
        .route("/methodology", get(crate::web::methodology::show))
        .route("/metrics/{metric}", get(crate::web::metrics::show))
        .route("/compare", get(crate::web::compare::show))
        .route("/feed.atom", get(crate::web::feed::all))
        .route("/providers/{slug}/feed.atom", get(crate::web::feed::provider))
        .route("/feeds/{file}", get(crate::web::feed::kind))
        .route("/lockups", get(crate::web::metrics::lockups))
        .route("/counterparties", get(crate::web::counterparties::index))
        .route("/counterparties/{slug}", get(crate::web::counterparties::show))
        .route("/compliance", get(crate::web::compliance::show))
        .route("/data", get(crate::web::data::index))
        .route("/data/dictionary", get(crate::web::data::dictionary))
        .route("/data/snapshots.json", get(crate::web::data::snapshots_json))
        .route("/data/{file}", get(crate::web::data::export))
        .route("/ledger/entries/{index}", get(crate::web::ledger::entry))
        .route("/metrics", get(crate::telemetry::scrape))
        // Counted and timed by route template (only matched routes: unbounded paths never become labels).
        .route_layer(axum::middleware::from_fn_with_state(state.metrics.clone(), crate::telemetry::track))
        .nest_service("/static", static_files);
    let router = match snapshot_files {
        Some(files) => router.nest_service("/data/snapshots", files),
        None => router,
    };
    let (metrics, limit, per_ip) = (state.metrics.clone(), state.max_concurrent, state.per_ip.clone());
    let router = router.fallback(errors::not_found).with_state(state);
    // Per address first (a flood from one address is refused before it takes concurrency slots).
    let router = shed_when_busy(router, limit, metrics);
    let router = match per_ip {
        Some(limiter) => router.layer(axum::middleware::from_fn_with_state(limiter, crate::api::per_ip::limit)),
        None => router,
    };
    with_middleware(router, REQUEST_TIMEOUT)
}

/// The machine-readable routes, (path, method): the C2SP tlog-tiles read API at the site
/// root as the spec lays it out, and the JSON API. Each must be in the OpenAPI document
/// (`crate::api::openapi` tests that against this list, which the router is built from).
pub const API_ROUTES: &[(&str, &str)] = &[
    ("/checkpoint", "get"),
    ("/checkpoint/witnessed", "get"),
    ("/tile/{*path}", "get"),
    ("/api/v1/ledger/checkpoint", "get"),
    ("/api/v1/ledger/entries/{index}", "get"),
    ("/api/v1/ledger/proof/consistency", "get"),
    ("/api/v1/records", "post"),
    ("/api/v1/receipts/{index}", "get"),
    ("/api/v1/openapi.json", "get"),
];

/// The routes of [`API_ROUTES`], each with its handler.
fn api_routes() -> Router<AppState> {
    API_ROUTES.iter().fold(Router::new(), |router, &(path, method)| {
        let handler = match (path, method) {
            ("/checkpoint", "get") => get(ledger_api::checkpoint),
            ("/checkpoint/witnessed", "get") => get(ledger_api::witnessed_checkpoint),
            ("/tile/{*path}", "get") => get(ledger_api::tile),
            ("/api/v1/ledger/checkpoint", "get") => get(ledger_api::checkpoint_json_handler),
            ("/api/v1/ledger/entries/{index}", "get") => get(ledger_api::entry),
            ("/api/v1/ledger/proof/consistency", "get") => get(ledger_api::consistency),
            ("/api/v1/records", "post") => axum::routing::post(records_api::post),
            ("/api/v1/receipts/{index}", "get") => get(records_api::receipt),
            ("/api/v1/openapi.json", "get") => get(crate::api::openapi::openapi_json),
            _ => unreachable!("API_ROUTES lists {method} {path} without a handler"),
        };
        router.route(path, handler)
    })
}

/// Serves at most `limit` requests at once; more are answered at once with 503 and
/// `Retry-After` rather than queued until they time out.
pub fn shed_when_busy(router: Router, limit: usize, metrics: std::sync::Arc<crate::telemetry::Metrics>) -> Router {
    let overloaded = move |_: tower::BoxError| {
        let metrics = metrics.clone();
        async move {
            metrics.shed.inc();
            AppError::Overloaded
        }
    };
    router.layer(
        ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(overloaded))
            .layer(tower::load_shed::LoadShedLayer::new())
            // Global: one semaphore for every route, however often the layer is applied.
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(limit)),
    )
}

/// Wraps the router in the middleware stack. `ServiceBuilder` applies layers
/// top to bottom as outermost to innermost, so:
/// 1. tracing sees every request, including ones that panic or time out;
/// 2. security headers go on every response, errors included;
/// 3. compression applies to whatever the inner layers produce, error pages included;
/// 4. every error from the layers below, the router and the handlers leaves as the HTML
///    page or the JSON envelope, as the URL's audience reads (issue 20);
/// 5. a panic becomes a 500 for that rendering;
/// 6. the body limit and timeout bound the work a single request can cause.
pub(crate) fn with_middleware(router: Router, timeout: Duration) -> Router {
    let security_header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    router.layer(
        ServiceBuilder::new()
            .layer(TraceLayer::new_for_http())
            .layer(security_header(header::CONTENT_SECURITY_POLICY, CSP))
            .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(security_header(header::REFERRER_POLICY, "strict-origin-when-cross-origin"))
            .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
            .layer(security_header(
                HeaderName::from_static("permissions-policy"),
                "camera=(), microphone=(), geolocation=(), interest-cohort=()",
            ))
            .layer(CompressionLayer::new())
            .layer(axum::middleware::from_fn(errors::render_for_audience))
            .layer(CatchPanicLayer::custom(errors::panic_response))
            .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
            .layer(axum::error_handling::HandleErrorLayer::new(|_: tower::BoxError| async { AppError::TimedOut }))
            .layer(tower::timeout::TimeoutLayer::new(timeout)),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::shed_when_busy;

    /// At the limit, the next request is answered 503 with Retry-After at once, not queued.
    #[tokio::test]
    async fn requests_beyond_the_limit_are_shed_with_retry_after() {
        let metrics = Arc::new(crate::telemetry::Metrics::default());
        let slow = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                "done"
            }),
        );
        let app = shed_when_busy(slow, 1, metrics.clone());
        let request = || Request::get("/slow").body(Body::empty()).expect("request");
        let first = tokio::spawn(app.clone().oneshot(request()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let second = app.clone().oneshot(request()).await.expect("response");
        assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(second.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        assert!(started.elapsed() < Duration::from_millis(200), "shed at once, not after waiting");
        assert_eq!(first.await.expect("join").expect("response").status(), StatusCode::OK);
        assert_eq!(app.oneshot(request()).await.expect("response").status(), StatusCode::OK, "capacity is back");
        assert!(metrics.encode().contains("gatelog_requests_shed_total 1"));
    }
}
