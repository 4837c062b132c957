//! Operational metrics at `/metrics`: requests and their latency by route,
//! ingested records and rejected batches, export bytes, and — read at scrape time — the entries in the
//! latest checkpoint and its age. Served in the Prometheus text format 0.0.4
//! (what `curl` and `promtool check metrics` read), or in OpenMetrics 1.0 to a
//! scraper that asks for it in `Accept`, as Prometheus does.
//! Names follow <https://prometheus.io/docs/practices/naming/>: base units as
//! suffixes, `_total` on counters only.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelSetEncoder, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

/// The Prometheus text format, for clients that do not ask for OpenMetrics.
const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// OpenMetrics 1.0, for scrapers that list it in `Accept`.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A label value written with the escapes both formats require (`\\`, `\"`, `\n`):
/// prometheus-client writes values verbatim.
struct Escaped<'a>(&'a str);

impl EncodeLabelValue for Escaped<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

fn encode_labels(labels: &[(&str, &str)], mut encoder: LabelSetEncoder) -> Result<(), std::fmt::Error> {
    for &(name, value) in labels {
        prometheus_client::encoding::EncodeLabel::encode(&(name, Escaped(value)), encoder.encode_label())?;
    }
    Ok(())
}

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct RequestLabels {
    /// The route template (`/providers/{slug}`), never the raw path: bounded cardinality.
    pub route: String,
    /// HTTP method; a method outside the standard ones counts as `other`, for the same reason.
    pub method: String,
    /// Status code.
    pub status: u16,
}

impl EncodeLabelSet for RequestLabels {
    fn encode(&self, encoder: LabelSetEncoder) -> Result<(), std::fmt::Error> {
        let status = self.status.to_string();
        encode_labels(&[("route", &self.route), ("method", &self.method), ("status", &status)], encoder)
    }
}

/// Labels of a latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct RouteLabels {
    /// The route template.
    pub route: String,
}

impl EncodeLabelSet for RouteLabels {
    fn encode(&self, encoder: LabelSetEncoder) -> Result<(), std::fmt::Error> {
        encode_labels(&[("route", &self.route)], encoder)
    }
}

/// Labels of the ingested-records counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct OutcomeLabels {
    /// `created`, `amended` or `duplicate`.
    pub outcome: String,
}

impl EncodeLabelSet for OutcomeLabels {
    fn encode(&self, encoder: LabelSetEncoder) -> Result<(), std::fmt::Error> {
        encode_labels(&[("outcome", &self.outcome)], encoder)
    }
}

/// Why the push API refused a whole batch; nothing of it was written.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum BatchRejection {
    /// The body does not parse (400).
    Malformed,
    /// Records break the record rules (422).
    Invalid,
    /// Over the byte or record limit (413).
    TooLarge,
    /// A record names another provider than the token's (403).
    OtherProvider,
    /// A record's signature does not verify (422).
    Signature,
}

impl BatchRejection {
    fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Invalid => "invalid",
            Self::TooLarge => "too_large",
            Self::OtherProvider => "other_provider",
            Self::Signature => "signature",
        }
    }
}

/// Labels of the rejected-batch counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct RejectionLabels {
    pub reason: BatchRejection,
}

impl EncodeLabelSet for RejectionLabels {
    fn encode(&self, encoder: LabelSetEncoder) -> Result<(), std::fmt::Error> {
        encode_labels(&[("reason", self.reason.label())], encoder)
    }
}

/// Labels of the export byte counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct ExportLabels {
    /// Dataset name.
    pub dataset: String,
    /// `csv`, `ndjson` or `parquet`.
    pub format: String,
}

impl EncodeLabelSet for ExportLabels {
    fn encode(&self, encoder: LabelSetEncoder) -> Result<(), std::fmt::Error> {
        encode_labels(&[("dataset", &self.dataset), ("format", &self.format)], encoder)
    }
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
    /// Records the ledger took (or already had) from the push API, by outcome.
    pub ingest: Family<OutcomeLabels, Counter>,
    /// Batches the push API refused whole, by reason: one per batch, whatever its size.
    pub rejected_batches: Family<RejectionLabels, Counter>,
    /// Bytes sent by exports.
    pub export_bytes: Family<ExportLabels, Counter>,
    /// Requests shed because the server was at its concurrency limit.
    pub shed: Counter,
    checkpoint_entries: Gauge,
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
        let rejected_batches = Family::<RejectionLabels, Counter>::default();
        let export_bytes = Family::<ExportLabels, Counter>::default();
        let shed = Counter::default();
        let checkpoint_entries = Gauge::default();
        let checkpoint_age = Gauge::default();
        registry.register("http_requests", "HTTP requests by route template, method and status", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by route template",
            latency.clone(),
        );
        registry.register(
            "ingest_records",
            "Records in batches the push API accepted, by outcome (created, amended, duplicate)",
            ingest.clone(),
        );
        registry.register(
            "ingest_batches_rejected",
            "Batches the push API refused whole (none of their records written), by reason",
            rejected_batches.clone(),
        );
        registry.register("export_bytes", "Bytes sent by dataset exports", export_bytes.clone());
        registry.register("requests_shed", "Requests answered 503 at the concurrency limit", shed.clone());
        registry.register(
            "checkpoint_entries",
            "Entries in the ledger at the latest checkpoint (its tree size)",
            checkpoint_entries.clone(),
        );
        registry.register(
            "checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed",
            checkpoint_age.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            ingest,
            rejected_batches,
            export_bytes,
            shed,
            checkpoint_entries,
            checkpoint_age,
        }
    }
}

impl Metrics {
    /// Counts `n` records of an accepted batch with `outcome` (`created`, `amended` or `duplicate`).
    pub fn ingested(&self, outcome: &str, n: u64) {
        if n > 0 {
            self.ingest.get_or_create(&OutcomeLabels { outcome: outcome.to_owned() }).inc_by(n);
        }
    }

    /// Counts one batch refused whole; its records are not counted as ingested.
    pub fn rejected_batch(&self, reason: BatchRejection) {
        self.rejected_batches.get_or_create(&RejectionLabels { reason }).inc();
    }

    /// The exposition in OpenMetrics 1.0.
    pub fn encode_openmetrics(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The exposition in the Prometheus text format 0.0.4.
    pub fn encode(&self) -> String {
        prometheus_text(&self.encode_openmetrics())
    }
}

/// Rewrites prometheus-client's OpenMetrics output as the Prometheus text format 0.0.4:
/// the samples are the same, but there a counter family is named with its `_total`
/// (OpenMetrics names it without), and `# UNIT` and `# EOF` do not exist.
/// <https://prometheus.io/docs/instrumenting/exposition_formats/#text-format-details>
fn prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut help: Option<&str> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            // Held until the TYPE line says whether the family is a counter.
            help = Some(rest);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let suffix = if kind == "counter" && !name.ends_with("_total") { "_total" } else { "" };
            if let Some(text) = help.take().and_then(|h| h.split_once(' ').map(|(_, text)| text)) {
                let _ = writeln!(out, "# HELP {name}{suffix} {text}");
            }
            let _ = writeln!(out, "# TYPE {name}{suffix} {kind}");
            continue;
        }
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Whether `Accept` lists OpenMetrics (with a non-zero weight), as Prometheus's scraper does.
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';').map(str::trim);
        parts.next().is_some_and(|media| media.eq_ignore_ascii_case("application/openmetrics-text"))
            && !parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0)))
    })
}

/// The method as a label value: the standard ones by name, anything else as `other`,
/// so a client inventing methods cannot create series without bound.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Middleware: counts and times every routed request.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = method_label(request.method()).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.latency.get_or_create(&RouteLabels { route: route.clone() }).observe(started.elapsed().as_secs_f64());
    metrics.requests.get_or_create(&RequestLabels { route, method, status: response.status().as_u16() }).inc();
    response
}

/// `/metrics`.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(mut conn) = state.pool.acquire().await
        && let Ok(Some(checkpoint)) = crate::db::ledger::latest_checkpoint(&mut conn).await
    {
        state.metrics.checkpoint_entries.set(i64::try_from(checkpoint.size).unwrap_or(i64::MAX));
        state.metrics.checkpoint_age.set((chrono::Utc::now() - checkpoint.signed_at).num_seconds());
    }
    let (body, content_type) = if wants_openmetrics(&headers) {
        (state.metrics.encode_openmetrics(), OPENMETRICS)
    } else {
        (state.metrics.encode(), TEXT)
    };
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};

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
            &format!("gatelog_checkpoint_entries {}", app.tree_size().await),
            "gatelog_checkpoint_age_seconds ",
        ] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
        assert!(!text.contains("corvid-gpu\""), "raw paths never become labels");
        assert!(text.contains("# TYPE gatelog_http_requests_total counter\n"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
    }

    /// A refused batch is one batch, not as many records: it moves the batch counter by
    /// one, under its reason, and the records counter not at all (none was written).
    #[tokio::test]
    async fn a_rejected_batch_of_three_records_counts_one_batch_and_no_records() {
        let app = TestApp::with_demo().await;
        let token = app.provider_token("corvid-gpu").await;
        let capacity = |total: i64| {
            serde_json::json!({"kind": "capacity", "as_of": "2030-01-01", "resource": "nvidia-h100-80gb",
                "region": "us-central", "total_accelerators": total, "newcomer_set_aside": 1})
        };
        let post = |batch: String| app.post("/api/v1/records", "application/json", batch, Some(&token), &[]);
        let invalid = serde_json::json!([capacity(10), capacity(20), capacity(-5)]);
        post(invalid.to_string()).await.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        post("[{".to_owned()).await.assert_status(StatusCode::BAD_REQUEST);
        // Well-formed, but corvid-gpu has no signing key: the signature check refuses the batch.
        let mut signed = capacity(30);
        signed["signature"] = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 64]).into();
        post(serde_json::json!([signed, capacity(40), capacity(50)]).to_string())
            .await
            .assert_status(StatusCode::UNPROCESSABLE_ENTITY);

        let text = app.get("/metrics").await.text();
        for reason in ["invalid", "malformed", "signature"] {
            let sample = format!("gatelog_ingest_batches_rejected_total{{reason=\"{reason}\"}} 1\n");
            assert!(text.contains(&sample), "{sample} missing from:\n{text}");
        }
        assert!(text.contains("# TYPE gatelog_ingest_batches_rejected_total counter\n"), "{text}");
        assert!(!text.contains("gatelog_ingest_records_total{"), "no record was ingested: {text}");

        let mut later = capacity(20);
        later["as_of"] = "2030-02-01".into();
        post(serde_json::json!([capacity(10), later]).to_string()).await.assert_status(StatusCode::CREATED);
        let text = app.get("/metrics").await.text();
        assert!(text.contains("gatelog_ingest_records_total{outcome=\"created\"} 2\n"), "{text}");
        assert!(text.contains("gatelog_ingest_batches_rejected_total{reason=\"invalid\"} 1\n"), "{text}");
    }

    #[tokio::test]
    async fn a_scraper_asking_for_openmetrics_gets_it_and_anyone_else_the_text_format() {
        let app = TestApp::with_demo().await;
        let text = app.get("/metrics").await;
        assert_eq!(text.header("content-type"), super::TEXT);
        let scraper = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
                       text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let request = Request::get("/metrics").header("accept", scraper).body(Body::empty()).expect("request");
        let open = app.send(request).await;
        assert_eq!(open.header("content-type"), super::OPENMETRICS);
        let open = open.text();
        assert!(open.contains("# TYPE gatelog_http_requests counter\n") && open.ends_with("# EOF\n"), "{open}");
        let refused = Request::get("/metrics")
            .header("accept", "application/openmetrics-text;q=0, text/plain")
            .body(Body::empty())
            .expect("request");
        assert_eq!(app.send(refused).await.header("content-type"), super::TEXT);
    }

    #[test]
    fn counters_are_named_with_total_and_openmetrics_markers_dropped() {
        let openmetrics = "# HELP gatelog_x Things.\n# TYPE gatelog_x counter\ngatelog_x_total 3\n\
                           # HELP gatelog_size_bytes Size.\n# TYPE gatelog_size_bytes gauge\n# UNIT gatelog_size_bytes bytes\n\
                           gatelog_size_bytes 7\n# EOF\n";
        assert_eq!(
            super::prometheus_text(openmetrics),
            "# HELP gatelog_x_total Things.\n# TYPE gatelog_x_total counter\ngatelog_x_total 3\n\
             # HELP gatelog_size_bytes Size.\n# TYPE gatelog_size_bytes gauge\ngatelog_size_bytes 7\n"
        );
    }

    #[test]
    fn label_values_are_escaped_and_methods_bounded() {
        let metrics = super::Metrics::default();
        let labels = super::ExportLabels { dataset: "a\"b\\c\nd".into(), format: "csv".into() };
        metrics.export_bytes.get_or_create(&labels).inc_by(5);
        let text = metrics.encode();
        assert!(text.contains(r#"gatelog_export_bytes_total{dataset="a\"b\\c\nd",format="csv"} 5"#), "{text}");
        assert_eq!(super::method_label(&axum::http::Method::from_bytes(b"BREW").expect("method")), "other");
        assert_eq!(super::method_label(&axum::http::Method::DELETE), "DELETE");
    }
}
