//! `/providers`: every provider with its grade, sortable by links (no script needed).

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::cite::Citation;
use super::format;
use super::page_data::{self, PageData};
use crate::AppState;
use crate::analytics::grades::Grade;
use crate::api::extract::Query;
use crate::error::PageError;
use crate::providers::Provider;

/// One row of the providers table.
pub struct ProviderRow {
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
    Name,
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
    /// The snapshot the grades come from.
    pub snapshot: Arc<PageData>,
    /// The citation line.
    pub cite: Citation,
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
    let snapshot = page_data::current(&state).await?;
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
    let path = if query.sort.is_some() || query.dir.is_some() {
        format!("/providers?sort={sort}&dir={}", if descending { "desc" } else { "asc" })
    } else {
        "/providers".to_owned()
    };
    let cite = Citation::new(&state, &snapshot, "providers and their access grades", &path);
    let page = ProvidersPage { rows, sort, descending, notice, snapshot, cite };
    Ok(super::render_snapshot(&page, &page.snapshot))
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
}
