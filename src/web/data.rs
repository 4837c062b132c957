//! `/data` (every dataset with its row count, columns and download links),
//! `/data/dictionary` (every column of every dataset) and `/data/{dataset}.{format}`
//! (the export: streamed, pinned to the current checkpoint, named after it).

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::cite::Citation;
use super::page_data::{self, PageData};
use crate::AppState;
use crate::api::extract::{Path, Query};
use crate::datasets::cell::Cell;
use crate::datasets::encode::{self, ChunkSink};
use crate::datasets::filter::{ExportFilter, ExportQuery};
use crate::datasets::source::{self, ExportError, RowSink};
use crate::datasets::table::Table;
use crate::datasets::{CATALOG, Dataset, Format, Source, derived};
use crate::error::{ApiError, AppError, ErrorDetail, PageError};

/// How many exports run at once, and how long one waits for its first page and for a
/// client that has stopped reading (issue 15). An export holds a database connection only
/// while a page is read; these bound the rest: its task, its buffers, its share of the pool.
#[derive(Debug, Clone)]
pub struct ExportLimits {
    slots: Arc<tokio::sync::Semaphore>,
    stall: Duration,
    start: Duration,
    /// Exports running per client address (IPv6 per /64), so that one client opening
    /// many exports and reading none cannot hold every slot for the stall limit.
    per_client: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    max_per_client: usize,
}

/// A client already runs its share of exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this client already runs its share of exports")]
pub struct OverShare;

/// One client's claim on an export, given back when the export ends.
pub struct ClientClaim {
    counts: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    client: std::net::IpAddr,
}

impl Drop for ClientClaim {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock()
            && let Some(count) = counts.get_mut(&self.client)
        {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

impl ExportLimits {
    /// A client that takes no chunk for this long loses its export (and, in `serve`, its
    /// connection: see [`crate::net`]).
    pub const STALL: Duration = crate::net::SEND_STALL;
    /// Longest wait for an export's first page before answering 503; well under the
    /// request timeout, so the client gets our error rather than the timeout's.
    pub const START: Duration = Duration::from_secs(10);

    /// At most `max` exports at once; `stall` and `start` as [`Self::STALL`] and [`Self::START`].
    pub fn new(max: usize, stall: Duration, start: Duration) -> Self {
        Self {
            slots: Arc::new(tokio::sync::Semaphore::new(max.max(1))),
            stall,
            start,
            per_client: Arc::default(),
            // A quarter of the slots, and at least two: a browser may fetch two files at once.
            max_per_client: (max / 4).max(2),
        }
    }

    /// Claims one of `client`'s exports; `None` if it already runs its share. Without a
    /// client address (behind a proxy, where every client has the proxy's) there is no claim
    /// to make, and only the overall slots apply.
    pub fn claim_for(&self, client: Option<std::net::IpAddr>) -> Result<Option<ClientClaim>, OverShare> {
        let Some(client) = client else { return Ok(None) };
        let mut counts = self.per_client.lock().map_err(|_| OverShare)?;
        let count = counts.entry(client).or_default();
        if *count >= self.max_per_client {
            return Err(OverShare);
        }
        *count += 1;
        Ok(Some(ClientClaim { counts: self.per_client.clone(), client }))
    }

    /// Half the pool's connections: even with every export reading a page at once, page
    /// views and ingest keep the other half.
    pub fn for_pool(pool: &sqlx::PgPool) -> Self {
        let connections = pool.options().get_max_connections() as usize;
        Self::new(connections / 2, Self::STALL, Self::START)
    }

    /// Export slots free right now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

/// How long a client refused for lack of capacity is asked to wait, in seconds.
const EXPORT_RETRY_AFTER: u32 = 5;

/// 503 in the API's envelope with `Retry-After`: nothing of the export has been sent.
fn busy(reason: &str) -> Response {
    let mut response = ApiError(AppError::Unavailable(reason.to_owned())).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(EXPORT_RETRY_AFTER));
    response
}

/// The answer to an export that failed before its first byte.
fn not_started(error: ExportError) -> Response {
    match error {
        ExportError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) => {
            busy("the database has no connection free for this export; retry in a few seconds")
        }
        ExportError::Database(error) => ApiError(AppError::Database(error)).into_response(),
        other => {
            tracing::error!(error = %other, "export failed before its first byte");
            busy("the export could not be produced; it has been logged")
        }
    }
}

/// A dataset as `/data` lists it.
pub struct DatasetRow {
    pub dataset: Dataset,
    /// Rows at this checkpoint (latest versions for record datasets).
    pub rows: u64,
    /// Column names.
    pub columns: Vec<&'static str>,
    /// Entry indexes of latest versions left out because their record no longer decodes.
    pub unreadable: Vec<u64>,
}

#[derive(Template)]
#[template(path = "data/index.html")]
pub struct DataPage {
    /// Every dataset.
    pub datasets: Vec<DatasetRow>,
    /// The checkpoint.
    pub snapshot: Arc<PageData>,
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
/// offer, newest first (what `gatelog verify figures` checks by default).
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

/// Rows a dataset has at a snapshot, counted from the providers' digests (no query); the
/// reports and answers, from `third_party` (their counts, read once for the page).
fn row_count(snapshot: &PageData, dataset: &Dataset, third_party: (u64, u64)) -> u64 {
    let sum = |count: &dyn Fn(&crate::projection::summary::Digest) -> u64| {
        crate::analytics::sum(snapshot.providers.iter().filter_map(|p| snapshot.digest(p.slug.as_str())).map(count))
    };
    match dataset.source {
        Source::Entries => snapshot.tree_size,
        Source::Records(kind) => sum(&|d| d.records_of(kind)),
        Source::Derived(table) => match table {
            Table::QueuePercentiles => sum(&|d| d.queue_points),
            Table::AcceptanceRates => sum(&|d| d.acceptance.len() as u64),
            Table::PriceSeries => sum(&|d| d.price_points),
            Table::LockupShares => sum(&|d| d.lockups),
            Table::BuyerShares | Table::MarketConcentration => snapshot
                .memo
                .get::<crate::analytics::concentration::Market>("market")
                .map_or(0, |m| crate::datasets::concentration::row_count(table, &m)),
            Table::Grades => {
                let components = crate::analytics::grades::Component::ALL.len() as u64;
                snapshot.providers.iter().filter(|p| snapshot.grade(p.slug.as_str()).is_some()).count() as u64
                    * components
            }
        },
        Source::Compliance => {
            snapshot.memo.get::<super::compliance::ComplianceReport>("compliance").map_or(0, |r| r.periods.len() as u64)
        }
        Source::Reports => third_party.0,
        Source::ReportAnswers => third_party.1,
    }
}

/// `/data`.
pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let snapshot = page_data::current(&state).await?;
    if let Some(fresh) = super::not_modified(&headers, &snapshot) {
        return Ok(fresh);
    }
    // Computed now if nobody has asked for it at this checkpoint yet; its size is listed.
    super::compliance::report(&state, &snapshot).await?;
    super::counterparties::market(&state, &snapshot).await?;
    let third_party = crate::db::report_export::counts(&mut *state.pool.acquire().await?, snapshot.tree_size).await?;
    let datasets = CATALOG
        .iter()
        .map(|d| DatasetRow {
            dataset: *d,
            rows: row_count(&snapshot, d, third_party),
            columns: d.fields().iter().map(|f| f.name).collect(),
            unreadable: match d.source {
                Source::Records(kind) => snapshot.unreadable_of(Some(kind.as_str())).iter().map(|u| u.index).collect(),
                _ => Vec::new(),
            },
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
    extensions: axum::http::Extensions,
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
    // Refused before any work, and before any byte: a client over its share is a 429, a
    // full house a 503; both say when to retry. The share applies only where the server
    // sees real client addresses (the per-address limit is on, so no proxy hides them).
    let client = state
        .per_ip
        .as_ref()
        .and(extensions.get::<axum::extract::ConnectInfo<crate::net::PeerAddr>>())
        .map(|info| crate::api::per_ip::client_key(info.0.0.ip()));
    let Ok(claim) = state.exports.claim_for(client) else {
        state.metrics.shed.inc();
        return Err(AppError::RateLimited(u64::from(EXPORT_RETRY_AFTER)).into());
    };
    let Ok(slot) = state.exports.slots.clone().try_acquire_owned() else {
        state.metrics.shed.inc();
        return Ok(busy("every export slot is in use; retry in a few seconds"));
    };
    let snapshot = page_data::current(&state).await?;
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
                    let summaries = summaries(&state, &snapshot).await?;
                    let mut collected = Collected::default();
                    crate::datasets::derived::render(table, &summaries, &filter, &mut collected)
                        .await
                        .map_err(|e| AppError::Unavailable(format!("computing {}: {e}", dataset.name)))?;
                    snapshot.memo.put(memo_key, Arc::new(collected.0))
                }
            };
            Some(rows.as_ref().clone())
        }
        Source::Compliance => {
            let report = super::compliance::report(&state, &snapshot).await?;
            Some(derived::compliance_rows(&report.periods, &filter))
        }
        Source::Reports | Source::ReportAnswers => {
            let entries =
                crate::db::report_export::third_party_entries(&mut *state.pool.acquire().await?, snapshot.tree_size)
                    .await?;
            Some(if dataset.source == Source::Reports {
                crate::datasets::reports::report_rows(&entries, snapshot.signed_at)
            } else {
                crate::datasets::reports::answer_rows(&entries)
            })
        }
        _ => None,
    };
    let encoder =
        encode::encoder(format, dataset.fields(), filter.bom).map_err(|e| AppError::Unavailable(e.to_string()))?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let (ready, first_page) = tokio::sync::oneshot::channel::<()>();
    let (failed, failure) = tokio::sync::oneshot::channel::<ExportError>();
    let pool = state.pool.clone();
    let tree_size = snapshot.tree_size;
    let limits = state.exports.clone();
    let producer = tokio::spawn(async move {
        // The slot is held while rows are produced, not while the last chunks drain to the client.
        let _slot = slot;
        let _claim = claim;
        let sink = ChunkSink::new(encoder, sender).stall_after(limits.stall).on_first_page(ready);
        match produce(pool, dataset, filter, tree_size, derived_rows, sink).await {
            Ok(_) | Err(ExportError::Disconnected) => {}
            Err(error) => {
                if let ExportError::Stalled(_) = error {
                    tracing::info!(%error, dataset = dataset.name, "export given up");
                }
                let _ = failed.send(error);
            }
        }
    });
    // The headers go out once the source has read its first page: what fails before that
    // (no connection free, a failing query) gets an error status instead of a broken file.
    match tokio::time::timeout(state.exports.start, first_page).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => {
            return Ok(match failure.await {
                Ok(error) => not_started(error),
                Err(_) => busy("the export stopped before its first page; retry in a few seconds"),
            });
        }
        Err(_) => {
            producer.abort();
            return Ok(busy("the database is busy; retry in a few seconds"));
        }
    }
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
            Ok(error) => {
                tracing::error!(%error, dataset = dataset.name, "export failed part-way; the download is aborted");
                Err(std::io::Error::other(error.to_string()))
            }
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
/// The projection's summaries at the snapshot's checkpoint, read once per checkpoint.
async fn summaries(
    state: &AppState,
    snapshot: &PageData,
) -> Result<Arc<crate::datasets::summaries::Summaries>, AppError> {
    if let Some(held) = snapshot.memo.get::<crate::datasets::summaries::Summaries>("summaries") {
        return Ok(held);
    }
    // Only the projection's tables, never a fold of the ledger in a request: if the ledger
    // moved on between the page state and this read, the client retries on the new checkpoint.
    let loaded = crate::datasets::summaries::Summaries::from_tables(&state.pool, snapshot.tree_size)
        .await
        .map_err(|e| AppError::Unavailable(format!("reading the projection: {e}")))?
        .ok_or_else(|| AppError::Unavailable("new entries arrived while this export started; retry".into()))?;
    Ok(snapshot.memo.put("summaries".into(), Arc::new(loaded)))
}

/// Rows collected in memory (a derived table is small: a few rows per provider).
#[derive(Default)]
struct Collected(Vec<Vec<Cell>>);

impl source::RowSink for Collected {
    async fn push(&mut self, row: Vec<Cell>) -> Result<(), ExportError> {
        self.0.push(row);
        Ok(())
    }
}

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
            sink.page_read();
            let count = rows.len() as u64;
            for row in rows {
                sink.push(row).await?;
            }
            count
        }
        (Source::Records(kind), None) => source::records(&pool, kind, &filter, tree_size, &mut sink).await?,
        (Source::Entries, None) => source::entries(&pool, &filter, tree_size, &mut sink).await?,
        (Source::Derived(_) | Source::Compliance | Source::Reports | Source::ReportAnswers, None) => {
            sink.page_read();
            0
        }
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

    /// Issue 15: one client cannot hold every export slot by opening many and reading none.
    #[test]
    fn one_client_gets_its_share_of_the_export_slots_and_no_more() {
        let limits = super::ExportLimits::new(8, super::ExportLimits::STALL, super::ExportLimits::START);
        let one: std::net::IpAddr = "192.0.2.1".parse().expect("address");
        let other: std::net::IpAddr = "192.0.2.2".parse().expect("address");
        let first = limits.claim_for(Some(one)).expect("first").expect("a claim");
        let _second = limits.claim_for(Some(one)).expect("second");
        assert!(limits.claim_for(Some(one)).is_err(), "a third at once is over this client's share");
        assert!(limits.claim_for(Some(other)).is_ok(), "another client is not affected");
        drop(first);
        assert!(limits.claim_for(Some(one)).is_ok(), "an ended export gives its claim back");
        assert!(limits.claim_for(None).expect("no address, no share").is_none());
    }

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
            let columns = dictionary.texts_of(&format!("section:has(h2#{}) .field", dataset.name));
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
        let query = crate::db::projection::LatestQuery {
            kind: Some(crate::records::RecordKind::Price),
            ..crate::db::projection::LatestQuery::default()
        };
        let latest = crate::db::projection::latest_records(&mut conn, &query).await.expect("latest");
        assert_eq!(rows.len(), latest.len());
        let by_index: BTreeMap<String, (&String, serde_json::Value)> =
            latest.iter().map(|(provider, index, record)| (index.to_string(), (provider, record.to_json()))).collect();
        for row in &rows {
            let (provider, record) =
                by_index.get(&row["entry_index"]).unwrap_or_else(|| panic!("row {row:?} is not a latest version"));
            assert_eq!(&row["provider"], *provider);
            for field in ["price_per_accelerator_hour", "currency", "effective_date", "region"] {
                assert_eq!(row[field], record[field].as_str().unwrap_or_default(), "{field}");
            }
            assert_eq!(
                row["cost_basis_per_accelerator_hour"],
                record["cost_basis_per_accelerator_hour"].as_str().unwrap_or("")
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

    /// Exports read the ledger a page at a time: versions amended on a later page are still
    /// left out of "latest only", and their `superseded_by` still names the amendment.
    #[tokio::test]
    async fn paging_keeps_latest_versions_and_amendment_links_across_pages() {
        use crate::datasets::source::PAGE_ROWS;
        let app = TestApp::new().await;
        app.provider_token("nordic-hpc").await;
        let pending = |day: u64, total: u64, supersedes: Option<u64>| {
            let as_of =
                (chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("date") + chrono::Days::new(day)).to_string();
            crate::ledger::entry::PendingEntry {
                provider: crate::records::Slug::parse("nordic-hpc").expect("slug"),
                kind: "capacity".into(),
                natural_key: format!("{as_of}|a100|eu-fi"),
                record: serde_json::json!({"as_of": as_of, "resource": "a100", "region": "eu-fi",
                    "total_accelerators": total, "newcomer_set_aside": 8}),
                supersedes,
                signature: None,
            }
        };
        let originals = PAGE_ROWS + 500;
        let first: Vec<_> = (0..originals).map(|day| pending(day, 100, None)).collect();
        app.ledger().append(&app.db.pool, &first).await.expect("originals");
        // Entries on the first page amended from the second, and one amendment amended again.
        let mut amendments: Vec<_> = (0..300).map(|k| pending(k * 3, 200, Some(k * 3))).collect();
        amendments.push(pending(0, 300, Some(originals)));
        app.ledger().append(&app.db.pool, &amendments).await.expect("amendments");

        let (_, latest) = csv_rows(&app.get("/data/capacity.csv").await.text());
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let query = crate::db::projection::LatestQuery {
            kind: Some(crate::records::RecordKind::Capacity),
            ..crate::db::projection::LatestQuery::default()
        };
        let mut expected: Vec<String> = crate::db::projection::latest_records(&mut conn, &query)
            .await
            .expect("latest")
            .into_iter()
            .map(|(_, index, _)| index.to_string())
            .collect();
        expected.sort();
        let mut exported: Vec<String> = latest.iter().map(|r| r["entry_index"].clone()).collect();
        exported.sort();
        assert_eq!(exported.len(), originals as usize);
        assert_eq!(exported, expected);

        let (_, all) = csv_rows(&app.get("/data/capacity.csv?include_superseded=true").await.text());
        assert_eq!(all.len(), originals as usize + 301);
        let superseded_by: BTreeMap<u64, String> =
            all.iter().map(|r| (r["entry_index"].parse().expect("index"), r["superseded_by"].clone())).collect();
        for k in 0..300 {
            assert_eq!(superseded_by[&(k * 3)], (originals + k).to_string(), "entry {}", k * 3);
            assert_eq!(superseded_by[&(k * 3 + 1)], "", "entry {} was never amended", k * 3 + 1);
        }
        assert_eq!(superseded_by[&originals], (originals + 300).to_string(), "an amendment amended again");
        let indices: Vec<u64> = all.iter().map(|r| r["entry_index"].parse().expect("index")).collect();
        assert!(indices.windows(2).all(|w| w[0] < w[1]), "rows in entry order, each once");
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

    /// Reports and answers are their own datasets: one row per entry in the reports
    /// tables, with the latest answer (or the days unanswered), in every format.
    #[tokio::test]
    async fn reports_and_answers_export_as_their_own_tables() {
        let app = TestApp::with_demo().await;
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let reports: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
            "SELECT r.idx, r.reporter, r.about,
                    (SELECT response FROM report_answers a WHERE a.report = r.idx ORDER BY a.idx DESC LIMIT 1)
             FROM reports r ORDER BY r.idx",
        )
        .fetch_all(&mut *conn)
        .await
        .expect("reports");
        let (header, rows) = csv_rows(&app.get("/data/reports.csv").await.text());
        let fields: Vec<&str> = crate::datasets::schema::report_fields().iter().map(|f| f.name).collect();
        assert_eq!(header, fields);
        assert!(!reports.is_empty());
        let got: Vec<(i64, String, String, Option<String>)> = rows
            .iter()
            .map(|r| {
                let status = Some(r["answer_status"].clone()).filter(|s| s != "unanswered");
                (r["entry_index"].parse().expect("index"), r["reporter"].clone(), r["about"].clone(), status)
            })
            .collect();
        assert_eq!(got, reports);
        for row in &rows {
            assert_eq!(row["answer_status"] == "unanswered", !row["days_unanswered"].is_empty(), "{row:?}");
            assert_eq!(row["sources"].split(' ').next(), Some(row["first_source"].as_str()));
        }
        let orbital = rows.iter().find(|r| r["fields"].contains("Orbital Reasoning Co")).expect("demo report");
        assert_eq!(orbital["answer_status"], "dispute");

        let answers: Vec<(i64, i64, String, String)> =
            sqlx::query_as("SELECT idx, report, provider, response FROM report_answers ORDER BY idx")
                .fetch_all(&mut *conn)
                .await
                .expect("answers");
        let (_, rows) = csv_rows(&app.get("/data/report_answers.csv").await.text());
        let got: Vec<(i64, i64, String, String)> = rows
            .iter()
            .map(|r| {
                let index = |c: &str| r[c].parse::<i64>().expect("index");
                (index("entry_index"), index("report_index"), r["provider"].clone(), r["response"].clone())
            })
            .collect();
        assert_eq!(got, answers);
        let corrected = rows.iter().find(|r| r["response"] == "correct").expect("a correction");
        assert_eq!(corrected["corrections"], r#"{"accelerators":1024}"#);

        for name in ["reports", "report_answers"] {
            let ndjson = app.get(&format!("/data/{name}.ndjson")).await;
            ndjson.assert_status(StatusCode::OK);
            let parquet = app.get(&format!("/data/{name}.parquet")).await;
            let frame = ParquetReader::new(std::io::Cursor::new(parquet.body.clone())).finish().expect("parquet");
            assert_eq!(frame.height(), ndjson.text().lines().count(), "{name}");
            app.get(&format!("/data/{name}.csv?provider=corvid-gpu")).await.assert_status(StatusCode::BAD_REQUEST);
        }
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
mod hostile_client_tests {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use axum::http::StatusCode;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::ExportLimits;
    use crate::testing::TestApp;

    /// Enough entries (~15 MB of CSV) that an export cannot fit into the buffers
    /// between the server and a client that reads nothing.
    async fn big_ledger(app: &TestApp) {
        for start in (0..60_000).step_by(10_000) {
            app.ledger().append(&app.db.pool, &crate::testing::sample_batch(start, 10_000)).await.expect("append");
        }
    }

    /// The app with these export limits.
    fn with_limits(mut app: TestApp, limits: ExportLimits) -> TestApp {
        app.state = app.state.clone().with_export_limits(limits);
        app.router = crate::app(app.state.clone(), &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static"));
        app
    }

    /// Serves the app on a loopback port, with the listener `serve` uses.
    async fn serve(app: &TestApp) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("addr");
        let service = app.router.clone().into_make_service_with_connect_info::<crate::net::PeerAddr>();
        tokio::spawn(async move { axum::serve(crate::net::NoDelayListener(listener), service).await });
        address
    }

    /// A client that asks for `path` and reads nothing (a small receive window, so the
    /// server's buffers fill fast).
    async fn stalled_reader(address: SocketAddr, path: &str) -> tokio::net::TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let mut stream = socket.connect(address).await.expect("connect");
        stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes()).await.expect("send");
        stream
    }

    /// Pooled connections in use right now (checked out of the pool).
    fn in_use(app: &TestApp) -> u32 {
        app.db.pool.size() - app.db.pool.num_idle() as u32
    }

    /// Waits until `done` holds, failing with `what` after `patience`.
    async fn eventually(what: &str, patience: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + patience;
        while !done() {
            assert!(Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn shed(app: &TestApp) -> u64 {
        let text = app.state.metrics.encode();
        text.lines()
            .find_map(|l| l.strip_prefix("gatelog_requests_shed_total "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// A blocking GET over TCP (ureq, as a client would): status, headers and body.
    async fn fetch(address: SocketAddr, path: &str) -> (u16, Option<String>, Vec<u8>) {
        let url = format!("http://{address}{path}");
        tokio::task::spawn_blocking(move || {
            let config = ureq::Agent::config_builder().http_status_as_error(false).build();
            let mut response = ureq::Agent::new_with_config(config).get(&url).call().expect("response");
            let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = response.body_mut().with_config().limit(1 << 30).read_to_vec().expect("a complete body");
            (response.status().as_u16(), retry, body)
        })
        .await
        .expect("client")
    }

    /// Issue 15: fifty clients ask for a large export and read nothing. Two get an export slot
    /// (half the test pool of five), the rest a 503 at once; the two exports hold no database
    /// connection while they wait for their clients, so page views and ingest are served; an
    /// export gives its slot back when its client hangs up, or after the stall limit.
    #[tokio::test]
    async fn fifty_stalled_readers_neither_hold_connections_nor_block_pages_and_ingest() {
        let app = TestApp::new().await;
        big_ledger(&app).await;
        let token = app.provider_token("nordic-hpc").await;
        let app = with_limits(app, ExportLimits::new(2, Duration::from_secs(15), ExportLimits::START));
        let address = serve(&app).await;
        let mut readers = Vec::new();
        for _ in 0..50 {
            readers.push(stalled_reader(address, "/data/entries.csv").await);
        }
        eventually("48 exports beyond the limit should be refused", Duration::from_secs(30), || shed(&app) == 48).await;
        assert_eq!(app.state.exports.available(), 0, "two exports are under way");
        // Their clients read nothing: the exports wait with no pooled connection checked out.
        eventually("stalled exports still hold pooled connections", Duration::from_secs(10), || in_use(&app) == 0)
            .await;

        // Another export is refused before its first byte, in the API's envelope.
        let (status, retry, body) = fetch(address, "/data/entries.csv").await;
        assert_eq!(status, 503);
        assert_eq!(retry.as_deref(), Some("5"));
        let envelope: serde_json::Value = serde_json::from_slice(&body).expect("the error envelope");
        assert_eq!(envelope["error"]["code"], "unavailable", "{envelope}");

        // Pages and ingest are served meanwhile, and the pool still has room.
        let pages = tokio::time::timeout(Duration::from_secs(20), app.get("/ledger")).await.expect("a page view");
        pages.assert_status(StatusCode::OK);
        let record = serde_json::json!({"kind": "capacity", "as_of": "2026-11-01", "resource": "a100",
            "region": "eu-fi", "total_accelerators": 64, "newcomer_set_aside": 8});
        let ingest = app.post("/api/v1/records", "application/json", record.to_string(), Some(&token), &[]);
        tokio::time::timeout(Duration::from_secs(20), ingest)
            .await
            .expect("an ingest batch")
            .assert_status(StatusCode::CREATED);
        // Room in the pool: fewer connections checked out than it may open. (Not "idle
        // connections": against an external server the pool may have closed its idle ones.)
        let most = app.db.pool.options().get_max_connections();
        assert!(in_use(&app) < most, "{} of {most} connections checked out while 50 readers stall", in_use(&app));

        // Clients that hang up give their slots back at once (their exports stop at the next chunk).
        drop(readers);
        eventually("exports of clients that hung up still hold their slots", Duration::from_secs(10), || {
            app.state.exports.available() == 2
        })
        .await;
        // Clients that stay connected and read nothing lose their exports after the stall limit.
        let _stalled =
            [stalled_reader(address, "/data/entries.csv").await, stalled_reader(address, "/data/entries.csv").await];
        eventually("two new exports should start", Duration::from_secs(10), || app.state.exports.available() == 0)
            .await;
        eventually("stalled exports still hold their slots", Duration::from_secs(60), || {
            app.state.exports.available() == 2
        })
        .await;
        // A client that reads gets the whole file.
        let (status, _, body) = fetch(address, "/data/entries.csv?provider=nordic-hpc").await;
        assert_eq!(status, 200);
        // Every third sample entry, the ingested record, and the header.
        assert_eq!(body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(), 1 + 20_000 + 1);
    }

    /// Reads a response's head and as much of its chunked body as `limit` allows.
    async fn read_head(stream: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "the connection closed before the response head");
            seen.extend_from_slice(&buf[..n]);
            if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&seen[..end]).into_owned();
                return (head, seen[end + 4..].to_vec());
            }
        }
    }

    /// Decodes a chunked body: its data, and whether it ended with the terminating 0-chunk.
    fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
        let mut data = Vec::new();
        loop {
            let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") else { return (data, false) };
            let size =
                std::str::from_utf8(&raw[..line_end]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
            let Some(size) = size else { return (data, false) };
            raw = &raw[line_end + 2..];
            if size == 0 {
                return (data, raw.starts_with(b"\r\n"));
            }
            if raw.len() < size + 2 {
                data.extend_from_slice(&raw[..raw.len().min(size)]);
                return (data, false);
            }
            data.extend_from_slice(&raw[..size]);
            raw = &raw[size + 2..];
        }
    }

    /// An export that fails after its headers must not look like a complete file: the
    /// chunked body ends without its terminating 0-chunk (curl exits 18), over a real socket.
    /// The failure here is real: the database goes away between two pages.
    #[tokio::test]
    async fn an_export_that_fails_after_its_headers_ends_without_the_last_chunk() {
        let app = TestApp::new().await;
        big_ledger(&app).await;
        let address = serve(&app).await;
        let mut client = stalled_reader(address, "/data/entries.csv").await;
        let (head, mut body) = read_head(&mut client).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
        // The export is waiting for this client, between pages, holding no connection: the
        // pool can close at once, and the export's next page fails.
        eventually("the stalled export still holds a pooled connection", Duration::from_secs(10), || in_use(&app) == 0)
            .await;
        tokio::time::timeout(Duration::from_secs(10), app.db.pool.close()).await.expect("the pool closes");
        tokio::time::timeout(Duration::from_secs(60), client.read_to_end(&mut body))
            .await
            .expect("the server ends the response")
            .expect("read");
        let (data, terminated) = dechunk(&body);
        assert!(!terminated, "a failed export ended like a complete file");
        let text = String::from_utf8_lossy(&data);
        assert!(text.starts_with("entry_index,"), "the rows before the failure were sent");
        assert!(text.lines().count() < 60_001, "the export stopped part-way");
    }

    /// What can fail before the first byte gets an error status, not a broken download:
    /// here the first page cannot be read in time (the table is locked).
    #[tokio::test]
    async fn an_export_whose_first_page_cannot_be_read_is_a_503_before_any_byte() {
        let app = TestApp::new().await;
        app.ledger().append(&app.db.pool, &crate::testing::sample_batch(0, 10)).await.expect("append");
        let app = with_limits(app, ExportLimits::new(2, ExportLimits::STALL, Duration::from_millis(300)));
        crate::web::page_data::current(&app.state).await.expect("snapshot");
        let mut lock = app.db.pool.begin().await.expect("transaction");
        sqlx::query("LOCK TABLE ledger_entries IN ACCESS EXCLUSIVE MODE").execute(&mut *lock).await.expect("lock");
        let response = app.get("/data/entries.csv").await;
        response.assert_status(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.header("retry-after"), "5");
        assert_eq!(response.json()["error"]["code"], "unavailable");
        lock.rollback().await.expect("unlock");
        eventually("the refused export keeps its slot", Duration::from_secs(10), || app.state.exports.available() == 2)
            .await;
        app.get("/data/entries.csv").await.assert_status(StatusCode::OK);
    }
}
