//! `/methodology`: how grades are computed, with the weights the code uses.

use askama::Template;
use axum::response::Response;

use crate::analytics::grades::{Component, FULL_SET_ASIDE, NEWCOMER_CATEGORIES};

/// The page.
#[derive(Template)]
#[template(path = "methodology.html")]
pub struct MethodologyPage {
    /// (label, weight) of every component, as the grading code uses them.
    pub weights: Vec<(&'static str, f64)>,
    /// Categories counted as newcomers.
    pub newcomer_categories: String,
    /// Set-aside share for full marks, in percent.
    pub full_set_aside_percent: f64,
}

/// `/methodology`.
pub async fn show() -> Response {
    super::render(&MethodologyPage {
        weights: Component::ALL.iter().map(|(c, w)| (c.label(), *w)).collect(),
        newcomer_categories: NEWCOMER_CATEGORIES.join(", "),
        full_set_aside_percent: FULL_SET_ASIDE * 100.0,
    })
}

#[cfg(test)]
mod tests {
    use crate::testing::TestApp;

    #[tokio::test]
    async fn the_weights_on_the_page_are_the_ones_the_code_uses() {
        let app = TestApp::new().await;
        let html = app.get("/methodology").await.html();
        let weights: Vec<f64> =
            html.texts_of("#weights td.weight").iter().map(|w| w.parse().expect("number")).collect();
        let expected: Vec<f64> = crate::analytics::grades::Component::ALL.iter().map(|(_, w)| *w).collect();
        assert_eq!(weights, expected);
    }
}
