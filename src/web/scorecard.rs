//! `/providers/{slug}`: one provider's scorecard — its grade and how it was
//! computed, charts (queue times per tier, acceptance by applicant category,
//! prices, lock-ups against the newcomer set-aside) each with its table,
//! reporting completeness, its latest filings and amendments — and
//! `/providers/{slug}/charts/{chart}.svg`, each chart alone, to embed.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::cite::Citation;
use super::format;
use super::page_data::{self, PageData, ProviderData};
use crate::AppState;
use crate::analytics::grades::Grade;
use crate::api::extract::Path;
use crate::charts::{self, Frame};
use crate::db;
use crate::error::{AppError, PageError};
use crate::projection::summary::ProviderFigures;
use crate::providers::Provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScorecardChart {
    /// Median wait per tier over time.
    QueueTimes,
    /// Acceptance rate per applicant category.
    Acceptance,
    /// Price per accelerator-hour over time.
    Prices,
    /// Share locked up against share set aside, over time.
    Lockups,
}

impl ScorecardChart {
    /// Every chart, in page order.
    pub const ALL: [Self; 4] = [Self::QueueTimes, Self::Acceptance, Self::Prices, Self::Lockups];

    /// URL name (`/providers/{slug}/charts/{name}.svg`) and element id.
    pub fn name(self) -> &'static str {
        match self {
            Self::QueueTimes => "queue-times",
            Self::Acceptance => "acceptance",
            Self::Prices => "prices",
            Self::Lockups => "lockups",
        }
    }

    fn from_file(file: &str) -> Option<Self> {
        let name = file.strip_suffix(".svg")?;
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The chart's title for one provider.
    pub fn title(self, provider: &str) -> String {
        match self {
            Self::QueueTimes => format!("Median wait per access tier: {provider}"),
            Self::Acceptance => format!("Acceptance by applicant category: {provider}"),
            Self::Prices => format!("Price per accelerator-hour: {provider}"),
            Self::Lockups => format!("Capacity locked up vs set aside for newcomers: {provider}"),
        }
    }

    /// What the chart shows, for its caption.
    pub fn caption(self) -> &'static str {
        match self {
            Self::QueueTimes => "Median wait per access tier, monthly (median across resources and regions).",
            Self::Acceptance => {
                "Accepted ÷ (accepted + rejected) per applicant category, all tracks and periods; newcomer categories in orange."
            }
            Self::Prices => {
                "Median price per accelerator-hour per resource and pricing model, monthly, across regions."
            }
            Self::Lockups => {
                "At each capacity filing: share of capacity held by deals in force, and share set aside for newcomers."
            }
        }
    }

    fn draw(self, figures: &ProviderFigures, frame: &Frame<'_>) -> Option<String> {
        match self {
            Self::QueueTimes => charts::queue_times(&figures.queue, frame),
            Self::Acceptance => charts::acceptance(&figures.acceptance, frame),
            Self::Prices => charts::prices(&figures.prices, frame),
            Self::Lockups => charts::capacity_shares(&figures.capacity, frame),
        }
    }
}

/// A chart drawn inline on the scorecard.
pub struct InlineChart {
    /// Which chart.
    pub kind: ScorecardChart,
    /// Its SVG markup.
    pub svg: String,
}

#[derive(Template)]
#[template(path = "providers/show.html")]
pub struct ScorecardPage {
    pub provider: Provider,
    pub grade: Option<Grade>,
    /// Their figures and disclosures at this checkpoint.
    pub data: Arc<ProviderData>,
    /// The charts that have something to draw.
    pub charts: Vec<InlineChart>,
    /// Their newest entries.
    pub recent: Vec<super::disclosure_words::Described>,
    /// Their newest amendments.
    pub amendment_entries: Vec<db::ledger::EntrySummary>,
    /// Their registered record-signing keys, revoked ones too.
    pub keys: Vec<db::provider_keys::KeyInfo>,
    /// Energy filings, emissions, carbon per accelerator-hour and the intensity chart.
    pub energy: super::energy::EnergySection,
    /// Reports by others about this provider, with its answers (never in the figures).
    pub reports: Vec<super::reports::ReportView>,
    /// Days after which a report without an answer counts as unanswered.
    pub unanswered_days: u32,
    /// Amended records, counted.
    pub amendments: u64,
    /// How its reporting obligations were met.
    pub compliance: Vec<super::compliance::SummaryRow>,
    /// The checkpoint the page is computed from.
    pub snapshot: Arc<PageData>,
    /// The citation line.
    pub cite: Citation,
}

impl ScorecardPage {
    /// The inline chart of `kind`, if it has something to draw.
    pub fn chart(&self, kind: &str) -> Option<&InlineChart> {
        self.charts.iter().find(|c| c.kind.name() == kind)
    }
}

/// How many of a provider's newest entries and amendments the scorecard lists.
const RECENT_ENTRIES: i64 = 20;

async fn provider_of(state: &AppState, slug: &str) -> Result<(Arc<PageData>, Provider, Arc<ProviderData>), PageError> {
    let snapshot = page_data::current(state).await?;
    let provider = snapshot.provider(slug).cloned().ok_or(AppError::NotFound)?;
    let data = page_data::provider_data(state, &snapshot, slug).await?;
    Ok((snapshot, provider, data))
}

/// `/providers/{slug}`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let key = format!("/providers/{slug}");
    let snapshot = match page_data::kept_or_current(&state, &headers, &key).await? {
        std::ops::ControlFlow::Continue(snapshot) => snapshot,
        std::ops::ControlFlow::Break(answer) => return Ok(answer),
    };
    let provider = snapshot.provider(&slug).cloned().ok_or(AppError::NotFound)?;
    // The first view after a checkpoint that changed this provider reads everything below
    // from the database; none of it depends on the rest, so it is read at once, each on a
    // connection of its own: the page waits for the slowest read, not for their sum.
    let (data, report, recent, amendment_entries, keys, energy, reports) = tokio::try_join!(
        page_data::provider_data(&state, &snapshot, &slug),
        super::compliance::provider_report(&state, &snapshot, &slug),
        async {
            let mut conn = state.pool.acquire().await?;
            let newest = db::ledger::recent_entries(&mut conn, RECENT_ENTRIES, Some(&slug)).await?;
            Ok::<_, AppError>(super::disclosure_words::described(&mut conn, &newest).await?)
        },
        async {
            let mut conn = state.pool.acquire().await?;
            Ok::<_, AppError>(db::ledger::amendments_of(&mut conn, &slug, RECENT_ENTRIES).await?)
        },
        async {
            let mut conn = state.pool.acquire().await?;
            Ok::<_, AppError>(db::provider_keys::list(&mut conn, &provider.slug).await?)
        },
        super::energy::EnergySection::of(&state, &slug, &provider.display_name),
        super::reports::shown(&state, Some(&slug), None),
    )?;
    let compliance = super::compliance::summary(&report, std::slice::from_ref(&provider));
    let charts = ScorecardChart::ALL
        .into_iter()
        .filter_map(|kind| {
            let title = kind.title(&provider.display_name);
            let id = format!("{}-chart", kind.name());
            let svg = kind.draw(&data.figures, &Frame::inline(&id, &title))?;
            Some(InlineChart { kind, svg })
        })
        .collect();
    let cite = Citation::new(
        &state,
        &snapshot,
        format!("access scorecard of {}", provider.display_name),
        &format!("/providers/{slug}"),
    );
    let page = ScorecardPage {
        grade: snapshot.grade(&slug).cloned(),
        amendments: snapshot.amendments(&slug),
        compliance,
        provider,
        data,
        charts,
        recent,
        amendment_entries,
        keys,
        energy,
        reports,
        unanswered_days: state.unanswered_days.get(),
        snapshot,
        cite,
    };
    Ok(super::render_kept(&page, &headers, &page.snapshot, &key))
}

/// `/providers/{slug}/charts/{chart}.svg`: one chart alone, to embed, with its
/// source, checkpoint and permalink drawn into it.
pub async fn chart_svg(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, file)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = ScorecardChart::from_file(&file).ok_or(AppError::NotFound)?;
    let snapshot = page_data::current(&state).await?;
    if let Some(fresh) = super::not_modified(&headers, &snapshot) {
        return Ok(fresh);
    }
    let key = format!("/providers/{slug}/charts/{file}");
    if let Some(svg) = super::kept(&headers, &snapshot, &key, "image/svg+xml") {
        return Ok(svg);
    }
    let (snapshot, provider, data) = provider_of(&state, &slug).await?;
    let title = kind.title(&provider.display_name);
    let caption = [
        title.clone(),
        format!(
            "Source: Gatelog ledger, checkpoint {} (root {}…), signed {}.",
            snapshot.tree_size,
            &snapshot.root_hex[..16],
            snapshot.signed_at.format("%Y-%m-%d %H:%M UTC")
        ),
        format!("{}/providers/{slug}", state.public_url),
    ];
    let frame = Frame { id: kind.name(), title: &title, caption: &caption };
    let svg = kind.draw(&data.figures, &frame).ok_or(AppError::NotFound)?;
    Ok(super::keep(axum::body::Bytes::from(svg), &headers, &snapshot, &key, "image/svg+xml"))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn a_scorecard_shows_the_grade_breakdown_every_chart_with_its_table_and_the_filings() {
        let app = TestApp::with_demo().await;
        let response = app.get("/providers/corvid-gpu").await;
        response.assert_status(StatusCode::OK);
        let html = response.html();
        assert_eq!(html.text_of("h1"), "Corvid GPU (demo)");
        assert_eq!(html.texts_of("#grade-breakdown tbody tr").len(), 6);
        assert!(html.text_of("#graded-at").contains("checkpoint"));
        for chart in ["queue-times", "acceptance", "prices", "lockups"] {
            assert!(html.exists(&format!("#{chart}-figure svg title#{chart}-chart-title")), "{chart} chart");
            assert!(!html.texts_of(&format!("#{chart}-table tbody tr")).is_empty(), "{chart} table");
            let link = html.attr_of(&format!("#{chart}-figure figcaption a"), "href");
            assert_eq!(link, format!("/providers/corvid-gpu/charts/{chart}.svg"));
            let svg = app.get(&link).await;
            svg.assert_status(StatusCode::OK);
            assert_eq!(svg.header("content-type"), "image/svg+xml");
            let text = svg.text();
            assert!(text.contains("Source: Gatelog ledger, checkpoint") && text.contains("/providers/corvid-gpu"));
        }
        // Corvid's big exclusive deal takes well over half its capacity.
        let shares = html.texts_of("#lockups-table td.share");
        assert!(shares.iter().any(|s| s.trim_end_matches(" %").parse::<f64>().is_ok_and(|v| v > 50.0)), "{shares:?}");
        // Prices show cost basis and markup where disclosed.
        assert!(!html.texts_of("#prices-table tbody td.markup").is_empty());
        assert_eq!(html.texts_of("#completeness tbody tr").len(), 4);
        assert_eq!(html.texts_of("#obligations tbody tr").len(), 4);
        app.get(&html.attr_of("#compliance-link", "href")).await.assert_status(StatusCode::OK);
        let filings = html.texts_of("#filings tbody tr");
        assert_eq!(filings.len(), 20, "the newest twenty filings");
        app.get(&html.attr_of("#filings tbody a", "href")).await.assert_status(StatusCode::OK);
        let cite = html.text_of("#cite");
        assert!(
            cite.contains("checkpoint") && cite.contains("Accessed") && cite.contains("/providers/corvid-gpu"),
            "{cite}"
        );
        app.get("/providers/no-such-provider").await.assert_status(StatusCode::NOT_FOUND);
        app.get("/providers/corvid-gpu/charts/pie.svg").await.assert_status(StatusCode::NOT_FOUND);
        app.get("/providers/nobody/charts/prices.svg").await.assert_status(StatusCode::NOT_FOUND);
    }

    /// The grade breakdown used to carry each component's explanation in a fifth column, which
    /// made every row several lines tall on a phone: the table holds numbers, and each row header
    /// points to its explanation in the list under it.
    #[tokio::test]
    async fn the_grade_breakdown_keeps_numbers_in_the_table_and_explanations_under_it() {
        let app = TestApp::with_demo().await;
        let html = app.get("/providers/corvid-gpu").await.html();
        assert_eq!(html.texts_of("#grade-breakdown thead th"), ["component", "weight", "value", "points"]);
        let rows = html.texts_of("#grade-breakdown tbody tr");
        assert_eq!(rows.len(), 6);
        for cell in html.texts_of("#grade-breakdown tbody td") {
            assert!(cell.parse::<f64>().is_ok(), "only numbers in the cells: {cell:?}");
        }
        let labels = html.texts_of("#grade-breakdown tbody th");
        let described = html.attrs_of("#grade-breakdown tbody th", "aria-describedby");
        let snapshot = crate::web::page_data::current(&app.state).await.expect("snapshot");
        let grade = snapshot.grade("corvid-gpu").expect("Corvid is graded");
        assert_eq!(grade.components.len(), 6);
        for ((label, id), component) in labels.iter().zip(&described).zip(&grade.components) {
            let note = html.text_of(&format!("#grade-sources li#{id}"));
            assert_eq!(note, format!("{label}: {}", component.detail), "{id}");
        }
    }

    #[tokio::test]
    async fn amendments_are_listed_with_links_both_ways() {
        let app = TestApp::with_demo().await;
        let html = app.get("/providers/corvid-gpu").await.html();
        let rows = html.texts_of("#amendment-list tbody tr");
        assert!(!rows.is_empty(), "the demo amends some of Corvid's filings");
        let hrefs = html.attrs_of("#amendment-list tbody a", "href");
        for href in hrefs.iter().take(4) {
            app.get(href).await.assert_status(StatusCode::OK);
        }
    }

    /// A provider that amended fewer records than the scorecard lists had every one of its
    /// entries walked for the list (300,000 for a large importer, on each new checkpoint):
    /// the list's statement (`db::ledger::amendments_of`) must be an index range over its
    /// amendments alone.
    #[tokio::test]
    async fn a_providers_amendments_are_read_from_an_index_of_amendments() {
        let app = TestApp::with_demo().await;
        let mut conn = app.db.pool.acquire().await.expect("conn");
        // The demo is small enough for a sequential scan to look cheap: ask for an index plan,
        // and check it is the one that holds only amendments.
        sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.expect("set");
        let plan: Vec<String> = sqlx::query_scalar(
            "EXPLAIN SELECT idx, provider, kind, received_at, supersedes FROM ledger_entries
             WHERE provider = $1 AND supersedes IS NOT NULL ORDER BY idx DESC LIMIT $2",
        )
        .bind("corvid-gpu")
        .bind(super::RECENT_ENTRIES)
        .fetch_all(&mut *conn)
        .await
        .expect("explain");
        let plan = plan.join("\n");
        assert!(plan.contains("ledger_entries_amendments_by_provider"), "{plan}");
    }

    #[tokio::test]
    async fn a_provider_with_no_disclosures_gets_a_scorecard_that_says_so() {
        let app = TestApp::new().await;
        app.provider_token("quiet-provider").await;
        let html = app.get("/providers/quiet-provider").await.html();
        assert!(!html.exists("svg"), "nothing to chart");
        assert!(html.text_of("#queue-times-section").contains("No queue times disclosed"));
        app.get("/providers/quiet-provider/charts/queue-times.svg").await.assert_status(StatusCode::NOT_FOUND);
    }
}
