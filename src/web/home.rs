//! `/`: what Gatelog is, what the ledger holds right now, the latest disclosures,
//! and every provider with its grade.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::AppState;
use crate::db;
use crate::error::PageError;
use crate::providers::Provider;

/// The home page.
#[derive(Template)]
#[template(path = "home/index.html")]
pub struct HomePage {
    /// Registered providers, by name, with their grade letters.
    pub providers: Vec<(Provider, Option<char>)>,
    /// Entries in the ledger.
    pub disclosures: i64,
    /// The newest entries.
    pub latest: Vec<db::ledger::EntrySummary>,
    /// When the latest checkpoint was signed.
    pub signed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Figures across every provider.
    pub headline: crate::analytics::headline::Headline,
    /// The lowest-graded provider and its grade.
    pub lowest: Option<(Provider, crate::analytics::grades::Grade)>,
    /// The citation line.
    pub cite: super::cite::Citation,
}

impl HomePage {
    /// Hours with one decimal.
    pub fn hours(&self, hours: impl super::scorecard::Number) -> String {
        format!("{:.1}", hours.value())
    }

    /// A 0..=1 share as a percentage with one decimal.
    pub fn percent(&self, share: impl super::scorecard::Number) -> String {
        super::scorecard::percent(share)
    }
}

/// Handler for `/`.
pub async fn show(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Result<Response, PageError> {
    let snapshot = super::snapshot::current(&state).await?;
    if let Some(page) = super::kept(&headers, &snapshot, "/", "text/html; charset=utf-8") {
        return Ok(page);
    }
    let mut conn = state.pool.acquire().await?;
    let latest = db::ledger::recent_entries(&mut conn, 10, None).await?;
    let providers =
        snapshot.providers.iter().map(|p| (p.clone(), snapshot.grade(p.slug.as_str()).map(|g| g.letter))).collect();
    let lowest = snapshot
        .providers
        .iter()
        .filter_map(|p| Some((p.clone(), snapshot.grade(p.slug.as_str())?.clone())))
        .min_by(|a, b| a.1.score.total_cmp(&b.1.score));
    let cite = super::cite::Citation::new(&state, &snapshot, "headline figures", "/");
    let page = HomePage {
        providers,
        disclosures: snapshot.tree_size as i64,
        latest,
        signed_at: Some(snapshot.signed_at),
        headline: snapshot.headline.clone(),
        lowest,
        cite,
    };
    Ok(super::render_kept(&page, &headers, &snapshot, "/"))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn an_empty_ledger_says_so_honestly() {
        let app = TestApp::new().await;
        let response = app.get("/").await;
        response.assert_status(StatusCode::OK);
        assert_eq!(response.header("content-type"), "text/html; charset=utf-8");
        let html = response.html();
        assert_eq!(html.text_of("title"), "Gatelog — who gets access to compute");
        assert_eq!(html.text_of("#ledger-status"), "No disclosures yet. The ledger is empty.");
        assert_eq!(html.text_of("#providers-status"), "No providers are registered yet.");
        assert!(!html.exists("#providers li"));
    }

    #[tokio::test]
    async fn the_headline_figures_match_the_dashboards_they_summarise() {
        let app = TestApp::with_demo().await;
        let html = app.get("/").await.html();
        let waits = html.text_of("#headline-waits");
        assert!(waits.contains("newcomers") && waits.contains(" h"), "{waits}");
        let acceptance = html.text_of("#headline-acceptance");
        assert!(acceptance.contains("% of decided newcomer applications"), "{acceptance}");
        assert!(html.text_of("#headline-lockups").contains("locked up"));
        // The lowest grade named is the last row of the providers table sorted by score.
        let lowest = html.text_of("#headline-lowest a");
        let table = app.get("/providers?sort=score&dir=asc").await.html();
        assert_eq!(table.texts_of("#providers tbody th a").first(), Some(&lowest));
        assert!(html.text_of("#cite").contains("checkpoint"));
    }

    #[tokio::test]
    async fn registered_providers_are_listed() {
        let app = TestApp::new().await;
        let mut conn = app.db.pool.acquire().await.expect("conn");
        for provider in crate::demo::providers() {
            crate::db::providers::insert_if_missing(&mut conn, &provider).await.expect("insert");
        }
        let html = app.get("/").await.html();
        let names = html.texts_of("#providers li");
        assert_eq!(names.len(), crate::demo::providers().len());
        assert!(names.iter().any(|name| name.starts_with("Nordic HPC Centre (demo)")), "{names:?}");
        assert_eq!(
            html.text_of("#providers-status"),
            format!("{} providers are registered.", crate::demo::providers().len())
        );
    }

    #[tokio::test]
    async fn every_page_carries_the_security_headers() {
        let app = TestApp::new().await;
        let response = app.get("/").await;
        let csp = response.header("content-security-policy");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(response.header("x-content-type-options"), "nosniff");
        assert_eq!(response.header("referrer-policy"), "strict-origin-when-cross-origin");
    }
}
