//! `/compliance`: the compliance report — per provider and obligation, how many
//! periods were filed on time, late, or not at all, and how often filings were
//! amended; with `?provider=` every period in detail. Computed once per checkpoint, from
//! the filings' sums per provider, kind and date that the database keeps (issue 16).

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::cite::Citation;
use super::page_data::{self, PageData};
use crate::AppState;
use crate::analytics::compliance::{self, Obligation, PeriodStatus};
use crate::api::extract::Query;
use crate::db;
use crate::error::{AppError, PageError};
use crate::providers::Provider;

/// The report at one checkpoint: assessed as of the time the checkpoint was signed.
#[derive(Debug)]
pub struct ComplianceReport {
    /// Obligations, by provider and kind.
    pub obligations: Vec<Obligation>,
    /// Every assessed period, by provider, kind and period.
    pub periods: Vec<PeriodStatus>,
}

impl ComplianceReport {
    pub fn of<'a>(&'a self, provider: &'a str) -> impl Iterator<Item = &'a PeriodStatus> + 'a {
        self.periods.iter().filter(move |p| p.provider == provider)
    }
}

/// The report at a snapshot's checkpoint (computed once, then kept with the snapshot): the
/// obligations weighed against the sums of the filings up to that checkpoint, which the
/// database keeps with the ledger (`projection_filings`), so nothing here grows with it.
pub async fn report(state: &AppState, snapshot: &PageData) -> Result<Arc<ComplianceReport>, AppError> {
    if let Some(report) = snapshot.memo.get::<ComplianceReport>("compliance") {
        return Ok(report);
    }
    let report = compute(state, snapshot, None).await?;
    Ok(snapshot.memo.put("compliance".into(), Arc::new(report)))
}

/// One provider's part of the report (a scorecard's): taken from the whole report if that was
/// computed at this checkpoint, else computed from the provider's own sums, a few rows.
pub async fn provider_report(
    state: &AppState,
    snapshot: &PageData,
    provider: &str,
) -> Result<Arc<ComplianceReport>, AppError> {
    let key = format!("compliance:{provider}");
    if let Some(report) = snapshot.memo.get::<ComplianceReport>(&key) {
        return Ok(report);
    }
    let report = match snapshot.memo.get::<ComplianceReport>("compliance") {
        Some(all) => ComplianceReport {
            obligations: all.obligations.iter().filter(|o| o.provider == provider).cloned().collect(),
            periods: all.of(provider).cloned().collect(),
        },
        None => compute(state, snapshot, Some(provider)).await?,
    };
    Ok(snapshot.memo.put(key, Arc::new(report)))
}

async fn compute(state: &AppState, snapshot: &PageData, provider: Option<&str>) -> Result<ComplianceReport, AppError> {
    let mut conn = state.pool.acquire().await?;
    let obligations = db::obligations::list(&mut conn, provider).await?;
    // At exactly the snapshot's tree size, even if the ledger has grown since.
    let filings = db::filings::at(&mut conn, snapshot.tree_size, provider).await?;
    drop(conn);
    let as_of = snapshot.signed_at;
    let periods = tokio::task::spawn_blocking({
        let obligations = obligations.clone();
        move || compliance::report(&obligations, &filings, as_of)
    })
    .await
    .map_err(|e| AppError::Unavailable(format!("compliance report failed: {e}")))?;
    Ok(ComplianceReport { obligations, periods })
}

/// One line of the summary: a provider's obligation and how its periods went.
pub struct SummaryRow {
    pub provider: Provider,
    pub obligation: Obligation,
    /// On time, late, missing, not yet due, amended.
    pub tally: (u32, u32, u32, u32, u32),
    /// The longest delay, in days.
    pub worst_delay: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ComplianceQuery {
    /// Show every period of this provider.
    pub provider: Option<String>,
}

#[derive(Template)]
#[template(path = "compliance.html")]
pub struct CompliancePage {
    /// Summary per provider and obligation.
    pub rows: Vec<SummaryRow>,
    /// The provider whose periods are shown in detail, and its periods.
    pub detail: Option<(Provider, Vec<PeriodStatus>)>,
    /// A problem with the query.
    pub notice: Option<String>,
    /// Per provider, reports by others it has not answered after `unanswered_days` (issue 19).
    pub unanswered: Vec<(Provider, i64)>,
    /// Days after which a report without an answer counts as unanswered.
    pub unanswered_days: u32,
    /// The checkpoint.
    pub snapshot: Arc<PageData>,
    /// The citation line.
    pub cite: Citation,
}

/// Summary rows of the report, for `providers` (in their order).
pub fn summary(report: &ComplianceReport, providers: &[Provider]) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for provider in providers {
        for obligation in report.obligations.iter().filter(|o| o.provider == provider.slug.as_str()) {
            let periods: Vec<&PeriodStatus> =
                report.of(&obligation.provider).filter(|p| p.kind == obligation.kind).collect();
            rows.push(SummaryRow {
                provider: provider.clone(),
                obligation: obligation.clone(),
                tally: compliance::tally(periods.iter().copied()),
                worst_delay: periods.iter().filter_map(|p| p.status.days_late()).max(),
            });
        }
    }
    rows
}

/// Per provider (in `providers`' order), the reports by others not hidden from counts that
/// it has left unanswered for the configured days.
async fn unanswered(state: &AppState, providers: &[Provider]) -> Result<Vec<(Provider, i64)>, AppError> {
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(state.unanswered_days.get()));
    let mut conn = state.pool.acquire().await?;
    let counts: std::collections::HashMap<String, i64> =
        crate::db::reports::unanswered(&mut conn, cutoff).await?.into_iter().collect();
    Ok(providers.iter().filter_map(|p| counts.get(p.slug.as_str()).map(|n| (p.clone(), *n))).collect())
}

/// `/compliance`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ComplianceQuery>,
) -> Result<Response, PageError> {
    let snapshot = page_data::current(&state).await?;
    if let Some(fresh) = super::not_modified(&headers, &snapshot) {
        return Ok(fresh);
    }
    let report = report(&state, &snapshot).await?;
    let mut notice = None;
    let detail = match query.provider.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(slug) => match snapshot.providers.iter().find(|p| p.slug.as_str() == slug) {
            Some(provider) => Some((provider.clone(), report.of(slug).cloned().collect())),
            None => {
                notice = Some(format!("There is no provider {slug:?}; showing every provider's summary."));
                None
            }
        },
    };
    let path = match &detail {
        Some((p, _)) => format!("/compliance?provider={}", p.slug),
        None => "/compliance".to_owned(),
    };
    let cite = Citation::new(&state, &snapshot, "compliance report", &path);
    let unanswered = unanswered(&state, &snapshot.providers).await?;
    let page = CompliancePage {
        rows: summary(&report, &snapshot.providers),
        detail,
        notice,
        unanswered,
        unanswered_days: state.unanswered_days.get(),
        snapshot,
        cite,
    };
    Ok(super::render_snapshot(&page, &page.snapshot))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn the_report_lists_every_obligation_and_each_period_on_request() {
        let app = TestApp::with_demo().await;
        let html = app.get("/compliance").await.html();
        let rows = html.texts_of("#compliance-summary tbody tr");
        assert_eq!(rows.len(), 12 * 4, "four obligations per demo provider");
        let detail = app.get("/compliance?provider=corvid-gpu").await.html();
        let statuses = detail.texts_of("#periods tbody td.status");
        assert!(!statuses.is_empty());
        // The demo skips some filings: somebody has a missing period.
        let everyone = app.get("/data/compliance.csv").await.text();
        assert!(everyone.contains(",missing,"), "the demo has gaps");
        assert!(detail.text_of("#cite").contains("/compliance?provider=corvid-gpu"));
        let odd = app.get("/compliance?provider=nobody").await;
        odd.assert_status(StatusCode::OK);
        assert!(odd.html().text_of(".notice").contains("nobody"));
    }

    /// A snapshot's report is the report at its checkpoint though the ledger has grown since
    /// (here by an amendment of a period the report shows), and a provider's part of it is
    /// the same whether computed alone or taken from the whole.
    #[tokio::test]
    async fn the_report_is_at_the_snapshots_checkpoint_and_a_providers_part_is_its_part() {
        let app = TestApp::with_demo().await;
        let snapshot = crate::web::page_data::current(&app.state).await.expect("snapshot");
        let token = app.provider_token("corvid-gpu").await;
        let amended = serde_json::json!({"kind": "queue_time", "period_start": "2024-11-01", "period_end": "2024-12-01",
            "resource": "nvidia-h100-80gb", "region": "us-central", "tier": "newcomer", "jobs": 5,
            "p50_seconds": 999_999, "p90_seconds": 999_999, "p99_seconds": 999_999});
        app.post("/api/v1/records", "application/json", format!("[{amended}]"), Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);
        let alone = super::provider_report(&app.state, &snapshot, "corvid-gpu").await.expect("alone");
        let all = super::report(&app.state, &snapshot).await.expect("all");
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let filings = crate::db::obligations::filings(&mut conn, snapshot.tree_size).await.expect("filings");
        let expected =
            crate::analytics::compliance::report(&all.obligations, &filings.into_iter().collect(), snapshot.signed_at);
        assert_eq!(all.periods, expected);
        assert!(!alone.periods.is_empty());
        assert_eq!(alone.periods, all.of("corvid-gpu").cloned().collect::<Vec<_>>());
        let from_whole = super::provider_report(&app.state, &snapshot, "nordic-hpc").await.expect("taken");
        assert_eq!(from_whole.periods, all.of("nordic-hpc").cloned().collect::<Vec<_>>());
        // The amendment counts from the next checkpoint on.
        let now = crate::web::page_data::current(&app.state).await.expect("snapshot");
        assert!(now.tree_size > snapshot.tree_size);
        let after = super::provider_report(&app.state, &now, "corvid-gpu").await.expect("after");
        let amendments = |r: &super::ComplianceReport| r.periods.iter().map(|p| p.amendments).sum::<u32>();
        assert_eq!(amendments(&after), amendments(&alone) + 1);
    }
}
