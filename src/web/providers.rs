//! `/providers` (every provider with its grade, sortable by links) and
//! `/providers/{slug}` (the scorecard: grade breakdown, queue-time chart with its
//! table, acceptance by applicant category, capacity and lock-ups), plus the
//! scorecard's chart as a standalone, embeddable SVG.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::snapshot::{self, Snapshot};
use crate::AppState;
use crate::analytics::grades::Grade;
use crate::analytics::metrics::{self, AcceptanceRate, QueuePoint};
use crate::api::extract::{Path, Query};
use crate::charts;
use crate::error::{AppError, PageError};
use crate::providers::Provider;
use crate::records::kinds::Lockup;

/// One row of the providers table.
pub struct ProviderRow {
    /// The provider.
    pub provider: Provider,
    /// Its grade, if any disclosure exists at all.
    pub grade: Option<Grade>,
}

/// Sort keys of the providers table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    /// By score (the default: worst first is what journalists look for, so descending is a link away).
    #[default]
    Score,
    /// By name.
    Name,
    /// By kind.
    Kind,
}

/// Query of `/providers`.
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    /// Sort key.
    pub sort: Option<String>,
    /// `asc` or `desc`.
    pub dir: Option<String>,
}

/// The providers page.
#[derive(Template)]
#[template(path = "providers/index.html")]
pub struct ProvidersPage {
    /// Rows, sorted.
    pub rows: Vec<ProviderRow>,
    /// Current sort key name.
    pub sort: &'static str,
    /// Current direction.
    pub descending: bool,
    /// A problem with the query, shown instead of failing.
    pub notice: Option<String>,
    /// The snapshot (for the citation line).
    pub snapshot: Arc<Snapshot>,
}

impl ProvidersPage {
    /// The link that sorts by `key`, toggling direction if already sorted by it.
    pub fn sort_link(&self, key: &str) -> String {
        let dir = if self.sort == key && !self.descending { "desc" } else { "asc" };
        format!("/providers?sort={key}&dir={dir}")
    }

    /// `aria-sort` for a column header.
    pub fn aria_sort(&self, key: &str) -> &'static str {
        match (self.sort == key, self.descending) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        }
    }
}

/// `/providers`.
pub async fn index(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let snapshot = snapshot::current(&state).await?;
    if let Some(fresh) = super::not_modified(&headers, &snapshot) {
        return Ok(fresh);
    }
    let mut notice = None;
    let key = match query.sort.as_deref() {
        None | Some("score") => SortKey::Score,
        Some("name") => SortKey::Name,
        Some("kind") => SortKey::Kind,
        Some(other) => {
            notice = Some(format!("Unknown sort {other:?}; sorted by score instead. Sort by score, name or kind."));
            SortKey::Score
        }
    };
    let descending = match query.dir.as_deref() {
        None => key == SortKey::Score,
        Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            notice = Some(format!("Unknown direction {other:?}; use asc or desc."));
            false
        }
    };
    let mut rows: Vec<ProviderRow> = snapshot
        .providers
        .iter()
        .map(|p| ProviderRow { provider: p.clone(), grade: snapshot.grade(p.slug.as_str()).cloned() })
        .collect();
    rows.sort_by(|a, b| {
        let order = match key {
            SortKey::Score => {
                let score = |r: &ProviderRow| r.grade.as_ref().map_or(-1.0, |g| g.score);
                score(a).total_cmp(&score(b))
            }
            SortKey::Name => a.provider.display_name.to_lowercase().cmp(&b.provider.display_name.to_lowercase()),
            SortKey::Kind => a.provider.kind.label().cmp(b.provider.kind.label()),
        };
        let order = order.then_with(|| a.provider.slug.cmp(&b.provider.slug));
        if descending { order.reverse() } else { order }
    });
    let sort = match key {
        SortKey::Score => "score",
        SortKey::Name => "name",
        SortKey::Kind => "kind",
    };
    let page = ProvidersPage { rows, sort, descending, notice, snapshot };
    Ok(super::render_snapshot(&page, &page.snapshot))
}

/// One lock-up with its share of capacity.
pub struct LockupRow {
    /// The deal.
    pub lockup: Lockup,
    /// Share of the provider's capacity at the deal's start (or latest capacity before it), if known.
    pub share: Option<f64>,
}

/// The scorecard.
#[derive(Template)]
#[template(path = "providers/show.html")]
pub struct ScorecardPage {
    /// Who.
    pub provider: Provider,
    /// Their grade.
    pub grade: Option<Grade>,
    /// Queue-time series.
    pub queue: Vec<QueuePoint>,
    /// The queue-time chart, inline SVG.
    pub queue_chart: Option<String>,
    /// Acceptance per category.
    pub acceptance: Vec<AcceptanceRate>,
    /// Latest capacity: (date, total, set-aside).
    pub capacity: Option<(chrono::NaiveDate, u64, u64)>,
    /// Lock-ups, newest first.
    pub lockups: Vec<LockupRow>,
    /// Amended records.
    pub amendments: u64,
    /// The snapshot (for the citation line).
    pub snapshot: Arc<Snapshot>,
}

async fn provider_of(state: &AppState, slug: &str) -> Result<(Arc<Snapshot>, Provider), PageError> {
    let snapshot = snapshot::current(state).await?;
    let provider = snapshot.providers.iter().find(|p| p.slug.as_str() == slug).cloned().ok_or(AppError::NotFound)?;
    Ok((snapshot, provider))
}

/// `/providers/{slug}`.
pub async fn show(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let (snapshot, provider) = provider_of(&state, &slug).await?;
    if let Some(fresh) = super::not_modified(&headers, &snapshot) {
        return Ok(fresh);
    }
    let mine = snapshot.disclosures_of(&slug);
    let figures = snapshot.figures(&slug).cloned().unwrap_or_default();
    let queue = figures.queue;
    let queue_chart = charts::queue_times(&queue, &format!("Median wait per tier: {}", provider.display_name));
    let acceptance = figures.acceptance;
    let capacity = metrics::latest_capacity(&mine);
    let lockups: Vec<LockupRow> =
        metrics::lockup_shares(&mine).into_iter().map(|s| LockupRow { lockup: s.lockup, share: s.share }).collect();
    let page = ScorecardPage {
        grade: snapshot.grade(&slug).cloned(),
        amendments: snapshot.amendments(&slug),
        provider,
        queue,
        queue_chart,
        acceptance,
        capacity,
        lockups,
        snapshot,
    };
    Ok(super::render_snapshot(&page, &page.snapshot))
}

/// `/providers/{slug}/queue-times.svg`: the chart alone, to embed, with its source and checkpoint.
pub async fn queue_chart_svg(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Response, PageError> {
    let (snapshot, provider) = provider_of(&state, &slug).await?;
    let queue = snapshot.figures(&slug).map(|f| f.queue.clone()).unwrap_or_default();
    let title = format!("Median wait per tier: {} (Gatelog, checkpoint {})", provider.display_name, snapshot.tree_size);
    let svg = charts::queue_times(&queue, &title).ok_or(AppError::NotFound)?;
    let mut response = ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", snapshot.root_hex)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    Ok(response)
}

/// Formats seconds as hours with one decimal, for tables.
pub fn hours(seconds: &f64) -> String {
    format!("{:.1}", seconds / 3600.0)
}

/// Formats a 0..=1 share as a percentage.
pub fn percent(share: &f64) -> String {
    format!("{:.1} %", share * 100.0)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn the_providers_table_lists_every_provider_with_a_grade_and_sorts_by_links() {
        let app = TestApp::with_demo().await;
        let html = app.get("/providers").await.html();
        let names = html.texts_of("#providers tbody th a");
        assert_eq!(names.len(), 12);
        let scores: Vec<f64> =
            html.texts_of("#providers tbody td.score").iter().map(|s| s.parse().expect("number")).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first by default: {scores:?}");
        assert!(
            html.texts_of("#providers tbody td.grade").iter().all(|g| ["A", "B", "C", "D", "F"].contains(&g.as_str()))
        );
        let by_name = app.get("/providers?sort=name&dir=asc").await.html().texts_of("#providers tbody th a");
        let mut sorted = by_name.clone();
        sorted.sort_by_key(|n| n.to_lowercase());
        assert_eq!(by_name, sorted);
        for href in html
            .0
            .select(&scraper::Selector::parse("#providers tbody th a").expect("selector"))
            .filter_map(|a| a.value().attr("href"))
        {
            app.get(href).await.assert_status(StatusCode::OK);
        }
        let odd = app.get("/providers?sort=shoe-size").await;
        odd.assert_status(StatusCode::OK);
        assert!(odd.html().text_of("#notice").contains("Unknown sort"));
    }

    #[tokio::test]
    async fn pages_revalidate_with_the_checkpoint_etag() {
        let app = TestApp::with_demo().await;
        let first = app.get("/providers/corvid-gpu").await;
        let etag = first.header("etag").to_owned();
        assert!(etag.starts_with('"') && etag.len() > 20, "{etag}");
        let request = axum::http::Request::get("/providers/corvid-gpu")
            .header("if-none-match", &etag)
            .body(axum::body::Body::empty())
            .expect("request");
        let again = app.send(request).await;
        again.assert_status(StatusCode::NOT_MODIFIED);
        assert!(again.body.is_empty());
        app.ledger().append(&app.db.pool, &crate::testing::sample_batch(0, 1)).await.expect("append");
        let request = axum::http::Request::get("/providers/corvid-gpu")
            .header("if-none-match", &etag)
            .body(axum::body::Body::empty())
            .expect("request");
        app.send(request).await.assert_status(StatusCode::OK);
    }

    #[tokio::test]
    async fn a_scorecard_shows_the_grade_breakdown_chart_and_tables() {
        let app = TestApp::with_demo().await;
        let response = app.get("/providers/corvid-gpu").await;
        response.assert_status(StatusCode::OK);
        let html = response.html();
        assert_eq!(html.text_of("h1"), "Corvid GPU (demo)");
        assert_eq!(html.texts_of("#grade-breakdown tbody tr").len(), 6);
        assert!(html.exists("#queue-chart svg title"));
        assert!(!html.texts_of("#queue-table tbody tr").is_empty());
        assert!(!html.texts_of("#acceptance tbody tr").is_empty());
        // Corvid's big exclusive deal takes well over half its capacity.
        let shares = html.texts_of("#lockups td.share");
        assert!(shares.iter().any(|s| s.trim_end_matches(" %").parse::<f64>().is_ok_and(|v| v > 50.0)), "{shares:?}");
        assert!(html.text_of("#cite").contains("checkpoint"));
        let svg = app.get("/providers/corvid-gpu/queue-times.svg").await;
        svg.assert_status(StatusCode::OK);
        assert_eq!(svg.header("content-type"), "image/svg+xml");
        assert!(svg.text().contains("checkpoint"));
        app.get("/providers/no-such-provider").await.assert_status(StatusCode::NOT_FOUND);
    }
}
