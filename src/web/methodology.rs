//! `/methodology`: how grades are computed, with the weights the code uses, under the
//! current methodology version, and every earlier version with what changed.

use askama::Template;
use axum::response::Response;

use crate::analytics::grades::{FULL_SET_ASIDE, NEWCOMER_CATEGORIES};
use crate::analytics::methodology::{CURRENT, Methodology, VERSIONS};
use crate::datasets::versions::{FORMATS, SnapshotFormat};

#[derive(Template)]
#[template(path = "methodology.html")]
pub struct MethodologyPage {
    /// The version grades are computed with now.
    pub current: &'static Methodology,
    /// (label, weight) of every component, as the grading code uses them.
    pub weights: Vec<(&'static str, f64)>,
    /// Categories counted as newcomers.
    pub newcomer_categories: String,
    /// Set-aside share for full marks, in percent.
    pub full_set_aside_percent: f64,
    /// Every version, newest first.
    pub versions: Vec<&'static Methodology>,
    /// Every snapshot format, newest first.
    pub formats: Vec<&'static SnapshotFormat>,
}

impl MethodologyPage {
    /// A version's weights as one line, e.g. "Newcomer acceptance 15, …".
    pub fn weights_of(&self, m: &Methodology) -> String {
        m.weights.iter().map(|(c, w)| format!("{} {w}", c.label())).collect::<Vec<_>>().join(", ")
    }
}

/// `/methodology`.
pub async fn show() -> Response {
    super::render(&MethodologyPage {
        current: CURRENT,
        weights: CURRENT.weights.iter().map(|(c, w)| (c.label(), *w)).collect(),
        newcomer_categories: NEWCOMER_CATEGORIES.join(", "),
        full_set_aside_percent: FULL_SET_ASIDE * 100.0,
        versions: VERSIONS.iter().rev().collect(),
        formats: FORMATS.iter().rev().collect(),
    })
}

#[cfg(test)]
mod tests {
    use crate::analytics::methodology::{CURRENT, VERSIONS};
    use crate::testing::TestApp;

    #[tokio::test]
    async fn the_weights_on_the_page_are_the_ones_the_code_uses_under_the_current_version() {
        let app = TestApp::new().await;
        let html = app.get("/methodology").await.html();
        let weights: Vec<f64> =
            html.texts_of("#weights td.weight").iter().map(|w| w.parse().expect("number")).collect();
        let expected: Vec<f64> = crate::analytics::grades::Component::ALL.iter().map(|(_, w)| *w).collect();
        assert_eq!(weights, expected);
        assert_eq!(html.texts_of("#current-version"), [CURRENT.version.to_string()]);
        // Every version is listed, newest first, with what changed.
        let listed: Vec<String> = html.texts_of("#versions tbody th");
        let expected: Vec<String> = VERSIONS.iter().rev().map(|m| m.version.to_string()).collect();
        assert_eq!(listed, expected);
        let changes = html.texts_of("#version-notes .what-changed");
        assert!(changes.iter().zip(VERSIONS.iter().rev()).all(|(shown, m)| shown == m.what_changed), "{changes:?}");
        assert_eq!(html.texts_of("#formats tbody th").len(), crate::datasets::versions::FORMATS.len());
        assert_eq!(html.texts_of("#format-notes .what-changed").len(), crate::datasets::versions::FORMATS.len());
    }
}
