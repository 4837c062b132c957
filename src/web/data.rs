//! `/data` (every dataset with its row count, columns and download links),
//! `/data/dictionary` (every column of every dataset) and `/data/{dataset}.{format}`
//! (the export: streamed, pinned to the current checkpoint, named after it).

use std::sync::Arc;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::cite::Citation;
use super::snapshot::{self, Snapshot};
use crate::AppState;
use crate::api::extract::{Path, Query};
use crate::datasets::cell::Cell;
use crate::datasets::encode::{self, ChunkSink};
use crate::datasets::filter::{ExportFilter, ExportQuery};
use crate::datasets::source::{self, ExportError, RowSink};
use crate::datasets::{CATALOG, Dataset, Format, Source, derived};
use crate::error::{ApiError, AppError, ErrorDetail, PageError};

/// A dataset as `/data` lists it.
pub struct DatasetRow {
    /// The dataset.
    pub dataset: Dataset,
    /// Rows at this checkpoint (latest versions for record datasets).
    pub rows: u64,
    /// Column names.
    pub columns: Vec<&'static str>,
}

/// The `/data` page.
#[derive(Template)]
#[template(path = "data/index.html")]
pub struct DataPage {
    /// Every dataset.
    pub datasets: Vec<DatasetRow>,
    /// The checkpoint.
    pub snapshot: Arc<Snapshot>,
    /// Tree sizes of the snapshots on offer, newest first.
    pub archives: Vec<u64>,
    /// The citation line.
    pub cite: Citation,
}

/// How many snapshots `/data` lists.
const LISTED_SNAPSHOTS: usize = 20;

/// Tree sizes of the complete snapshots in `dir`, newest first.
fn archives(dir: Option<&std::path::Path>) -> Vec<u64> {
    let Some(entries) = dir.and_then(|d| std::fs::read_dir(d).ok()) else { return Vec::new() };
    let mut sizes: Vec<u64> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("SHA256SUMS").exists())
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes.truncate(LISTED_SNAPSHOTS);
    sizes
}

/// `GET /data/snapshots.json`: `{"sizes": [...]}`, the tree sizes of the snapshots on
/// offer, newest first (what `gatelog verify --figures` checks by default).
pub async fn snapshots_json(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let sizes = archives(state.snapshots_dir.as_deref());
    let mut response = axum::Json(serde_json::json!({ "sizes": sizes })).into_response();
    response
        .headers_mut()
        .insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("public, max-age=60"));
    response
}

impl DataPage {
    /// A download link.
    pub fn href(&self, dataset: &Dataset, format: &Format) -> String {
        format!("/data/{}.{}", dataset.name, format.extension())
    }
}

/// The data dictionary.
#[derive(Template)]
#[template(path = "data/dictionary.html")]
pub struct DictionaryPage {
    /// Every dataset with its fields.
    pub datasets: Vec<(Dataset, Vec<crate::datasets::schema::Field>)>,
}

/// Rows a dataset has at a snapshot, counted from the snapshot itself (no query).
fn row_count(snapshot: &Snapshot, dataset: &Dataset) -> u64 {
    let sum = |count: &dyn Fn(&super::snapshot::ProviderData) -> usize| {
        snapshot.data.values().map(|d| count(d) as u64).sum::<u64>()
    };
    match dataset.source {
        Source::Entries => snapshot.tree_size,
        Source::Records(kind) => sum(&|d| match kind {
            crate::records::RecordKind::QueueTime => d.disclosures.queue_times.len(),
            crate::records::RecordKind::Acceptance => d.disclosures.acceptance.len(),
            crate::records::RecordKind::Price => d.disclosures.prices.len(),
            crate::records::RecordKind::Lockup => d.disclosures.lockups.len(),
            crate::records::RecordKind::Capacity => d.disclosures.capacity.len(),
        }),
        Source::Derived(table) => sum(&|d| match table {
            derived::Table::QueuePercentiles => d.figures.queue.len(),
            derived::Table::AcceptanceRates => d.figures.acceptance.len(),
            derived::Table::PriceSeries => d.figures.prices.len(),
            derived::Table::LockupShares => d.figures.lockups.len(),
            derived::Table::Grades => d.grade.as_ref().map_or(0, |g| g.components.len()),
        }),
        Source::Compliance => {
            snapshot.memo.get::<super::compliance::ComplianceReport>("compliance").map_or(0, |r| r.periods.len() as u64)
        }
    }
}

/// `/data`.
pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let snapshot = snapshot::current(&state).await?;
    if let Some(fresh) = super::not_modified(&headers, &snapshot) {
        return Ok(fresh);
    }
    // Computed now if nobody has asked for it at this checkpoint yet; its size is listed.
    super::compliance::report(&state, &snapshot).await?;
    let datasets = CATALOG
        .iter()
        .map(|d| DatasetRow {
            dataset: *d,
            rows: row_count(&snapshot, d),
            columns: d.fields().iter().map(|f| f.name).collect(),
        })
        .collect();
    let cite = Citation::new(&state, &snapshot, "datasets", "/data");
    let archives = archives(state.snapshots_dir.as_deref());
    let page = DataPage { datasets, snapshot, archives, cite };
    Ok(super::render_snapshot(&page, &page.snapshot))
}

/// `/data/dictionary`.
pub async fn dictionary() -> Response {
    super::render(&DictionaryPage { datasets: CATALOG.iter().map(|d| (*d, d.fields())).collect() })
}

fn unknown(file: &str) -> AppError {
    let names: Vec<&str> = CATALOG.iter().map(|d| d.name).collect();
    let formats: Vec<&str> = Format::ALL.iter().map(|f| f.extension()).collect();
    AppError::Missing(format!(
        "No dataset at /data/{file}. Datasets: {}. Formats: {}. For example /data/{}.csv",
        names.join(", "),
        formats.join(", "),
        names[0]
    ))
}

/// `/data/{dataset}.{format}`.
pub async fn export(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let (name, extension) = file.rsplit_once('.').ok_or_else(|| unknown(&file))?;
    let dataset = crate::datasets::find(name).ok_or_else(|| unknown(&file))?;
    let format = Format::from_extension(extension).ok_or_else(|| unknown(&file))?;
    let bad = |parameter: &str, reason: String| AppError::BadRequest {
        message: format!("query parameter {parameter}: {reason}"),
        details: vec![ErrorDetail { index: None, field: Some(parameter.to_owned()), reason }],
    };
    let filter = ExportFilter::parse(&query, &dataset).map_err(|e| bad(e.parameter, e.reason))?;
    if format != Format::Csv && filter.bom {
        return Err(bad("bom", "a byte-order mark is for CSV only".into()).into());
    }
    let snapshot = snapshot::current(&state).await?;
    if let Some(provider) = &filter.provider
        && !snapshot.providers.iter().any(|p| p.slug.as_str() == provider)
    {
        return Err(bad("provider", format!("there is no provider {provider:?}")).into());
    }
    let derived_rows = match dataset.source {
        Source::Derived(table) => {
            // Kept with the snapshot: the same table for the same filter is computed once per checkpoint.
            let memo_key = format!("derived:{}:{filter:?}", dataset.name);
            let rows = match snapshot.memo.get::<Vec<Vec<Cell>>>(&memo_key) {
                Some(rows) => rows,
                None => {
                    let for_rows = snapshot.clone();
                    let filter = filter.clone();
                    let rows = tokio::task::spawn_blocking(move || {
                        let providers = for_rows
                            .providers
                            .iter()
                            .filter(|p| filter.provider.as_deref().is_none_or(|only| p.slug.as_str() == only))
                            .filter_map(|p| {
                                for_rows.data.get(p.slug.as_str()).map(|d| (p.slug.as_str(), &d.disclosures))
                            });
                        table.rows(providers, &filter.place_and_time, for_rows.window)
                    })
                    .await
                    .map_err(|e| AppError::Unavailable(format!("analytics failed: {e}")))?;
                    snapshot.memo.put(memo_key, Arc::new(rows))
                }
            };
            Some(rows.as_ref().clone())
        }
        Source::Compliance => {
            let report = super::compliance::report(&state, &snapshot).await?;
            Some(derived::compliance_rows(&report.periods, &filter))
        }
        _ => None,
    };
    let encoder =
        encode::encoder(format, dataset.fields(), filter.bom).map_err(|e| AppError::Unavailable(e.to_string()))?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let (failed, failure) = tokio::sync::oneshot::channel::<String>();
    let pool = state.pool.clone();
    let tree_size = snapshot.tree_size;
    tokio::spawn(async move {
        let sink = ChunkSink::new(encoder, sender);
        match produce(pool, dataset, filter, tree_size, derived_rows, sink).await {
            Ok(_) | Err(ExportError::Disconnected) => {}
            Err(error) => {
                tracing::error!(%error, dataset = dataset.name, "export failed part-way");
                let _ = failed.send(error.to_string());
            }
        }
    });
    // After the last chunk, a failure ends the body with an error, so the client sees a
    // broken transfer rather than a short file that looks complete.
    let sent: prometheus_client::metrics::counter::Counter = state
        .metrics
        .export_bytes
        .get_or_create(&crate::telemetry::ExportLabels {
            dataset: dataset.name.to_owned(),
            format: format.extension().to_owned(),
        })
        .clone();
    let chunks = futures_util::stream::unfold((receiver, sent), |(mut receiver, sent)| async move {
        let bytes = receiver.recv().await?;
        sent.inc_by(bytes.len() as u64);
        Some((Ok::<_, std::io::Error>(Bytes::from(bytes)), (receiver, sent)))
    });
    let tail = futures_util::stream::once(async move {
        match failure.await {
            Ok(reason) => Err(std::io::Error::other(reason)),
            Err(_) => Ok(Bytes::new()),
        }
    });
    let body = Body::from_stream(futures_util::StreamExt::chain(chunks, tail));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    let disposition = format!("attachment; filename=\"{}\"", dataset.file_name(tree_size, format));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&tree_size.to_string()) {
        headers.insert("x-gatelog-tree-size", value);
    }
    if let Ok(value) = HeaderValue::from_str(&snapshot.root_hex) {
        headers.insert("x-gatelog-root", value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    Ok(response)
}

/// Runs one export into `sink`.
async fn produce(
    pool: sqlx::PgPool,
    dataset: Dataset,
    filter: ExportFilter,
    tree_size: u64,
    derived_rows: Option<Vec<Vec<Cell>>>,
    mut sink: ChunkSink,
) -> Result<u64, ExportError> {
    let rows = match (dataset.source, derived_rows) {
        (_, Some(rows)) => {
            let count = rows.len() as u64;
            for row in rows {
                sink.push(row).await?;
            }
            count
        }
        (Source::Records(_) | Source::Entries, None) => {
            let mut conn = pool.acquire().await?;
            let result = match dataset.source {
                Source::Records(kind) => source::records(&mut conn, kind, &filter, tree_size, &mut sink).await,
                _ => source::entries(&mut conn, &filter, tree_size, &mut sink).await,
            };
            if result.is_err() {
                // Closing the connection ends the query on the server too, rather than
                // draining the rest of its rows into a connection nobody reads.
                conn.close_on_drop();
            }
            result?
        }
        (Source::Derived(_) | Source::Compliance, None) => 0,
    };
    sink.finish().await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use axum::http::StatusCode;
    use polars::prelude::*;
    use sha2::{Digest, Sha256};

    use crate::testing::TestApp;

    fn csv_rows(text: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
        let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
        let rows = reader
            .records()
            .map(|r| {
                let r = r.expect("well-formed CSV");
                header.iter().cloned().zip(r.iter().map(str::to_owned)).collect()
            })
            .collect();
        (header, rows)
    }

    #[tokio::test]
    async fn the_data_page_lists_every_dataset_with_rows_and_working_links() {
        let app = TestApp::with_demo().await;
        let html = app.get("/data").await.html();
        let rows = html.texts_of("#datasets tbody td.rows");
        assert_eq!(rows.len(), crate::datasets::CATALOG.len());
        assert!(rows.iter().all(|r| r.parse::<u64>().is_ok_and(|n| n > 0)), "{rows:?}");
        for href in html.attrs_of("#datasets a", "href") {
            let response = app.get(&href).await;
            assert_eq!(response.status, StatusCode::OK, "{href}: {}", response.text());
        }
        assert!(html.text_of("#cite").contains("checkpoint"));
        let dictionary = app.get("/data/dictionary").await.html();
        for dataset in crate::datasets::CATALOG {
            let columns = dictionary.texts_of(&format!("section:has(h2#{}) tbody tr", dataset.name));
            assert_eq!(columns.len(), dataset.fields().len(), "{}", dataset.name);
        }
    }

    /// Export, parse, compare with the ledger: the same records, money to the last digit.
    #[tokio::test]
    async fn a_csv_export_round_trips_to_the_latest_records_in_the_ledger() {
        let app = TestApp::with_demo().await;
        let size = app.tree_size().await;
        let response = app.get("/data/prices.csv").await;
        response.assert_status(StatusCode::OK);
        assert_eq!(response.header("content-type"), "text/csv; charset=utf-8; header=present");
        assert_eq!(
            response.header("content-disposition"),
            format!("attachment; filename=\"gatelog_prices_{size}.csv\"")
        );
        let (header, rows) = csv_rows(&response.text());
        assert_eq!(header[..5], ["entry_index", "provider", "received_at", "supersedes", "superseded_by"]);
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let latest: Vec<_> = crate::db::records::latest(&mut conn, None)
            .await
            .expect("latest")
            .into_iter()
            .filter(|r| r.kind == "price")
            .collect();
        assert_eq!(rows.len(), latest.len());
        let by_index: BTreeMap<String, &crate::db::records::LatestRecord> =
            latest.iter().map(|r| (r.index.to_string(), r)).collect();
        for row in &rows {
            let record =
                by_index.get(&row["entry_index"]).unwrap_or_else(|| panic!("row {row:?} is not a latest version"));
            assert_eq!(row["provider"], record.provider);
            for field in ["price_per_accelerator_hour", "currency", "effective_date", "region"] {
                assert_eq!(row[field], record.record[field].as_str().unwrap_or_default(), "{field}");
            }
            assert_eq!(
                row["cost_basis_per_accelerator_hour"],
                record.record["cost_basis_per_accelerator_hour"].as_str().unwrap_or("")
            );
        }
        // The amended Stratus price: the latest version points back to the original.
        assert!(rows.iter().any(|r| r["provider"] == "stratus-compute" && !r["supersedes"].is_empty()));
    }

    #[tokio::test]
    async fn the_amendment_chain_comes_with_include_superseded() {
        let app = TestApp::with_demo().await;
        let (_, latest) = csv_rows(&app.get("/data/queue_times.csv?provider=corvid-gpu").await.text());
        let (_, all) =
            csv_rows(&app.get("/data/queue_times.csv?provider=corvid-gpu&include_superseded=true").await.text());
        assert_eq!(all.len(), latest.len() + 1, "Corvid amended one queue-time filing once");
        let original = all.iter().find(|r| !r["superseded_by"].is_empty()).expect("the superseded original");
        let amendment = all.iter().find(|r| r["entry_index"] == original["superseded_by"]).expect("its amendment");
        assert_eq!(amendment["supersedes"], original["entry_index"]);
        assert_ne!(amendment["p99_seconds"], original["p99_seconds"]);
        assert!(latest.iter().all(|r| r["provider"] == "corvid-gpu"));
    }

    #[tokio::test]
    async fn ndjson_and_parquet_hold_the_same_rows_with_declared_types() {
        let app = TestApp::with_demo().await;
        let (_, csv) = csv_rows(&app.get("/data/capacity.csv?region=eu-fi&from=2025-01-01").await.text());
        assert!(!csv.is_empty() && csv.iter().all(|r| r["region"] == "eu-fi" && r["as_of"].as_str() >= "2025-01-01"));
        let ndjson = app.get("/data/capacity.ndjson?region=eu-fi&from=2025-01-01").await;
        assert_eq!(ndjson.header("content-type"), "application/x-ndjson");
        let lines: Vec<serde_json::Value> =
            ndjson.text().lines().map(|l| serde_json::from_str(l).expect("a JSON object per line")).collect();
        assert_eq!(lines.len(), csv.len());
        assert_eq!(lines[0]["total_accelerators"].to_string(), csv[0]["total_accelerators"]);
        let parquet = app.get("/data/capacity.parquet?region=eu-fi&from=2025-01-01").await;
        let frame = ParquetReader::new(std::io::Cursor::new(parquet.body.clone())).finish().expect("parquet");
        assert_eq!(frame.height(), csv.len());
        let dtypes: BTreeMap<String, DataType> =
            frame.columns().iter().map(|c| (c.name().to_string(), c.dtype().clone())).collect();
        assert_eq!(dtypes["as_of"], DataType::Date);
        assert_eq!(dtypes["total_accelerators"], DataType::Int64);
        assert!(matches!(dtypes["utilisation"], DataType::Decimal(38, 12)), "{:?}", dtypes["utilisation"]);
        assert!(matches!(dtypes["received_at"], DataType::Datetime(_, _)));
        let utilisation = frame.column("utilisation").expect("col").cast(&DataType::String).expect("cast");
        let first =
            utilisation.str().expect("str").get(0).map(|s| s.parse::<rust_decimal::Decimal>().expect("decimal"));
        assert_eq!(first, csv[0]["utilisation"].parse::<rust_decimal::Decimal>().ok());
    }

    #[tokio::test]
    async fn entries_carry_the_exact_hashed_bytes() {
        let app = TestApp::with_demo().await;
        let (_, rows) = csv_rows(&app.get("/data/entries.csv?kind=lockup").await.text());
        assert!(!rows.is_empty());
        for row in rows {
            assert_eq!(row["kind"], "lockup");
            let mut hasher = Sha256::new();
            hasher.update([0u8]);
            hasher.update(row["entry"].as_bytes());
            assert_eq!(hex::encode(hasher.finalize()), row["leaf_hash"], "entry {}", row["entry_index"]);
        }
        let derived = app.get("/data/grades.csv?bom=1").await.text();
        assert!(derived.starts_with('\u{feff}'), "Excel's byte-order mark");
        assert_eq!(csv_rows(&derived).1.len(), 12 * 6);
    }

    #[tokio::test]
    async fn bad_requests_say_what_is_wrong() {
        let app = TestApp::with_demo().await;
        for path in ["/data/nonsense.csv", "/data/prices.xlsx", "/data/prices"] {
            let response = app.get(path).await;
            response.assert_status(StatusCode::NOT_FOUND);
            let message = response.json()["error"]["message"].as_str().unwrap_or_default().to_owned();
            assert!(message.contains("queue_times") && message.contains("parquet"), "{message}");
        }
        for (path, parameter) in [
            ("/data/prices.csv?from=2024-13-01", "from"),
            ("/data/prices.csv?provider=nobody", "provider"),
            ("/data/entries.csv?kind=gossip", "kind"),
            ("/data/grades.csv?region=eu-de", "region"),
            ("/data/prices.parquet?bom=1", "bom"),
        ] {
            let response = app.get(path).await;
            response.assert_status(StatusCode::BAD_REQUEST);
            let body = response.json();
            assert_eq!(body["error"]["details"][0]["field"], parameter, "{path}: {body}");
        }
    }
}

#[cfg(test)]
mod disconnect_tests {
    use std::time::{Duration, Instant};

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use crate::testing::TestApp;

    /// Backends running the entries export right now.
    async fn export_backends(app: &TestApp) -> Vec<i32> {
        sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
             AND state = 'active' AND backend_type = 'client backend'
             AND query LIKE 'SELECT idx, provider, kind, received_at, supersedes, leaf_hash, entry%'",
        )
        .fetch_all(&app.db.pool)
        .await
        .expect("pg_stat_activity")
    }

    async fn backend_exists(app: &TestApp, pid: i32) -> bool {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
            .bind(pid)
            .fetch_one(&app.db.pool)
            .await
            .expect("pg_stat_activity")
    }

    /// A client that hangs up mid-download stops the query: the server neither keeps
    /// producing rows nor leaves PostgreSQL blocked sending them to a connection nobody reads.
    #[tokio::test]
    async fn a_client_that_disconnects_stops_the_query() {
        let app = TestApp::new().await;
        // Enough rows (~15 MB of CSV) that PostgreSQL cannot hand them all to the socket at once.
        for start in (0..60_000).step_by(10_000) {
            app.ledger().append(&app.db.pool, &crate::testing::sample_batch(start, 10_000)).await.expect("append");
        }
        let request = Request::get("/data/entries.csv").body(Body::empty()).expect("request");
        let response = app.router.clone().oneshot(request).await.expect("response");
        let mut body = response.into_body();
        let first = body.frame().await.expect("a first chunk").expect("frame");
        assert!(first.data_ref().is_some_and(|d| d.starts_with(b"entry_index,")));
        // The export is under way: PostgreSQL is still sending rows.
        let backends = export_backends(&app).await;
        assert_eq!(backends.len(), 1, "the export query should be running");
        drop(body);
        // Its connection is closed rather than drained (reading every remaining row) and reused.
        let deadline = Instant::now() + Duration::from_secs(10);
        while backend_exists(&app, backends[0]).await {
            assert!(Instant::now() < deadline, "the export's connection is still open after the client left");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
