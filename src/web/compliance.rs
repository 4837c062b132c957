//! `/compliance`: the compliance report — per provider and obligation, how many
//! periods were filed on time, late, or not at all, and how often filings were
//! amended; with `?provider=` every period in detail. Computed once per checkpoint.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::cite::Citation;
use super::snapshot::{self, Snapshot};
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
    /// The periods of one provider.
    pub fn of<'a>(&'a self, provider: &'a str) -> impl Iterator<Item = &'a PeriodStatus> + 'a {
        self.periods.iter().filter(move |p| p.provider == provider)
    }
}

/// The report for a snapshot (computed once, then kept with the snapshot).
pub async fn report(state: &AppState, snapshot: &Snapshot) -> Result<Arc<ComplianceReport>, AppError> {
    if let Some(report) = snapshot.memo.get::<ComplianceReport>("compliance") {
        return Ok(report);
    }
    let mut conn = state.pool.acquire().await?;
    let obligations = db::obligations::list(&mut conn, None).await?;
    drop(conn);
    let as_of = snapshot.signed_at;
    // The snapshot keeps every filing, extended per checkpoint: no pass over the ledger here.
    let filings = snapshot.filings.clone();
    let periods = tokio::task::spawn_blocking({
        let obligations = obligations.clone();
        move || compliance::report(&obligations, &filings, as_of)
    })
    .await
    .map_err(|e| AppError::Unavailable(format!("compliance report failed: {e}")))?;
    Ok(snapshot.memo.put("compliance".into(), Arc::new(ComplianceReport { obligations, periods })))
}

/// One line of the summary: a provider's obligation and how its periods went.
pub struct SummaryRow {
    /// The provider.
    pub provider: Provider,
    /// The obligation.
    pub obligation: Obligation,
    /// On time, late, missing, not yet due, amended.
    pub tally: (u32, u32, u32, u32, u32),
    /// The longest delay, in days.
    pub worst_delay: Option<i64>,
}

/// Query of `/compliance`.
#[derive(Debug, Default, Deserialize)]
pub struct ComplianceQuery {
    /// Show every period of this provider.
    pub provider: Option<String>,
}

/// The page.
#[derive(Template)]
#[template(path = "compliance.html")]
pub struct CompliancePage {
    /// Summary per provider and obligation.
    pub rows: Vec<SummaryRow>,
    /// The provider whose periods are shown in detail, and its periods.
    pub detail: Option<(Provider, Vec<PeriodStatus>)>,
    /// A problem with the query.
    pub notice: Option<String>,
    /// The checkpoint.
    pub snapshot: Arc<Snapshot>,
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

/// `/compliance`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ComplianceQuery>,
) -> Result<Response, PageError> {
    let snapshot = snapshot::current(&state).await?;
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
    let page = CompliancePage { rows: summary(&report, &snapshot.providers), detail, notice, snapshot, cite };
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
}
