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
}

/// Handler for `/`.
pub async fn show(State(state): State<AppState>) -> Result<Response, PageError> {
    let snapshot = super::snapshot::current(&state).await?;
    let mut conn = state.pool.acquire().await?;
    let latest = db::ledger::recent_entries(&mut conn, 10, None).await?;
    let providers =
        snapshot.providers.iter().map(|p| (p.clone(), snapshot.grade(p.slug.as_str()).map(|g| g.letter))).collect();
    Ok(super::render(&HomePage {
        providers,
        disclosures: snapshot.tree_size as i64,
        latest,
        signed_at: Some(snapshot.signed_at),
    }))
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
