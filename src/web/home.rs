//! `/`: what Gatelog is, the few figures a reader comes for (waits, acceptance, lock-ups,
//! overdue filings), each stated in words, drawn, tabled and linked to its evidence; what
//! the ledger holds right now, the latest disclosures in words, and every provider with
//! its grade. Rendered once per checkpoint and kept (`super::render_kept`): every figure
//! comes from the snapshot (the providers' digests and acceptance buckets, folded when it
//! is loaded) and each provider's missing filings, never from the entries. What a new
//! checkpoint leaves as it was is carried over (`PageDataCache::carried`): each provider's
//! missing filings until its entries, the registry or the day change, and each story's
//! chart until its figures change, so a first view after an append recomputes the
//! providers that append concerns, not every provider.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;

use super::disclosure_words::{Described, described};
use super::format;
use super::page_data::PageData;
use crate::AppState;
use crate::analytics::compliance::{PeriodStatus, Status};
use crate::analytics::headline::{self, Overdue, PeriodAcceptance};
use crate::charts::{self, Bar, BarAxis, Frame, Line, ValueAxis};
use crate::db;
use crate::error::{AppError, PageError};
use crate::providers::Provider;

/// Providers shown in each ranking (lock-ups, overdue filings).
const RANKED: usize = 5;

#[derive(Template)]
#[template(path = "home/index.html")]
pub struct HomePage {
    /// Registered providers, by name, with their grade letters.
    pub providers: Vec<(Provider, Option<char>)>,
    /// Entries in the ledger.
    pub disclosures: i64,
    /// The newest entries, with the figure each states.
    pub latest: Vec<Described>,
    /// When the latest checkpoint was signed.
    pub signed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Figures across every provider.
    pub headline: headline::Headline,
    /// The queue dashboard over the headline's wait window.
    pub waits_link: String,
    /// The waits month by month, drawn.
    pub waits_chart: Option<String>,
    /// Acceptance month by month: newcomer categories against everyone else.
    pub acceptance: Vec<PeriodAcceptance>,
    /// The same, drawn.
    pub acceptance_chart: Option<String>,
    /// The providers locking up the largest shares of their capacity.
    pub lockups: Vec<Ranked<crate::analytics::capacity::CapacityPoint>>,
    /// The same, drawn.
    pub lockups_chart: Option<String>,
    /// The providers most overdue on their filings.
    pub overdue: Vec<Ranked<Overdue>>,
    /// The same, drawn.
    pub overdue_chart: Option<String>,
    /// The date overdue filings are counted to (the checkpoint's).
    pub as_of: Option<NaiveDate>,
    /// The lowest-graded provider and its grade.
    pub lowest: Option<(Provider, crate::analytics::grades::Grade)>,
    /// The citation line.
    pub cite: super::cite::Citation,
}

/// A provider in a ranking, with its figure.
pub struct Ranked<T> {
    /// Provider slug.
    pub slug: String,
    /// Its display name.
    pub name: String,
    pub figure: T,
}

/// Handler for `/`.
pub async fn show(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Result<Response, PageError> {
    let snapshot = super::page_data::current(&state).await?;
    if let Some(page) = super::kept(&headers, &snapshot, "/", "text/html; charset=utf-8") {
        return Ok(page);
    }
    let latest = {
        let mut conn = state.pool.acquire().await?;
        let newest = db::ledger::recent_entries(&mut conn, 10, None).await?;
        described(&mut conn, &newest).await?
    };
    let acceptance = snapshot.acceptance_by_month.clone();
    let as_of = snapshot.signed_at.date_naive();
    let overdue = ranked(&snapshot, most_overdue(&state, &snapshot).await?.0, |o| &o.provider);
    let lockups = ranked(
        &snapshot,
        headline::largest_lockups(
            snapshot
                .providers
                .iter()
                .map(|p| (p.slug.as_str(), snapshot.digest(p.slug.as_str()).and_then(|d| d.capacity))),
            RANKED,
        ),
        |(slug, _)| slug,
    )
    .into_iter()
    .map(|r| Ranked { slug: r.slug, name: r.name, figure: r.figure.1 })
    .collect::<Vec<_>>();
    let providers =
        snapshot.providers.iter().map(|p| (p.clone(), snapshot.grade(p.slug.as_str()).map(|g| g.letter))).collect();
    let lowest = snapshot
        .providers
        .iter()
        .filter_map(|p| Some((p.clone(), snapshot.grade(p.slug.as_str())?.clone())))
        .min_by(|a, b| a.1.score.total_cmp(&b.1.score));
    let cite = super::cite::Citation::new(&state, &snapshot, "headline figures", "/");
    let headline = snapshot.headline.clone();
    let page = HomePage {
        providers,
        disclosures: snapshot.tree_size as i64,
        latest,
        signed_at: Some(snapshot.signed_at),
        waits_link: waits_link(&headline),
        waits_chart: carried_chart(&state, "waits", headline.monthly_waits.clone(), || waits_chart(&headline)),
        acceptance_chart: carried_chart(&state, "acceptance", acceptance.clone(), || acceptance_chart(&acceptance)),
        acceptance,
        lockups_chart: carried_chart(
            &state,
            "lockups",
            lockups.iter().map(|r| (r.name.clone(), r.figure.locked_share())).collect::<Vec<_>>(),
            || lockups_chart(&lockups),
        ),
        lockups,
        overdue_chart: carried_chart(
            &state,
            "overdue",
            overdue.iter().map(|r| (r.name.clone(), r.figure.days, r.figure.missing)).collect::<Vec<_>>(),
            || overdue_chart(&overdue),
        ),
        overdue,
        as_of: Some(as_of),
        headline,
        lowest,
        cite,
    };
    Ok(super::render_kept(&page, &headers, &snapshot, "/"))
}

/// Providers whose missing filings are recomputed one by one (each from its own sums); with
/// more than this many to recompute (the first view, a new day, a registry change), the
/// whole compliance report is computed once instead.
const ONE_BY_ONE: usize = 8;

/// Each provider's missing filings, with what they were computed from: the snapshot its
/// newest entry appeared in, the registry's version and the day.
type MissingHeld = HashMap<String, ((u64, i64, NaiveDate), Arc<Vec<PeriodStatus>>)>;

/// The providers most overdue on their filings at `snapshot` (as the compliance report
/// counts them), and how many providers' filings were read to rank them. A provider's
/// missing filings are carried over from the previous checkpoint unless it filed since,
/// the registry changed or the day turned: a new entry costs its provider's own sums,
/// not a report over every provider's filings.
pub async fn most_overdue(state: &AppState, snapshot: &PageData) -> Result<(Vec<Overdue>, usize), AppError> {
    const CARRIED: &str = "home:missing";
    let today = snapshot.signed_at.date_naive();
    let held = state.snapshots.carried().get::<MissingHeld>(CARRIED).unwrap_or_default();
    let mut now = MissingHeld::with_capacity(snapshot.providers.len());
    let mut stale = Vec::new();
    for provider in &snapshot.providers {
        let slug = provider.slug.as_str();
        let (filed_at, registry) = snapshot.filings_key(slug);
        let key = (filed_at, registry, today);
        match held.get(slug).filter(|(k, _)| *k == key) {
            Some(kept) => {
                now.insert(slug.to_owned(), kept.clone());
            }
            None => stale.push((slug, key)),
        }
    }
    fn missing<'a>(periods: impl Iterator<Item = &'a PeriodStatus>) -> Arc<Vec<PeriodStatus>> {
        Arc::new(periods.filter(|p| p.status == Status::Missing).cloned().collect())
    }
    if stale.len() > ONE_BY_ONE {
        let report = super::compliance::report(state, snapshot).await?;
        for (slug, key) in &stale {
            now.insert((*slug).to_owned(), (*key, missing(report.of(slug))));
        }
    } else {
        for (slug, key) in &stale {
            let report = super::compliance::provider_report(state, snapshot, slug).await?;
            now.insert((*slug).to_owned(), (*key, missing(report.periods.iter())));
        }
    }
    let periods: Vec<PeriodStatus> = now.values().flat_map(|(_, m)| m.iter().cloned()).collect();
    let ranking = headline::most_overdue(&periods, today, RANKED);
    state.snapshots.carried().put(CARRIED.to_owned(), Arc::new(now));
    Ok((ranking, stale.len()))
}

/// A story's chart, carried over from the previous checkpoint while its figures are the
/// same (`inputs`): drawing the four stories (two drawings each) is most of the page's work.
fn carried_chart<K: PartialEq + Send + Sync + 'static>(
    state: &AppState,
    story: &str,
    inputs: K,
    draw: impl FnOnce() -> Option<String>,
) -> Option<String> {
    let key = format!("home:chart:{story}");
    if let Some(kept) = state.snapshots.carried().get::<(K, Option<String>)>(&key).filter(|kept| kept.0 == inputs) {
        return kept.1.clone();
    }
    let svg = draw();
    state.snapshots.carried().put(key, Arc::new((inputs, svg.clone())));
    svg
}

/// Each figure with its provider's display name (its slug if it is no longer registered).
fn ranked<T>(snapshot: &PageData, figures: Vec<T>, slug: impl Fn(&T) -> &String) -> Vec<Ranked<T>> {
    figures
        .into_iter()
        .map(|figure| {
            let slug = slug(&figure).clone();
            let name = snapshot.provider(&slug).map_or_else(|| slug.clone(), |p| p.display_name.clone());
            Ranked { slug, name, figure }
        })
        .collect()
}

/// The queue dashboard over the months the wait figures cover.
fn waits_link(headline: &headline::Headline) -> String {
    match headline.wait_window {
        Some((first, last)) => {
            let end = last.checked_add_months(chrono::Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(last);
            format!("/metrics/queue-times?from={first}&to={end}")
        }
        None => "/metrics/queue-times".to_owned(),
    }
}

fn waits_chart(headline: &headline::Headline) -> Option<String> {
    let months = &headline.monthly_waits;
    let line = |label: &str, value: fn(&headline::MonthlyWait) -> Option<f64>| Line {
        label: label.to_owned(),
        points: months.iter().filter_map(|m| Some((m.month, value(m)?))).collect(),
    };
    let lines = [line("newcomer tier", |m| m.newcomer_hours), line("on-demand tier", |m| m.on_demand_hours)];
    let latest = months.last()?;
    let description = format!(
        "Median wait per month across providers, in hours, {} to {}: newcomer tier and on-demand tier. \
         In {} newcomers waited {} and on-demand customers {}.",
        months.first()?.month.format("%B %Y"),
        latest.month.format("%B %Y"),
        latest.month.format("%B %Y"),
        latest.newcomer_hours.map_or("nothing disclosed".to_owned(), |h| format!("{} h", format::hours(h, 1))),
        latest.on_demand_hours.map_or("nothing disclosed".to_owned(), |h| format!("{} h", format::hours(h, 1))),
    );
    let frame = Frame::inline("home-waits", "Median wait per month: newcomers against on-demand customers");
    charts::lines(&frame, &description, &ValueAxis { title: "median wait (hours)", decimals: 1 }, &lines)
}

fn acceptance_chart(months: &[PeriodAcceptance]) -> Option<String> {
    let line = |label: &str, rate: fn(&PeriodAcceptance) -> Option<f64>| Line {
        label: label.to_owned(),
        points: months.iter().filter_map(|m| Some((m.month, rate(m)? * 100.0))).collect(),
    };
    let lines = [
        line("newcomer categories", PeriodAcceptance::newcomer_rate),
        line("everyone else", PeriodAcceptance::other_rate),
    ];
    let latest = months.last()?;
    let percent = |rate: Option<f64>| rate.map_or("none decided".to_owned(), format::percent_from_share);
    let description = format!(
        "Share of decided applications accepted per month across providers, {} to {}: newcomer categories \
         (students, first-time founders, civic applicants) against everyone else. In {}: {} against {}.",
        months.first()?.month.format("%B %Y"),
        latest.month.format("%B %Y"),
        latest.month.format("%B %Y"),
        percent(latest.newcomer_rate()),
        percent(latest.other_rate()),
    );
    let frame = Frame::inline("home-acceptance", "Acceptance per month: newcomer categories against everyone else");
    charts::lines(&frame, &description, &ValueAxis { title: "accepted of decided (%)", decimals: 0 }, &lines)
}

fn lockups_chart(lockups: &[Ranked<crate::analytics::capacity::CapacityPoint>]) -> Option<String> {
    let bars: Vec<Bar> = lockups
        .iter()
        .map(|r| {
            let share = r.figure.locked_share().unwrap_or(0.0);
            Bar { label: r.name.clone(), value: Some(share * 100.0), group: 0, text: format::percent_from_share(share) }
        })
        .collect();
    let parts: Vec<String> = bars.iter().map(|b| format!("{} {}", b.label, b.text)).collect();
    let description = format!(
        "Share of each provider's latest disclosed capacity held by deals in force, largest first: {}.",
        parts.join("; ")
    );
    let frame = Frame::inline("home-lockups", "Largest shares of capacity locked up by deals");
    charts::bars(&frame, &description, &BarAxis { title: "capacity locked up (%)", full: 100.0 }, &["locked up"], &bars)
}

fn overdue_chart(overdue: &[Ranked<Overdue>]) -> Option<String> {
    let bars: Vec<Bar> = overdue
        .iter()
        .map(|r| Bar {
            label: r.name.clone(),
            value: Some(r.figure.days as f64),
            group: 0,
            text: format!("{} days, {} missing", r.figure.days, r.figure.missing),
        })
        .collect();
    let parts: Vec<String> = bars.iter().map(|b| format!("{} {}", b.label, b.text)).collect();
    let description = format!(
        "Days the oldest missing filing of each provider is past its deadline, most overdue first: {}.",
        parts.join("; ")
    );
    let full = overdue.iter().map(|r| r.figure.days as f64).fold(0.0, f64::max);
    let frame = Frame::inline("home-overdue", "Providers most overdue on their filings");
    charts::bars(
        &frame,
        &description,
        &BarAxis { title: "days past the deadline", full },
        &["oldest missing filing"],
        &bars,
    )
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

    /// The four figures a reader comes for: each stated in words, drawn (an SVG with its
    /// title), captioned, tabled, and linked to evidence that answers.
    #[tokio::test]
    async fn each_figure_is_stated_drawn_tabled_and_linked_to_its_evidence() {
        let app = TestApp::with_demo().await;
        let html = app.get("/").await.html();
        for story in ["waits", "acceptance", "lockups", "overdue"] {
            let at = |inner: &str| format!("#story-{story} {inner}");
            assert!(html.text_of(&at(".lede")).chars().any(|c| c.is_ascii_digit()), "{story} states a figure");
            assert_eq!(html.attr_of(&at("figure.chart svg"), "role"), "img", "{story}");
            assert!(!html.text_of(&at("figure.chart svg title")).is_empty(), "{story} chart has a title");
            assert!(!html.text_of(&at("figure.chart figcaption")).is_empty(), "{story}");
            assert!(!html.texts_of(&at("details table tbody tr")).is_empty(), "{story} has its numbers");
            for href in html.attrs_of(&at("a"), "href") {
                app.get(&href).await.assert_status(StatusCode::OK);
            }
            assert!(!html.attrs_of(&at(".evidence a"), "href").is_empty(), "{story} links its evidence");
        }
        let ids = html.attrs_of("svg title", "id");
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(ids.len(), unique.len(), "chart ids are unique on the page: {ids:?}");
        assert!(html.attr_of("#story-waits .evidence a", "href").starts_with("/metrics/queue-times?from="));
    }

    #[tokio::test]
    async fn the_figures_agree_with_the_pages_they_link_to() {
        let app = TestApp::with_demo().await;
        let html = app.get("/").await.html();

        // The largest lock-up share is the scorecard's latest locked share for that provider.
        let scorecard = html.attr_of("#lockups-rank tbody th a", "href");
        let share = html.texts_of("#lockups-rank tbody td.share")[0].clone();
        assert!(html.text_of("#headline-lockups").contains(&share), "{share}");
        let page = app.get(&scorecard).await.html();
        let rows = page.texts_of("#capacity-table tbody tr td:nth-child(5)");
        assert_eq!(rows.last(), Some(&share), "{scorecard}");

        // The most overdue provider's missing filings are the compliance report's.
        let report = html.attr_of("#overdue-rank tbody th a", "href");
        let missing: usize = html.texts_of("#overdue-rank tbody td.missing")[0].parse().expect("count");
        let statuses = app.get(&report).await.html().texts_of("#periods tbody td.status");
        assert_eq!(statuses.iter().filter(|s| *s == "missing").count(), missing, "{report}");
        assert!(missing > 0);

        // Acceptance month by month (from the buckets) sums to the headline (from the digests).
        let decided: u64 = html
            .texts_of("#acceptance-table tbody td:nth-child(3)")
            .iter()
            .map(|n| n.parse::<u64>().expect("count"))
            .sum();
        let headline = html.text_of("#headline-acceptance");
        assert!(headline.contains(&format!(" of {decided}:")), "{decided} / {headline}");

        // The monthly waits span the window the headline names and the dashboard link filters by.
        let months = html.texts_of("#waits-table tbody th");
        let link = html.attr_of("#story-waits .evidence a", "href");
        let first = months.first().expect("a month");
        assert!(link.contains(&format!("from={first}-01")), "{link} / {months:?}");
    }

    /// Each latest disclosure states its figure and period in the feed's words, names its
    /// provider, and says when it amends an earlier entry; the ledger's and a scorecard's
    /// lists of entries state the same.
    #[tokio::test]
    async fn latest_disclosures_state_their_figure_period_and_amendment() {
        let app = TestApp::with_demo().await;
        let token = app.provider_token("corvid-gpu").await;
        let amended = serde_json::json!({"kind": "queue_time", "period_start": "2024-11-01", "period_end": "2024-12-01",
            "resource": "nvidia-h100-80gb", "region": "us-central", "tier": "newcomer", "jobs": 5,
            "p50_seconds": 36_000, "p90_seconds": 72_000, "p99_seconds": 99_000});
        app.post("/api/v1/records", "application/json", format!("[{amended}]"), Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);
        let html = app.get("/").await.html();
        let items = html.texts_of("#latest li");
        assert_eq!(items.len(), 10);
        let first = &items[0];
        assert!(
            first.starts_with("Corvid GPU (demo): newcomer tier median wait 10.0 h for nvidia-h100-80gb in us-central, November 2024 amends entry #"),
            "{first}"
        );
        let previous = html.attr_of("#latest li:first-child .amends a", "href");
        assert!(previous.starts_with("/ledger/entries/"), "{previous}");
        // Every item states a figure and its period, worded as the feed words it.
        let feed = app.get("/feed.atom").await.text();
        for figure in html.texts_of("#latest li .figure") {
            assert!(figure.chars().any(|c| c.is_ascii_digit()), "{figure}");
            assert!(figure.contains(" 20"), "a period or date: {figure}");
            assert!(feed.contains(&figure), "{figure} is the feed's wording");
        }
        let ledger = app.get("/ledger").await.html();
        let states = ledger.texts_of("#recent td.states");
        assert_eq!(states.first().map(String::as_str), html.texts_of("#latest li .figure").first().map(String::as_str));
        let scorecard = app.get("/providers/corvid-gpu").await.html();
        let filed = scorecard.texts_of("#filings td.states");
        assert_eq!(filed.first(), states.first());
    }

    /// The acceptance series is folded as snapshots load, the changed providers' buckets only:
    /// after an append it is what a load from scratch computes, and it moved.
    #[tokio::test]
    async fn the_acceptance_series_follows_appends_as_a_full_load_computes_it() {
        let app = TestApp::with_demo().await;
        let before = crate::web::page_data::current(&app.state).await.expect("snapshot");
        let token = app.provider_token("corvid-gpu").await;
        let mut record = crate::records::kinds::examples()[1].clone();
        record["received"] = serde_json::json!(5000);
        record["accepted"] = serde_json::json!(4000);
        record["rejected"] = serde_json::json!(1000);
        app.post("/api/v1/records", "application/json", format!("[{record}]"), Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);
        let after = crate::web::page_data::current(&app.state).await.expect("snapshot");
        assert!(after.tree_size > before.tree_size);
        assert_ne!(after.acceptance_by_month, before.acceptance_by_month);
        app.state.snapshots.clear();
        let fresh = crate::web::page_data::current(&app.state).await.expect("snapshot");
        assert_eq!(fresh.tree_size, after.tree_size);
        assert_eq!(after.acceptance_by_month, fresh.acceptance_by_month);
        let decided: u64 = fresh.acceptance_by_month.iter().map(|m| m.newcomers.1 + m.others.1).sum();
        assert_eq!(decided, fresh.headline.newcomer_decisions.1 + fresh.headline.other_decisions.1);
    }

    /// The overdue ranking after an append reads the filings of the provider that filed
    /// alone (the others' missing filings are carried over), and ranks as the whole
    /// compliance report does.
    #[tokio::test]
    async fn the_overdue_ranking_reads_the_filer_alone_and_agrees_with_the_whole_report() {
        let app = TestApp::with_demo().await;
        let token = app.provider_token("corvid-gpu").await;
        let snapshot = crate::web::page_data::current(&app.state).await.expect("snapshot");
        let (_, read) = super::most_overdue(&app.state, &snapshot).await.expect("ranking");
        assert_eq!(read, snapshot.providers.len(), "the first view reads every provider");
        let record = serde_json::json!({"kind": "capacity", "as_of": "2026-11-02", "resource": "nvidia-h100-80gb",
            "region": "us-central", "total_accelerators": 640, "newcomer_set_aside": 40});
        app.post("/api/v1/records", "application/json", format!("[{record}]"), Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);
        let after = crate::web::page_data::current(&app.state).await.expect("snapshot");
        let (ranking, read) = super::most_overdue(&app.state, &after).await.expect("ranking");
        assert_eq!(read, 1, "the provider that filed");
        let report = crate::web::compliance::report(&app.state, &after).await.expect("report");
        let whole =
            crate::analytics::headline::most_overdue(&report.periods, after.signed_at.date_naive(), super::RANKED);
        assert_eq!(ranking, whole);
        assert!(!ranking.is_empty());
        let (_, read) = super::most_overdue(&app.state, &after).await.expect("ranking");
        assert_eq!(read, 0, "nothing new: nothing read");
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
