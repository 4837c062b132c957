//! Atom 1.0 feeds (RFC 4287) of new disclosures: `/feed.atom` for all providers and
//! `/providers/{slug}/feed.atom` for one. One item per accepted entry, linking to
//! its ledger page; ids are stable URNs built from the log's origin and the index.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::api::extract::Path;
use crate::db;
use crate::db::ledger::EntrySummary;
use crate::error::{AppError, PageError};

/// Items per feed.
const ITEMS: i64 = 50;

/// A feed.
#[derive(Template)]
#[template(path = "feed.xml")]
pub struct Feed {
    /// Feed title.
    pub title: String,
    /// The feed's own path.
    pub self_path: String,
    /// Stable id prefix: `urn:gatelog:<origin>`.
    pub urn: String,
    /// Newest first.
    pub entries: Vec<EntrySummary>,
    /// Time of the newest entry (or now, for an empty feed).
    pub updated: String,
}

impl Feed {
    /// RFC 3339 time of an entry.
    pub fn time(&self, entry: &EntrySummary) -> String {
        crate::ledger::entry::format_received_at(entry.received_at)
    }
}

fn respond(feed: &Feed) -> Response {
    match feed.render() {
        Ok(xml) => {
            let mut response = xml.into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/atom+xml; charset=utf-8"));
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
            response
        }
        Err(error) => PageError(AppError::Render(error)).into_response(),
    }
}

fn feed(state: &AppState, title: String, self_path: String, entries: Vec<EntrySummary>) -> Feed {
    let updated = entries.first().map_or_else(
        || crate::ledger::entry::format_received_at(chrono::Utc::now()),
        |e| crate::ledger::entry::format_received_at(e.received_at),
    );
    Feed { title, self_path, urn: format!("urn:gatelog:{}", state.ledger.origin()), entries, updated }
}

/// `/feed.atom`.
pub async fn all(State(state): State<AppState>) -> Result<Response, PageError> {
    let mut conn = state.pool.acquire().await?;
    let entries = db::ledger::recent_entries(&mut conn, ITEMS, None).await?;
    Ok(respond(&feed(&state, "Gatelog: new disclosures".into(), "/feed.atom".into(), entries)))
}

/// `/providers/{slug}/feed.atom`.
pub async fn provider(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Response, PageError> {
    let mut conn = state.pool.acquire().await?;
    let parsed = crate::records::Slug::parse(&slug).map_err(|_| AppError::NotFound)?;
    let provider = db::providers::get(&mut conn, &parsed).await?.ok_or(AppError::NotFound)?;
    let entries = db::ledger::recent_entries(&mut conn, ITEMS, Some(&slug)).await?;
    let title = format!("Gatelog: disclosures of {}", provider.display_name);
    Ok(respond(&feed(&state, title, format!("/providers/{slug}/feed.atom"), entries)))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::{TestApp, sample_batch};

    #[tokio::test]
    async fn feeds_list_each_disclosure_with_a_stable_id_and_link() {
        let app = TestApp::new().await;
        app.ledger().append(&app.db.pool, &sample_batch(0, 4)).await.expect("append");
        let response = app.get("/feed.atom").await;
        response.assert_status(StatusCode::OK);
        assert_eq!(response.header("content-type"), "application/atom+xml; charset=utf-8");
        let xml = response.text();
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">")
        );
        assert_eq!(xml.matches("<entry>").count(), 4);
        assert!(xml.contains("<id>urn:gatelog:test.gatelog.invalid/log:entry:3</id>"));
        assert!(xml.contains("<link rel=\"alternate\" type=\"text/html\" href=\"/ledger/entries/3\"/>"));
        for element in ["<title>", "<updated>", "<author>", "<link rel=\"self\""] {
            assert!(xml.contains(element), "{element} missing");
        }
        // sample_batch cycles through three providers: entries 0 and 3 are nimbus-gpu's.
        app.provider_token("nimbus-gpu").await;
        let theirs = app.get("/providers/nimbus-gpu/feed.atom").await.text();
        assert_eq!(theirs.matches("<entry>").count(), 2, "{theirs}");
        app.get("/providers/nobody/feed.atom").await.assert_status(StatusCode::NOT_FOUND);
    }
}
