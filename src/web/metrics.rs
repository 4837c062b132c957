//! `/metrics/{queue-times|acceptance|prices|lockups|capacity}`: cross-provider
//! dashboards, filterable by resource, region and date range with a GET form, so
//! every view has a shareable URL. Bad filter values are explained on the page.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use serde::Deserialize;

use super::format;
use super::metric_charts::PageChart;
use super::metric_rows::{Rows, capacity_rows};
use super::page_data::{self, PageData};
use crate::AppState;
use crate::analytics::tables::{self, AcceptanceRate};
use crate::analytics::{Disclosures, Filter};
use crate::api::extract::{Path, Query};
use crate::error::{AppError, PageError};
use crate::projection::points;
use crate::records::{Record, RecordKind};

/// The dashboards, in menu order: (path segment, title).
pub const METRICS: [(&str, &str); 6] = [
    ("queue-times", "Queue times"),
    ("acceptance", "Acceptance"),
    ("prices", "Prices"),
    ("lockups", "Lock-ups"),
    ("capacity", "Capacity"),
    ("energy", "Energy and carbon"),
];

/// The filter form, as submitted.
#[derive(Debug, Default, Deserialize)]
pub struct FilterQuery {
    /// Resource slug.
    pub resource: Option<String>,
    /// Region slug.
    pub region: Option<String>,
    /// First date (YYYY-MM-DD).
    pub from: Option<String>,
    /// Last date (YYYY-MM-DD).
    pub to: Option<String>,
    /// Page of the table (1-based; [`PAGE_ROWS`] rows each).
    pub page: Option<String>,
}

/// Rows per page of a dashboard's table. A table over every provider runs to thousands of
/// rows (5,000 queue-time rows at 1,000 providers): as one page that is megabytes of HTML
/// that no reader scrolls on a phone and every view would render and send. The whole table
/// is computed once per checkpoint and filter; a page shows a slice of it.
pub const PAGE_ROWS: usize = 200;

/// One table cell.
pub struct Cell {
    /// Text shown.
    pub text: String,
    /// Link, if the cell links somewhere.
    pub href: Option<String>,
}

impl Cell {
    fn text(text: impl ToString) -> Self {
        Self { text: text.to_string(), href: None }
    }

    fn provider(slug: &str, name: &str) -> Self {
        Self { text: name.to_owned(), href: Some(format!("/providers/{slug}")) }
    }
}

/// A dashboard page.
#[derive(Template)]
#[template(path = "metrics/show.html")]
pub struct MetricPage {
    /// Path segment of this metric.
    pub metric: &'static str,
    pub title: &'static str,
    /// The table (shared with other requests for the same filter at this checkpoint).
    pub table: Arc<MetricTable>,
    /// Resources to choose from, and the chosen one.
    pub resources: Vec<String>,
    /// Regions to choose from.
    pub regions: Vec<String>,
    /// The filter in force, as the form shows it.
    pub filter: FilterQuery,
    /// Problems with the filter, explained.
    pub notices: Vec<String>,
    /// The checkpoint the figures come from.
    pub snapshot: Arc<PageData>,
    /// The citation line.
    pub cite: super::cite::Citation,
    /// The page of the table shown (1-based) and how many there are.
    pub page: usize,
    /// Pages in the table (at least 1).
    pub pages: usize,
    /// On `/lockups`: lock-ups reported by others, with the providers' answers (never in the table).
    pub reports: Vec<super::reports::ReportView>,
    /// Days after which a report without an answer counts as unanswered.
    pub unanswered_days: u32,
}

impl MetricPage {
    /// Whether `m` is this page's metric.
    pub fn is_current(&self, m: &str) -> bool {
        self.metric == m
    }

    /// Whether `value` is the selected option of `field`.
    pub fn selected(&self, field: &str, value: &str) -> bool {
        let chosen = match field {
            "resource" => self.filter.resource.as_deref(),
            _ => self.filter.region.as_deref(),
        };
        chosen == Some(value)
    }

    /// The current filter as a query string, for the tab links.
    pub fn query(&self) -> String {
        query_string(&self.filter)
    }

    pub fn page_rows(&self) -> &[Vec<Cell>] {
        let first = (self.page - 1) * PAGE_ROWS;
        self.table.rows.get(first..self.table.rows.len().min(first + PAGE_ROWS)).unwrap_or_default()
    }

    /// "201–400 of 5,000": the rows this page shows.
    pub fn page_range(&self) -> String {
        let first = (self.page - 1) * PAGE_ROWS;
        format!("{}–{} of {}", first + 1, first + self.page_rows().len(), self.table.rows.len())
    }

    /// The link to the table's last page.
    pub fn last_href(&self) -> String {
        self.page_href(self.pages)
    }

    /// The link to page `n` of this table, with the filter in force.
    pub fn page_href(&self, n: usize) -> String {
        let query = self.query();
        let joiner = if query.is_empty() { '?' } else { '&' };
        format!("/metrics/{}{query}{joiner}page={n}", self.metric)
    }
}

/// The page asked for, within the table's pages; a page that does not exist is explained
/// and the nearest one shown.
fn page_of(asked: Option<&str>, pages: usize, notices: &mut Vec<String>) -> usize {
    let Some(text) = asked.map(str::trim).filter(|t| !t.is_empty()) else { return 1 };
    match text.parse::<usize>() {
        Ok(n) if (1..=pages).contains(&n) => n,
        Ok(n) if n > pages => {
            notices.push(format!("The table has {pages} page(s); showing the last."));
            pages
        }
        _ => {
            notices.push(format!("Page {text:?} is not a page number; showing the first."));
            1
        }
    }
}

/// A filter as a query string (`?resource=…&from=…`), empty when nothing is filtered.
fn query_string(filter: &FilterQuery) -> String {
    {
        let parts: Vec<String> =
            [("resource", &filter.resource), ("region", &filter.region), ("from", &filter.from), ("to", &filter.to)]
                .iter()
                .filter_map(|(k, v)| {
                    v.as_deref()
                        .filter(|v| !v.is_empty())
                        .map(|v| format!("{k}={}", v.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "")))
                })
                .collect();
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }
}

/// Turns the submitted form into a filter, explaining and dropping bad values.
fn parse_filter(query: &FilterQuery, resources: &[String], regions: &[String]) -> (Filter, FilterQuery, Vec<String>) {
    let mut notices = Vec::new();
    let mut shown = FilterQuery::default();
    let mut filter = Filter::default();
    let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    if let Some(resource) = nonempty(&query.resource) {
        if resources.contains(&resource) {
            filter.resource = Some(resource.clone());
            shown.resource = Some(resource);
        } else {
            notices.push(format!("No disclosure mentions the resource {resource:?}; showing every resource."));
        }
    }
    if let Some(region) = nonempty(&query.region) {
        if regions.contains(&region) {
            filter.region = Some(region.clone());
            shown.region = Some(region);
        } else {
            notices.push(format!("No disclosure mentions the region {region:?}; showing every region."));
        }
    }
    let mut date = |name: &str, value: &Option<String>| -> Option<NaiveDate> {
        let text = nonempty(value)?;
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                notices.push(format!("{name} {text:?} is not a date written YYYY-MM-DD; it was ignored."));
                None
            }
        }
    };
    let (from, to) = (date("From", &query.from), date("To", &query.to));
    match (from, to) {
        (Some(f), Some(t)) if f > t => notices.push(format!("From ({f}) is after to ({t}); both were ignored.")),
        _ => {
            filter.from = from;
            filter.to = to;
            shown.from = from.map(|d| d.to_string());
            shown.to = to.map(|d| d.to_string());
        }
    }
    (filter, shown, notices)
}

/// A table row: the provider's cell, then `cells` as text.
fn row(provider: Cell, cells: &[String]) -> Vec<Cell> {
    std::iter::once(provider).chain(cells.iter().map(Cell::text)).collect()
}

/// What a dashboard shows (kept per snapshot and filter, so a shared URL is computed once).
pub struct MetricTable {
    /// What the table shows.
    pub explanation: &'static str,
    /// Column headers.
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    /// The chart above the table, or the sentence shown instead.
    pub chart: Result<PageChart, String>,
}

fn table_and_chart(metric: &str, filter: &Filter, snapshot: &PageData, input: &Rows) -> Result<MetricTable, AppError> {
    let mut table = table(metric, snapshot, input)?;
    let names: std::collections::HashMap<&str, &str> =
        snapshot.providers.iter().map(|p| (p.slug.as_str(), p.display_name.as_str())).collect();
    table.chart = if table.rows.is_empty() {
        Err(format!(
            "Nothing disclosed matches this filter ({}), so there is no chart and no table.",
            super::metric_charts::filter_phrase(filter)
        ))
    } else {
        super::metric_charts::dashboard_chart(metric, filter, input, &names)
    };
    Ok(table)
}

pub(super) fn table(metric: &str, snapshot: &PageData, input: &Rows) -> Result<MetricTable, AppError> {
    // Names by slug, once per table: a table over 1,000 providers has thousands of rows, and
    // a scan of the provider list per row was millions of comparisons.
    let names: std::collections::HashMap<&str, &str> =
        snapshot.providers.iter().map(|p| (p.slug.as_str(), p.display_name.as_str())).collect();
    let provider = |slug: &str| Cell::provider(slug, names.get(slug).copied().unwrap_or(slug));
    let filtered = &input.disclosures;
    let (explanation, headers, rows) = match metric {
        "queue-times" => (
            "Median wait per provider and access tier, across the resources, regions and months selected.",
            vec!["provider", "tier", "median wait (h)", "p90 wait (h)", "jobs", "records"],
            input
                .queue
                .iter()
                .map(|s| {
                    vec![
                        provider(&s.provider),
                        Cell::text(&s.tier),
                        Cell::text(format::hours_from_seconds(s.p50_seconds, 2)),
                        Cell::text(format::hours_from_seconds(s.p90_seconds, 2)),
                        Cell::text(s.jobs),
                        Cell::text(s.records),
                    ]
                })
                .collect(),
        ),
        "acceptance" => {
            let mut rows = Vec::new();
            // Grouped once by provider (not filtered once per provider: that is providers × records).
            let mut by_provider: std::collections::HashMap<&str, Disclosures> = std::collections::HashMap::new();
            for (provider, record) in &filtered.acceptance {
                by_provider.entry(provider.as_str()).or_default().acceptance.push((provider.clone(), record.clone()));
            }
            for p in &snapshot.providers {
                let Some(mine) = by_provider.get(p.slug.as_str()) else { continue };
                for rate in tables::acceptance_by_category(mine) {
                    let AcceptanceRate { category, received, accepted, rejected } = &rate;
                    let shown = format::percent_from_share_or_dash(rate.rate());
                    rows.push(vec![
                        provider(p.slug.as_str()),
                        Cell::text(category),
                        Cell::text(received),
                        Cell::text(accepted),
                        Cell::text(rejected),
                        Cell::text(shown),
                    ]);
                }
            }
            (
                "Applications per provider and applicant category in the months selected; the rate is accepted ÷ (accepted + rejected).",
                vec!["provider", "applicant category", "received", "accepted", "rejected", "acceptance rate"],
                rows,
            )
        }
        "prices" => {
            let rows = match &input.shown {
                Some(shown) => shown.iter().map(|(p, cells)| row(provider(p), cells)).collect(),
                None => crate::analytics::prices::latest_prices(filtered)
                    .iter()
                    .map(|latest| row(provider(&latest.provider), &points::price_cells(&latest.price)))
                    .collect(),
            };
            (
                "The latest price in the window per provider, resource, region and pricing model, with the disclosed cost basis and the markup over it.",
                vec![
                    "provider",
                    "resource",
                    "region",
                    "model",
                    "price / accelerator-hour",
                    "cost basis",
                    "markup",
                    "effective",
                ],
                rows,
            )
        }
        "lockups" => {
            let keep = lockup_shares(input);
            let rows = keep
                .iter()
                .map(|s| {
                    vec![
                        provider(&s.provider),
                        Cell::text(&s.lockup.counterparty),
                        Cell::text(s.lockup.accelerators),
                        Cell::text(s.share.map_or("unknown".to_owned(), format::percent_from_share)),
                        Cell::text(s.lockup.exclusivity.as_str()),
                        Cell::text(s.lockup.start_date),
                        Cell::text(s.lockup.end_date.map_or("open-ended".to_owned(), |d| d.to_string())),
                    ]
                })
                .collect();
            (
                "Every disclosed capacity deal, with the share of the provider's capacity it takes at its start.",
                vec!["provider", "counterparty", "accelerators", "share of capacity", "exclusivity", "from", "until"],
                rows,
            )
        }
        "capacity" => {
            let rows = capacity_rows(input).iter().map(|(p, cells)| row(provider(p), cells)).collect();
            (
                "The latest capacity in the window per provider, resource and region, with the newcomer set-aside.",
                vec![
                    "provider",
                    "resource",
                    "region",
                    "as of",
                    "accelerators",
                    "newcomer set-aside",
                    "set-aside share",
                    "utilisation",
                ],
                rows,
            )
        }
        "energy" => {
            let rows = crate::analytics::energy::energy_rows(&filtered.energy, &filtered.capacity)
                .iter()
                .map(|r| row(provider(&r.provider), &super::energy::cells(r)))
                .collect();
            let mut headers = vec!["provider"];
            headers.extend(super::energy::HEADERS);
            (super::energy::METHOD, headers, rows)
        }
        _ => return Err(AppError::NotFound),
    };
    Ok(MetricTable { explanation, headers, rows, chart: Err(String::new()) })
}

/// Every deal the filter keeps with its share of the provider's capacity at its start, in
/// table order (the lock-ups table and chart).
pub(super) fn lockup_shares(input: &Rows) -> Vec<tables::LockupShare> {
    // Shares need every capacity filing before each deal, not only those in the filter.
    let mut deals: std::collections::BTreeMap<&str, Vec<&crate::records::kinds::Lockup>> = Default::default();
    for (provider, lockup) in &input.disclosures.lockups {
        deals.entry(provider.as_str()).or_default().push(lockup);
    }
    let mut keep: Vec<tables::LockupShare> = deals
        .into_iter()
        .flat_map(|(provider, lockups)| {
            let filings = input.capacity.get(provider).map_or(&[][..], Vec::as_slice);
            tables::lockup_shares_of(provider, lockups.into_iter(), filings)
        })
        .collect();
    tables::sort_lockup_shares(&mut keep);
    keep
}

/// The record kind a dashboard reads.
pub(super) fn kind_of(metric: &str) -> RecordKind {
    match metric {
        "queue-times" => RecordKind::QueueTime,
        "acceptance" => RecordKind::Acceptance,
        "prices" => RecordKind::Price,
        "lockups" => RecordKind::Lockup,
        "energy" => RecordKind::Energy,
        _ => RecordKind::Capacity,
    }
}

/// The latest readable records of `kind` that `filter` keeps, every provider's, read from
/// the projection through its indexes (a filtered view reads only the rows it shows).
pub(super) async fn latest(state: &AppState, kind: RecordKind, filter: &Filter) -> Result<Disclosures, AppError> {
    let query = crate::db::projection::LatestQuery {
        provider: None,
        kind: Some(kind),
        resource: filter.resource.clone(),
        region: filter.region.clone(),
        from: filter.from,
        to: filter.to,
    };
    let mut conn = state.pool.acquire().await?;
    let records = crate::db::projection::latest_records(&mut conn, &query).await?;
    drop(conn);
    let mut out = Disclosures::default();
    for (provider, _, record) in records {
        match record {
            Record::QueueTime(r) => out.queue_times.push((provider, r)),
            Record::Acceptance(r) => out.acceptance.push((provider, r)),
            Record::Price(r) => out.prices.push((provider, r)),
            Record::Lockup(r) => out.lockups.push((provider, r)),
            Record::Capacity(r) => out.capacity.push((provider, r)),
            Record::Energy(r) => out.energy.push((provider, r)),
        }
    }
    Ok(out)
}

/// What the table of `kind`'s dashboard is computed from: a view narrowed to a resource or
/// region reads its latest records (few, through the indexes); a view over every resource
/// and region reads the buckets' points instead of every latest record of the kind.
async fn rows(state: &AppState, kind: RecordKind, filter: &Filter) -> Result<Rows, AppError> {
    // Energy is filed once per site a period, few enough to read whole; its buckets keep no points.
    if filter.resource.is_none() && filter.region.is_none() && kind != RecordKind::Energy {
        return super::metric_rows::from_points(state, kind, filter).await;
    }
    let mut filtered = if kind == RecordKind::Energy {
        // Energy names a region but no resource, and the projection indexes places as
        // (resource, region) pairs: read by date, narrow by region here.
        let dates = Filter { resource: None, region: None, ..filter.clone() };
        let mut all = latest(state, kind, &dates).await?;
        all.energy.retain(|(_, e)| filter.region.as_deref().is_none_or(|r| r == e.region.as_str()));
        all
    } else {
        latest(state, kind, filter).await?
    };
    let all_capacity = if matches!(kind, RecordKind::Lockup | RecordKind::Energy) {
        latest(state, RecordKind::Capacity, &Filter::default()).await?
    } else {
        Disclosures::default()
    };
    // Carbon per accelerator-hour needs every capacity filing of the energy's regions, whatever the window.
    if kind == RecordKind::Energy {
        filtered.capacity = all_capacity.capacity.clone();
    }
    tokio::task::spawn_blocking(move || Rows::from_records(filtered, &all_capacity))
        .await
        .map_err(|e| AppError::Unavailable(format!("analytics failed: {e}")))?
}

/// Every resource and region any latest record names (for the filter form), once per checkpoint.
async fn places(state: &AppState, snapshot: &PageData) -> Result<(Vec<String>, Vec<String>), AppError> {
    if let Some(held) = snapshot.memo.get::<(Vec<String>, Vec<String>)>("places") {
        return Ok((*held).clone());
    }
    let mut conn = state.pool.acquire().await?;
    let places = crate::db::projection::places(&mut conn).await?;
    Ok((*snapshot.memo.put("places".into(), Arc::new(places))).clone())
}

/// `/lockups`: every disclosed deal with its capacity share (the lock-ups dashboard).
pub async fn lockups(
    state: State<AppState>,
    headers: axum::http::HeaderMap,
    query: Query<FilterQuery>,
) -> Result<Response, PageError> {
    show(state, headers, Path("lockups".to_owned()), query).await
}

/// `/metrics/{metric}`.
pub async fn show(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(metric): Path<String>,
    Query(query): Query<FilterQuery>,
) -> Result<Response, PageError> {
    let Some((metric, title)) = METRICS.iter().find(|(m, _)| *m == metric).copied() else {
        return Err(AppError::NotFound.into());
    };
    let snapshot = page_data::current(&state).await?;
    if let Some(fresh) = super::not_modified(&headers, &snapshot) {
        return Ok(fresh);
    }
    let page_key = format!("/metrics/{metric}?{}", serde_urlencoded_query(&query));
    if let Some(page) = super::kept(&headers, &snapshot, &page_key, "text/html; charset=utf-8") {
        return Ok(page);
    }
    let (resources, regions) = places(&state, &snapshot).await?;
    let (filter, shown, notices) = parse_filter(&query, &resources, &regions);
    let query_string = query_string(&shown);
    let memo_key = format!("metric:{metric}{query_string}");
    let table = match snapshot.memo.get::<MetricTable>(&memo_key) {
        Some(table) => table,
        None => {
            let rows = rows(&state, kind_of(metric), &filter).await?;
            let for_table = snapshot.clone();
            let table = tokio::task::spawn_blocking(move || table_and_chart(metric, &filter, &for_table, &rows))
                .await
                .map_err(|e| AppError::Unavailable(format!("analytics failed: {e}")))??;
            snapshot.memo.put(memo_key, Arc::new(table))
        }
    };
    let cite = super::cite::Citation::new(
        &state,
        &snapshot,
        format!("{} dashboard", title.to_lowercase()),
        &format!("/metrics/{metric}{query_string}"),
    );
    let pages = table.rows.len().div_ceil(PAGE_ROWS).max(1);
    let mut notices = notices;
    let page = page_of(query.page.as_deref(), pages, &mut notices);
    let reports =
        if metric == "lockups" { super::reports::shown(&state, None, Some("lockup")).await? } else { Vec::new() };
    let page = MetricPage {
        cite,
        metric,
        title,
        table,
        resources,
        regions,
        filter: shown,
        notices,
        snapshot,
        page,
        pages,
        reports,
        unanswered_days: state.unanswered_days.get(),
    };
    Ok(super::render_kept(&page, &headers, &page.snapshot, &page_key))
}

/// The submitted form, exactly, as a key (notices depend on what was submitted, not only on
/// the filter kept).
fn serde_urlencoded_query(query: &FilterQuery) -> String {
    format!("{:?}|{:?}|{:?}|{:?}|{:?}", query.resource, query.region, query.from, query.to, query.page)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn every_dashboard_renders_rows_and_filters_narrow_them() {
        let app = TestApp::with_demo().await;
        for (metric, _) in super::METRICS {
            let response = app.get(&format!("/metrics/{metric}")).await;
            response.assert_status(StatusCode::OK);
            let rows = response.html().texts_of("#metric-table tbody tr").len();
            assert!(rows > 0, "{metric} has no rows");
        }
        let all = app.get("/metrics/capacity").await.html().texts_of("#metric-table tbody tr").len();
        let narrowed = app.get("/metrics/capacity?region=eu-fi").await.html();
        let rows = narrowed.texts_of("#metric-table tbody tr");
        assert!(!rows.is_empty() && rows.len() < all, "{} of {all}", rows.len());
        assert!(rows.iter().all(|r| r.contains("eu-fi")), "{rows:?}");
        assert_eq!(narrowed.attr_of("select[name=region] option[selected]", "value"), "eu-fi");
        let windowed =
            app.get("/metrics/lockups?from=2026-01-01&to=2026-12-31").await.html().texts_of("#metric-table tbody tr");
        assert!(windowed.iter().all(|r| r.contains("2026-")), "{windowed:?}");
    }

    #[tokio::test]
    async fn a_long_table_is_shown_a_page_at_a_time_with_the_filter_kept() {
        let app = TestApp::new().await;
        let token = app.provider_token("wide-cloud").await;
        let rows = super::PAGE_ROWS * 2 + 5;
        let records: Vec<serde_json::Value> = (0..rows)
            .map(|i| {
                serde_json::json!({"kind": "capacity", "as_of": "2026-03-01", "resource": format!("accel-{i:03}"),
                    "region": "eu-de", "total_accelerators": 100 + i, "newcomer_set_aside": 1})
            })
            .collect();
        let body = serde_json::Value::Array(records).to_string();
        app.post("/api/v1/records", "application/json", body, Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);

        let first = app.get("/metrics/capacity?from=2026-01-01").await.html();
        assert_eq!(first.texts_of("#metric-table tbody tr").len(), super::PAGE_ROWS);
        assert!(first.text_of(".pager p").contains(&format!("1–200 of {rows}")), "{}", first.text_of(".pager p"));
        let next = first.attr_of(".pager a[rel=next]", "href");
        assert_eq!(next, "/metrics/capacity?from=2026-01-01&page=2");
        assert!(!first.exists(".pager a[rel=prev]"));

        let last = app.get("/metrics/capacity?from=2026-01-01&page=3").await.html();
        let shown = last.texts_of("#metric-table tbody tr");
        assert_eq!(shown.len(), 5);
        assert!(shown[4].contains(&format!("accel-{:03}", rows - 1)), "{shown:?}");
        assert!(!last.exists(".pager a[rel=next]"));
        assert_eq!(last.attr_of(".pager a[rel=prev]", "href"), "/metrics/capacity?from=2026-01-01&page=2");

        // Every row is on exactly one page.
        let mut seen: Vec<String> = Vec::new();
        for page in 1..=3 {
            seen.extend(
                app.get(&format!("/metrics/capacity?page={page}")).await.html().texts_of("#metric-table tbody tr"),
            );
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), rows);

        for (asked, says) in [("9", "showing the last"), ("0", "not a page number"), ("two", "not a page number")] {
            let page = app.get(&format!("/metrics/capacity?page={asked}")).await;
            page.assert_status(StatusCode::OK);
            let notices = page.html().texts_of(".notice");
            assert!(notices.iter().any(|n| n.contains(says)), "{asked}: {notices:?}");
        }
        // Short tables have no pager.
        assert!(!app.get("/metrics/queue-times").await.html().exists(".pager"));
    }

    /// The chart's description, its figures table (headers, rows) and the page.
    fn chart_of(page: &crate::testing::Page) -> (String, Vec<String>, Vec<String>) {
        let desc = page.text_of("figure.dashboard-chart svg[role=img] desc");
        let headers = page.texts_of(".chart-figures-table thead th");
        let rows = page.texts_of(".chart-figures-table tbody tr");
        (desc, headers, rows)
    }

    #[tokio::test]
    async fn every_dashboard_draws_a_chart_that_names_its_filter() {
        let app = TestApp::with_demo().await;
        for (metric, _) in super::METRICS {
            for (query, says) in
                [("", "every resource, region and date"), ("?from=2025-06-01", "dates from 2025-06-01")]
            {
                let page = app.get(&format!("/metrics/{metric}{query}")).await.html();
                assert!(page.exists("figure.dashboard-chart svg[role=img] title"), "{metric}{query}: no chart");
                let (desc, _, rows) = chart_of(&page);
                assert!(desc.contains(says), "{metric}{query}: {desc}");
                assert!(page.text_of("figure.dashboard-chart figcaption").contains(says), "{metric}{query}");
                assert!(!rows.is_empty(), "{metric}{query}: the chart's figures are listed");
                // The chart comes before the table.
                let html = app.get(&format!("/metrics/{metric}{query}")).await.text();
                assert!(html.find("dashboard-chart") < html.find("id=\"metric-table\""), "{metric}");
            }
        }
        let narrowed = app.get("/metrics/capacity?region=eu-fi").await.html();
        assert!(chart_of(&narrowed).0.contains("region eu-fi"));
        // Only eu-fi's providers are drawn: every bar is a provider of the table.
        let (_, _, rows) = chart_of(&narrowed);
        let table = narrowed.texts_of("#metric-table tbody tr td:first-child");
        assert!(rows.iter().all(|r| table.iter().any(|p| r.starts_with(p.as_str()))), "{rows:?} vs {table:?}");
    }

    #[tokio::test]
    async fn a_filter_matching_nothing_gives_no_chart_and_says_so() {
        let app = TestApp::with_demo().await;
        for (metric, _) in super::METRICS {
            let page = app.get(&format!("/metrics/{metric}?from=2031-01-01")).await.html();
            assert!(!page.exists("svg[role=img]"), "{metric}");
            assert!(!page.exists("#metric-table"), "{metric}");
            let sentence = page.text_of(".no-chart");
            assert!(sentence.contains("Nothing disclosed matches") && sentence.contains("2031-01-01"), "{sentence}");
        }
    }

    /// The median as the dashboards compute it, of figures read off a page.
    fn median(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
    }

    /// Column `n` (1-based) of a table's body.
    fn column(page: &crate::testing::Page, table: &str, n: usize) -> Vec<String> {
        page.texts_of(&format!("{table} tbody tr > :nth-child({n})"))
    }

    #[tokio::test]
    async fn the_charts_latest_values_are_the_tables_figures() {
        let app = TestApp::with_demo().await;
        // Queue times: in one month, resource and region each provider files one record per
        // tier, so the chart's monthly median across providers is the median of the table's
        // per-provider medians.
        let all = app.get("/metrics/queue-times").await.html();
        let month = column(&all, ".chart-figures-table", 1).last().expect("months").clone();
        let resources = all.attrs_of("select[name=resource] option", "value");
        let regions = all.attrs_of("select[name=region] option", "value");
        let mut checked = 0;
        for resource in resources.iter().filter(|r| !r.is_empty()) {
            for region in regions.iter().filter(|r| !r.is_empty()) {
                let url =
                    format!("/metrics/queue-times?resource={resource}&region={region}&from={month}-01&to={month}-28");
                let page = app.get(&url).await.html();
                if !page.exists("#metric-table") {
                    continue;
                }
                let (desc, headers, _) = chart_of(&page);
                assert!(desc.contains(&format!("resource {resource}, region {region}")), "{desc}");
                let Some(line) = headers.iter().position(|h| h == "newcomer") else { continue };
                let drawn: f64 =
                    column(&page, ".chart-figures-table", line + 1).last().expect("a month").parse().expect("a figure");
                let (tiers, medians, records) = (
                    column(&page, "#metric-table", 2),
                    column(&page, "#metric-table", 3),
                    column(&page, "#metric-table", 6),
                );
                let newcomer: Vec<f64> = (0..tiers.len())
                    .filter(|&i| tiers[i] == "newcomer")
                    .map(|i| {
                        assert_eq!(records[i], "1", "{url}: one record per provider and tier");
                        medians[i].parse().expect("hours")
                    })
                    .collect();
                assert!((median(newcomer) - drawn).abs() <= 0.011, "{url}: chart {drawn}, table {medians:?}");
                checked += 1;
            }
        }
        assert!(checked > 0, "some resource and region has newcomer queue times in {month}");

        // Acceptance: a category's bar is its accepted ÷ decided summed over the table's rows.
        let page = app.get("/metrics/acceptance?from=2025-06-01").await.html();
        let table = "#metric-table";
        let (categories, accepted, rejected) =
            (column(&page, table, 2), column(&page, table, 4), column(&page, table, 5));
        let (drawn_categories, drawn_rates) =
            (column(&page, ".chart-figures-table", 1), column(&page, ".chart-figures-table", 5));
        assert!(drawn_categories.len() >= 2, "{drawn_categories:?}");
        for (category, drawn) in drawn_categories.iter().zip(&drawn_rates) {
            let (mut yes, mut decided) = (0u64, 0u64);
            for i in (0..categories.len()).filter(|&i| &categories[i] == category) {
                let (a, r): (u64, u64) = (accepted[i].parse().expect("count"), rejected[i].parse().expect("count"));
                yes += a;
                decided += a + r;
            }
            let expected = if decided == 0 {
                "no decisions".to_owned()
            } else {
                format!("{:.1} %", yes as f64 * 100.0 / decided as f64)
            };
            assert_eq!(drawn, &expected, "{category}");
        }
    }

    #[tokio::test]
    async fn bad_filters_are_explained_not_fatal() {
        let app = TestApp::with_demo().await;
        let response = app.get("/metrics/queue-times?from=2024-13-01&resource=quantum-abacus&region=").await;
        response.assert_status(StatusCode::OK);
        let notices = response.html().texts_of(".notice");
        assert!(notices.iter().any(|n| n.contains("2024-13-01") && n.contains("YYYY-MM-DD")), "{notices:?}");
        assert!(notices.iter().any(|n| n.contains("quantum-abacus")), "{notices:?}");
        let backwards = app.get("/metrics/prices?from=2026-05-01&to=2025-01-01").await.html().texts_of(".notice");
        assert!(backwards.iter().any(|n| n.contains("after")), "{backwards:?}");
        app.get("/metrics/no-such-metric").await.assert_status(StatusCode::NOT_FOUND);
    }
}
