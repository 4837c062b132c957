//! `/compare?a=&b=`: two providers side by side, from the same checkpoint.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::compare_charts::{ComparedChart, compare_charts};
use super::format;
use super::page_data::{self, PageData};
use crate::AppState;
use crate::analytics::grades::Grade;
use crate::api::extract::Query;
use crate::error::PageError;
use crate::providers::Provider;

#[derive(Debug, Default, Deserialize)]
pub struct CompareQuery {
    /// First provider's slug.
    pub a: Option<String>,
    /// Second provider's slug.
    pub b: Option<String>,
}

/// One side of the comparison.
pub struct Side {
    pub provider: Provider,
    pub grade: Option<Grade>,
    /// Latest capacity and set-aside.
    pub capacity: Option<(chrono::NaiveDate, u64, u64)>,
    /// Accelerators locked by deals in force at that date.
    pub locked: u64,
    /// Newcomer acceptance (accepted, decided).
    pub newcomer: (u64, u64),
    /// Median wait per tier (tier, hours).
    pub waits: Vec<(String, f64)>,
}

impl Side {
    /// Locked share of capacity, as text.
    pub fn locked_share(&self) -> String {
        self.capacity
            .and_then(|(_, total, _)| format::percent_of(self.locked, total))
            .unwrap_or_else(|| "unknown".into())
    }

    /// Newcomer acceptance rate, as text.
    pub fn newcomer_rate(&self) -> String {
        let (accepted, decided) = self.newcomer;
        format::percent_of(accepted, decided)
            .map_or_else(|| "not disclosed".into(), |rate| format!("{rate} ({accepted} of {decided})"))
    }
}

#[derive(Template)]
#[template(path = "compare.html")]
pub struct ComparePage {
    /// Everyone, for the pickers.
    pub providers: Vec<Provider>,
    /// The two sides, when both are valid and different.
    pub sides: Option<(Side, Side)>,
    /// What is wrong with the request, if anything.
    pub notice: Option<String>,
    /// Selected slugs, for the pickers.
    pub a: String,
    /// Second selection.
    pub b: String,
    /// For the citation line.
    pub snapshot: Arc<PageData>,
    /// The citation line.
    pub cite: super::cite::Citation,
    /// Per metric, both providers on one chart (empty without two sides).
    pub charts: Vec<ComparedChart>,
}

fn side(snapshot: &PageData, provider: &Provider) -> Side {
    let digest = snapshot.digest(provider.slug.as_str());
    let capacity = digest.and_then(|d| d.capacity).map(|(date, total, set_aside, _)| (date, total, set_aside));
    let locked = digest.and_then(|d| d.capacity).map_or(0, |(.., locked)| locked);
    let newcomer = digest.map_or((0, 0), |d| {
        d.acceptance
            .iter()
            .filter(|r| crate::analytics::grades::NEWCOMER_CATEGORIES.contains(&r.category.as_str()))
            .fold((0, 0), |(a, decided), r| {
                (
                    crate::analytics::add(a, r.accepted),
                    crate::analytics::add(decided, crate::analytics::add(r.accepted, r.rejected)),
                )
            })
    });
    // The same per-tier median the grade's queue fairness uses.
    let waits: Vec<(String, f64)> =
        digest.map_or_else(Vec::new, |d| d.tier_medians.iter().map(|(tier, s)| (tier.clone(), s / 3600.0)).collect());
    Side {
        provider: provider.clone(),
        grade: snapshot.grade(provider.slug.as_str()).cloned(),
        capacity,
        locked,
        newcomer,
        waits,
    }
}

pub async fn show(State(state): State<AppState>, Query(query): Query<CompareQuery>) -> Result<Response, PageError> {
    let snapshot = page_data::current(&state).await?;
    let find = |slug: &str| snapshot.provider(slug);
    let (a, b) = (query.a.clone().unwrap_or_default(), query.b.clone().unwrap_or_default());
    let (mut sides, mut notice) = (None, None);
    match (a.as_str(), b.as_str()) {
        ("", "") => {}
        ("", _) | (_, "") => notice = Some("Choose two providers to compare.".to_owned()),
        (x, y) if x == y => {
            notice = Some("That is the same provider twice; choose two different providers.".to_owned())
        }
        (x, y) => match (find(x), find(y)) {
            (Some(pa), Some(pb)) => sides = Some((side(&snapshot, pa), side(&snapshot, pb))),
            (None, _) => notice = Some(format!("There is no provider {x:?}.")),
            (_, None) => notice = Some(format!("There is no provider {y:?}.")),
        },
    }
    let path = if a.is_empty() && b.is_empty() { "/compare".to_owned() } else { format!("/compare?a={a}&b={b}") };
    let what = match &sides {
        Some((x, y)) => format!("{} compared with {}", x.provider.display_name, y.provider.display_name),
        None => "provider comparison".to_owned(),
    };
    let cite = super::cite::Citation::new(&state, &snapshot, what, &path);
    let charts = match &sides {
        Some((x, y)) => {
            // The figures the two scorecards draw (kept per checkpoint), read at once.
            let (fx, fy) = tokio::try_join!(
                page_data::provider_data(&state, &snapshot, x.provider.slug.as_str()),
                page_data::provider_data(&state, &snapshot, y.provider.slug.as_str()),
            )?;
            compare_charts(
                (x.provider.display_name.as_str(), &fx.figures),
                (y.provider.display_name.as_str(), &fy.figures),
            )
        }
        None => Vec::new(),
    };
    let providers = snapshot.providers.clone();
    Ok(super::render(&ComparePage { providers, sides, notice, a, b, snapshot, cite, charts }))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn two_providers_side_by_side_and_clear_messages_otherwise() {
        let app = TestApp::new().await;
        crate::demo::load(&app.db.pool, &app.ledger(), crate::demo::DEFAULT_SEED).await.expect("demo");
        let html = app.get("/compare?a=corvid-gpu&b=rhine-ai-factory").await.html();
        assert_eq!(html.texts_of("#comparison thead th[scope=col]"), ["Corvid GPU (demo)", "Rhine AI Factory (demo)"]);
        let grades = html.texts_of("#comparison tr.grade td");
        assert_eq!(grades.len(), 2);
        assert!(grades[0].starts_with('F') && grades[1].starts_with('A'), "{grades:?}");
        for (query, message) in [
            ("a=corvid-gpu&b=corvid-gpu", "same provider twice"),
            ("a=corvid-gpu&b=nobody", "no provider \"nobody\""),
            ("a=corvid-gpu", "Choose two"),
        ] {
            let response = app.get(&format!("/compare?{query}")).await;
            response.assert_status(StatusCode::OK);
            assert!(response.html().text_of(".notice").contains(message), "{query}");
        }
    }

    #[tokio::test]
    async fn each_metric_is_one_chart_with_both_providers() {
        let app = TestApp::with_demo().await;
        let html = app.get("/compare?a=corvid-gpu&b=rhine-ai-factory").await.html();
        let headings = html.texts_of("section.compare-chart h2");
        assert_eq!(headings, ["Queue waits", "Acceptance", "Prices", "Lock-ups"]);
        assert_eq!(html.texts_of("section.compare-chart figure").len(), 4, "one chart per metric");
        let descriptions = html.texts_of("section.compare-chart svg[role=img] desc");
        assert!(descriptions.len() >= 4, "{descriptions:?}");
        for desc in &descriptions {
            assert!(desc.contains("Corvid GPU (demo)") && desc.contains("Rhine AI Factory (demo)"), "{desc}");
        }
        let mut ids = html.attrs_of("svg[role=img] title", "id");
        for id in ["compare-waits-title", "compare-acceptance-title", "compare-prices-title", "compare-lockups-title"] {
            assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
        }
        let all = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all, "ids are unique on the page");
        // Lines are named by provider and series, both in the same chart.
        let lines = html.texts_of(".chart-figures-table thead th");
        assert!(lines.iter().any(|l| l == "Corvid GPU (demo) · newcomer"), "{lines:?}");
        assert!(lines.iter().any(|l| l == "Rhine AI Factory (demo) · newcomer"), "{lines:?}");
        // Prices in different currencies cannot share an axis: the page says whose are left out.
        let captions = html.texts_of("section.compare-chart figcaption");
        assert!(captions[2].contains("Rhine AI Factory (demo) discloses prices in EUR only"), "{}", captions[2]);
        // The same provider twice is explained, with no chart.
        let same = app.get("/compare?a=corvid-gpu&b=corvid-gpu").await;
        same.assert_status(StatusCode::OK);
        assert!(!same.html().exists("svg[role=img]"));
    }
}
