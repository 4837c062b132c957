//! Operational metrics in the Prometheus text format at `/metrics`: requests and
//! their latency by route, ingest outcomes, export bytes, and — read at scrape
//! time — the tree size and the age of the latest checkpoint.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template (`/providers/{slug}`), never the raw path: bounded cardinality.
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// Status code.
    pub status: u16,
}

/// Labels of a latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route template.
    pub route: String,
}

/// Labels of an outcome counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `created`, `amended`, `duplicate` or `rejected`.
    pub outcome: String,
}

/// Labels of the export byte counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExportLabels {
    /// Dataset name.
    pub dataset: String,
    /// `csv`, `ndjson` or `parquet`.
    pub format: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to ~8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Every metric, and the registry that writes them out.
pub struct Metrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Latency by route, seconds.
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Ingested records by outcome (and rejected batches).
    pub ingest: Family<OutcomeLabels, Counter>,
    /// Bytes sent by exports.
    pub export_bytes: Family<ExportLabels, Counter>,
    /// Requests shed because the server was at its concurrency limit.
    pub shed: Counter,
    tree_size: Gauge,
    checkpoint_age: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gatelog");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let ingest = Family::<OutcomeLabels, Counter>::default();
        let export_bytes = Family::<ExportLabels, Counter>::default();
        let shed = Counter::default();
        let tree_size = Gauge::default();
        let checkpoint_age = Gauge::default();
        registry.register("http_requests", "HTTP requests by route template, method and status", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by route template",
            latency.clone(),
        );
        registry.register("ingest_records", "Records posted to the push API, by outcome", ingest.clone());
        registry.register("export_bytes", "Bytes sent by dataset exports", export_bytes.clone());
        registry.register("requests_shed", "Requests answered 503 at the concurrency limit", shed.clone());
        registry.register("tree_size", "Entries in the ledger at the latest checkpoint", tree_size.clone());
        registry.register(
            "checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed",
            checkpoint_age.clone(),
        );
        Self { registry, requests, latency, ingest, export_bytes, shed, tree_size, checkpoint_age }
    }
}

impl Metrics {
    /// Counts `n` records with `outcome`.
    pub fn ingested(&self, outcome: &str, n: u64) {
        if n > 0 {
            self.ingest.get_or_create(&OutcomeLabels { outcome: outcome.to_owned() }).inc_by(n);
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Middleware: counts and times every routed request.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.latency.get_or_create(&RouteLabels { route: route.clone() }).observe(started.elapsed().as_secs_f64());
    metrics.requests.get_or_create(&RequestLabels { route, method, status: response.status().as_u16() }).inc();
    response
}

/// `/metrics`.
pub async fn scrape(State(state): State<AppState>) -> Response {
    if let Ok(mut conn) = state.pool.acquire().await
        && let Ok(Some(checkpoint)) = crate::db::ledger::latest_checkpoint(&mut conn).await
    {
        state.metrics.tree_size.set(i64::try_from(checkpoint.size).unwrap_or(i64::MAX));
        state.metrics.checkpoint_age.set((chrono::Utc::now() - checkpoint.signed_at).num_seconds());
    }
    let mut response = state.metrics.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn metrics_count_routes_outcomes_exports_and_read_the_checkpoint() {
        let app = TestApp::with_demo().await;
        app.get("/providers/corvid-gpu").await.assert_status(StatusCode::OK);
        app.get("/providers/nobody").await.assert_status(StatusCode::NOT_FOUND);
        let csv = app.get("/data/lockups.csv").await;
        let token = app.provider_token("corvid-gpu").await;
        let body = serde_json::json!([{"kind": "capacity", "as_of": "2030-01-01", "resource": "nvidia-h100-80gb",
            "region": "us-central", "total_accelerators": 10, "newcomer_set_aside": 1}]);
        app.post("/api/v1/records", "application/json", body.to_string(), Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);
        let text = app.get("/metrics").await.text();
        for expected in [
            "gatelog_http_requests_total{route=\"/providers/{slug}\",method=\"GET\",status=\"200\"} 1",
            "gatelog_http_requests_total{route=\"/providers/{slug}\",method=\"GET\",status=\"404\"} 1",
            "gatelog_http_request_duration_seconds_count{route=\"/providers/{slug}\"} 2",
            "gatelog_ingest_records_total{outcome=\"created\"} 1",
            &format!("gatelog_export_bytes_total{{dataset=\"lockups\",format=\"csv\"}} {}", csv.body.len()),
            &format!("gatelog_tree_size {}", app.tree_size().await),
            "gatelog_checkpoint_age_seconds ",
        ] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
        assert!(!text.contains("corvid-gpu\""), "raw paths never become labels");
    }
}
