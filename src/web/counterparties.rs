//! `/counterparties` and `/counterparties/{slug}`: who holds the market's capacity
//! (issue 19, part 2). The market is computed once per checkpoint from the projection —
//! the buyer totals per provider and month of deals (`projection_buyers`) and the capacity
//! buckets' per-date totals, never the lock-ups themselves — and kept with the snapshot; a
//! buyer's page reads that buyer's deals alone. The pages are kept too, so a repeated view
//! is a lookup, whatever the ledger's size.

use std::ops::ControlFlow;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::NaiveDate;

use super::cite::Citation;
use super::format;
use super::page_data::{self, PageData};
use crate::AppState;
use crate::analytics::concentration::{self, Buyer, Market, MarketMonth, ProviderMarket, normalise};
use crate::api::extract::Path;
use crate::charts::{self, Bar, BarAxis, Frame, Line, ValueAxis};
use crate::db;
use crate::error::{AppError, PageError};
use crate::projection::bucket::BucketSummary;
use crate::records::kinds::Exclusivity;
use crate::records::kinds::Lockup;
use crate::records::{Record, RecordKind};

/// Buyers drawn on the market's share chart (the table lists them all).
const DRAWN: usize = 6;
/// Buyers on the bar chart of latest shares.
const TOP: usize = 10;

/// The market at a snapshot's checkpoint, computed on first use and kept with the snapshot.
pub async fn market(state: &AppState, snapshot: &PageData) -> Result<Arc<Market>, AppError> {
    if let Some(held) = snapshot.memo.get::<Market>("market") {
        return Ok(held);
    }
    let slugs: Vec<String> = snapshot.providers.iter().map(|p| p.slug.to_string()).collect();
    let mut conn = state.pool.acquire().await?;
    let buyers = db::projection::buyer_totals(&mut conn).await?;
    let capacity = db::projection::bucket_summaries(&mut conn, RecordKind::Capacity, &slugs).await?;
    drop(conn);
    let mut providers: std::collections::BTreeMap<String, ProviderMarket> = slugs
        .iter()
        .map(|slug| (slug.clone(), ProviderMarket { provider: slug.clone(), ..ProviderMarket::default() }))
        .collect();
    for (provider, bytes) in capacity {
        let summary = BucketSummary::from_bytes(&bytes)
            .map_err(|e| AppError::Unavailable(format!("capacity bucket of {provider}: {e}")))?;
        if let Some(p) = providers.get_mut(&provider) {
            p.capacity.extend(summary.capacity.iter().map(|(date, total, _)| (*date, *total)));
        }
    }
    for (provider, totals) in buyers {
        if let Some(p) = providers.get_mut(&provider) {
            p.buyers.push(totals);
        }
    }
    let providers: Vec<ProviderMarket> = providers.into_values().collect();
    let market = concentration::market(&providers);
    Ok(snapshot.memo.put("market".into(), Arc::new(market)))
}

/// A buyer's deals at the registered providers, newest first (then by provider and entry):
/// the lock-ups of the buckets its totals name, those filed under its name kept.
async fn deals_of(
    state: &AppState,
    snapshot: &PageData,
    buyer: &Buyer,
) -> Result<Vec<(String, u64, Lockup)>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let read = db::projection::lockups_of_buyer(&mut conn, &buyer.key.key).await?;
    drop(conn);
    let mut deals: Vec<(String, u64, Lockup)> = read
        .into_iter()
        .filter_map(|(provider, index, record)| match record {
            Record::Lockup(l) if normalise(&l.counterparty) == buyer.key && snapshot.provider(&provider).is_some() => {
                Some((provider, index, l))
            }
            _ => None,
        })
        .collect();
    deals.sort_by(|a, b| b.2.start_date.cmp(&a.2.start_date).then_with(|| a.0.cmp(&b.0)).then_with(|| a.1.cmp(&b.1)));
    Ok(deals)
}

/// The next multiple of 5 % at or past the longest bar (100 % at most unless a bar outgrows it).
fn axis_end(bars: &[Bar]) -> f64 {
    let longest = bars.iter().filter_map(|b| b.value).fold(0.0, f64::max);
    ((longest / 5.0).ceil() * 5.0).clamp(5.0, longest.max(100.0))
}

fn exclusivity_names() -> Vec<String> {
    Exclusivity::OPTIONS.iter().map(|(name, _)| name.replace('_', " ")).collect()
}

/// One row of the monthly market table.
pub struct MonthRow {
    /// Month, `YYYY-MM`.
    pub month: String,
    /// The day measured.
    pub on: NaiveDate,
    /// All disclosed capacity.
    pub capacity: u64,
    pub providers: u64,
    /// Accelerators in force per exclusivity.
    pub by_exclusivity: Vec<u64>,
    /// Deals in force per exclusivity.
    pub deals: Vec<u64>,
    /// Buyers holding anything.
    pub buyers: u64,
    /// The HHI, rounded.
    pub hhi: String,
}

impl MonthRow {
    fn of(m: &MarketMonth) -> Self {
        Self {
            month: m.month.format("%Y-%m").to_string(),
            on: m.on,
            capacity: m.capacity,
            providers: m.providers,
            by_exclusivity: m.by_exclusivity.clone(),
            deals: m.deals_by_exclusivity.clone(),
            buyers: m.buyers,
            hhi: m.hhi.map_or_else(|| "—".to_owned(), |h| format!("{h:.0}")),
        }
    }
}

/// One buyer's line in the market's table.
pub struct BuyerRow {
    /// Slug of its page.
    pub slug: String,
    /// Name shown.
    pub name: String,
    /// Every alias.
    pub aliases: Vec<String>,
    /// Providers it has deals with.
    pub providers: usize,
    /// Deals, in force and past.
    pub deals: u64,
    /// Accelerators in force in the latest month.
    pub accelerators: u64,
    /// Their share of all disclosed capacity.
    pub share: String,
}

/// `/counterparties`.
#[derive(Template)]
#[template(path = "counterparties/index.html")]
pub struct MarketPage {
    /// Buyers, largest latest holding first.
    pub buyers: Vec<BuyerRow>,
    /// Months, newest first.
    pub months: Vec<MonthRow>,
    pub latest: Option<MonthRow>,
    /// Exclusivity names, in column order.
    pub exclusivities: Vec<String>,
    /// The latest month's deals and accelerators in force per exclusivity.
    pub exclusivity_rows: Vec<(String, u64, u64)>,
    /// Buyers drawn on the share chart.
    pub drawn: Vec<String>,
    /// Per month (newest first), the drawn buyers' shares.
    pub share_rows: Vec<(String, Vec<String>)>,
    /// Share over time of the largest buyers.
    pub share_chart: Option<String>,
    /// Latest shares of the largest buyers.
    pub top_chart: Option<String>,
    /// HHI over time.
    pub hhi_chart: Option<String>,
    /// The checkpoint.
    pub snapshot: Arc<PageData>,
    /// The citation line.
    pub cite: Citation,
}

fn share_lines(market: &Market, buyers: &[&Buyer]) -> Vec<Line> {
    buyers
        .iter()
        .map(|b| Line {
            label: b.name.clone(),
            points: b
                .holdings
                .iter()
                .zip(&market.months)
                .filter_map(|(h, m)| h.share.map(|s| (m.month, s * 100.0)))
                .collect(),
        })
        .collect()
}

impl MarketPage {
    fn new(market: &Market, snapshot: Arc<PageData>, cite: Citation) -> Self {
        let drawn: Vec<&Buyer> = market.buyers.iter().take(DRAWN).collect();
        let share_chart = charts::lines(
            &Frame::inline("market-shares", "Share of all disclosed capacity held, largest buyers"),
            &format!(
                "Share of all capacity disclosed by every provider that each of the {} largest buyers holds under deals in force, month by month.",
                drawn.len()
            ),
            &ValueAxis { title: "share of disclosed capacity (%)", decimals: 1 },
            &share_lines(market, &drawn),
        );
        let top: Vec<&Buyer> =
            market.buyers.iter().take(TOP).filter(|b| b.latest().is_some_and(|h| h.accelerators > 0)).collect();
        let bars: Vec<Bar> = top
            .iter()
            .map(|b| {
                let share = b.latest().and_then(|h| h.share);
                Bar {
                    label: b.name.clone(),
                    value: share.map(|s| s * 100.0),
                    group: 0,
                    text: format::percent_from_share_or_dash(share),
                }
            })
            .collect();
        let latest_month = market.latest().map(|m| m.month.format("%Y-%m").to_string()).unwrap_or_default();
        let top_chart = charts::bars(
            &Frame::inline("market-top", "Largest buyers, latest month"),
            &format!("Share of all disclosed capacity each of the largest buyers holds in {latest_month}."),
            // Shares of a whole market are small: the axis ends at the next 5 % past the largest.
            &BarAxis { title: "share of disclosed capacity (%)", full: axis_end(&bars) },
            &["deals in force"],
            &bars,
        );
        let hhi_points: Vec<(NaiveDate, f64)> =
            market.months.iter().filter_map(|m| m.hhi.map(|h| (m.month, h))).collect();
        let hhi_chart = charts::lines(
            &Frame::inline("market-hhi", "Concentration of the buyers' shares (HHI)"),
            "Herfindahl–Hirschman index of the buyers' shares of all disclosed capacity, month by month (0 to 10,000).",
            &ValueAxis { title: "HHI (points)", decimals: 0 },
            &[Line { label: "HHI".into(), points: hhi_points }],
        );
        let share_rows = market
            .months
            .iter()
            .enumerate()
            .rev()
            .map(|(i, m)| {
                (
                    m.month.format("%Y-%m").to_string(),
                    drawn.iter().map(|b| format::percent_from_share_or_dash(b.holdings[i].share)).collect(),
                )
            })
            .collect();
        Self {
            buyers: market
                .buyers
                .iter()
                .map(|b| {
                    let latest = b.latest();
                    BuyerRow {
                        slug: b.key.slug.clone(),
                        name: b.name.clone(),
                        aliases: b.aliases.iter().map(|a| a.name.clone()).collect(),
                        providers: b.providers.len(),
                        deals: b.deals,
                        accelerators: latest.map_or(0, |h| h.accelerators),
                        share: format::percent_from_share_or_dash(latest.and_then(|h| h.share)),
                    }
                })
                .collect(),
            months: market.months.iter().rev().map(MonthRow::of).collect(),
            latest: market.latest().map(MonthRow::of),
            exclusivities: exclusivity_names(),
            exclusivity_rows: market
                .latest()
                .map(|m| {
                    exclusivity_names()
                        .into_iter()
                        .zip(&m.deals_by_exclusivity)
                        .zip(&m.by_exclusivity)
                        .map(|((name, deals), accelerators)| (name, *deals, *accelerators))
                        .collect()
                })
                .unwrap_or_default(),
            drawn: drawn.iter().map(|b| b.name.clone()).collect(),
            share_rows,
            share_chart,
            top_chart,
            hhi_chart,
            snapshot,
            cite,
        }
    }
}

/// `/counterparties`.
pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let key = "/counterparties";
    let snapshot = match page_data::kept_or_current(&state, &headers, key).await? {
        ControlFlow::Continue(snapshot) => snapshot,
        ControlFlow::Break(answer) => return Ok(answer),
    };
    let market = market(&state, &snapshot).await?;
    let cite = Citation::new(&state, &snapshot, "buyers of capacity across the market", key);
    let page = MarketPage::new(&market, snapshot.clone(), cite);
    Ok(super::render_kept(&page, &headers, &snapshot, key))
}

/// One deal on a buyer's page.
pub struct DealRow {
    /// Provider slug.
    pub provider: String,
    pub provider_name: String,
    /// The name it was filed under.
    pub alias: String,
    pub accelerators: u64,
    /// Exclusive, priority or right of first refusal.
    pub exclusivity: String,
    pub start: NaiveDate,
    /// End (exclusive), if any.
    pub end: Option<NaiveDate>,
    /// Whether it is in force on the latest month's last day.
    pub in_force: bool,
    /// Its ledger entry.
    pub entry: Option<u64>,
}

/// `/counterparties/{slug}`.
#[derive(Template)]
#[template(path = "counterparties/show.html")]
pub struct BuyerPage {
    pub slug: String,
    /// Name shown.
    pub name: String,
    /// Aliases with the providers that used them (display names).
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    /// Deals, newest first.
    pub deals: Vec<DealRow>,
    /// The day "in force" is judged on.
    pub on: Option<NaiveDate>,
    /// Month, accelerators in force, all disclosed capacity, share; newest first.
    pub holdings: Vec<(String, u64, u64, String)>,
    /// Share over time.
    pub chart: Option<String>,
    /// The checkpoint.
    pub snapshot: Arc<PageData>,
    /// The citation line.
    pub cite: Citation,
}

impl BuyerPage {
    fn new(
        market: &Market,
        buyer: &Buyer,
        deals: &[(String, u64, Lockup)],
        snapshot: Arc<PageData>,
        cite: Citation,
    ) -> Self {
        let name_of = |slug: &str| snapshot.provider(slug).map_or_else(|| slug.to_owned(), |p| p.display_name.clone());
        let on = market.latest().map(|m| m.on);
        let chart = charts::lines(
            &Frame::inline("buyer-share", &format!("Share of all disclosed capacity held by {}", buyer.name)),
            &format!(
                "Share of all capacity disclosed by every provider that {} holds under deals in force, month by month.",
                buyer.name
            ),
            &ValueAxis { title: "share of disclosed capacity (%)", decimals: 1 },
            &share_lines(market, &[buyer]),
        );
        Self {
            slug: buyer.key.slug.clone(),
            name: buyer.name.clone(),
            aliases: buyer
                .aliases
                .iter()
                .map(|a| (a.name.clone(), a.providers.iter().map(|p| (p.clone(), name_of(p))).collect()))
                .collect(),
            deals: deals
                .iter()
                .map(|(provider, entry, lockup)| DealRow {
                    provider: provider.clone(),
                    provider_name: name_of(provider),
                    alias: lockup.counterparty.clone(),
                    accelerators: lockup.accelerators,
                    exclusivity: lockup.exclusivity.as_str().replace('_', " "),
                    start: lockup.start_date,
                    end: lockup.end_date,
                    in_force: on.is_some_and(|on| lockup.start_date <= on && lockup.end_date.is_none_or(|e| on < e)),
                    entry: Some(*entry),
                })
                .collect(),
            on,
            holdings: buyer
                .holdings
                .iter()
                .zip(&market.months)
                .rev()
                .map(|(h, m)| {
                    (
                        m.month.format("%Y-%m").to_string(),
                        h.accelerators,
                        m.capacity,
                        format::percent_from_share_or_dash(h.share),
                    )
                })
                .collect(),
            chart,
            snapshot,
            cite,
        }
    }
}

/// `/counterparties/{slug}`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let key = format!("/counterparties/{slug}");
    let snapshot = match page_data::kept_or_current(&state, &headers, &key).await? {
        ControlFlow::Continue(snapshot) => snapshot,
        ControlFlow::Break(answer) => return Ok(answer),
    };
    let market = market(&state, &snapshot).await?;
    let buyer = market.buyer(&slug).ok_or(AppError::NotFound)?;
    let deals = deals_of(&state, &snapshot, buyer).await?;
    let cite = Citation::new(&state, &snapshot, format!("capacity held by {}", buyer.name), &key);
    let page = BuyerPage::new(&market, buyer, &deals, snapshot.clone(), cite);
    Ok(super::render_kept(&page, &headers, &snapshot, &key))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use axum::http::StatusCode;

    use crate::analytics::concentration::normalise;
    use crate::testing::TestApp;

    /// The demo's buyers as the test sees them, independently of the page's code: every
    /// latest lock-up and capacity filing read back through the public dataset API.
    fn csv_rows(text: &str) -> Vec<BTreeMap<String, String>> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().expect("headers").clone();
        reader
            .records()
            .map(|r| headers.iter().zip(r.expect("row").iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect())
            .collect()
    }

    #[tokio::test]
    async fn the_market_names_a_buyer_at_several_providers_with_its_aliases_and_its_share() {
        let app = TestApp::with_demo().await;
        let page = app.get("/counterparties").await;
        page.assert_status(StatusCode::OK);
        let html = page.html();
        let mistral = html.texts_of("#buyers tbody tr[data-slug='mistral-ai'] td.aliases");
        assert_eq!(mistral.len(), 1, "one row for Mistral AI, whatever its spelling");
        assert!(mistral[0].contains("Mistral AI") && mistral[0].contains("MISTRAL AI SAS"), "{mistral:?}");
        let providers: usize =
            html.text_of("#buyers tbody tr[data-slug='mistral-ai'] td.providers").trim().parse().expect("count");
        assert!(providers >= 2);

        // Independently: deals in force on the latest month's last day ÷ every provider's
        // latest capacity filing on or before it, from the lock-ups and capacity datasets.
        let on: chrono::NaiveDate = html.attr_of("#market-latest", "data-on").parse().expect("date");
        let lockups = csv_rows(&app.get("/data/lockups.csv").await.text());
        let capacity = csv_rows(&app.get("/data/capacity.csv").await.text());
        let mut latest: BTreeMap<String, (chrono::NaiveDate, u64)> = BTreeMap::new();
        for row in &capacity {
            let date: chrono::NaiveDate = row["as_of"].parse().expect("date");
            if date > on {
                continue;
            }
            let total: u64 = row["total_accelerators"].parse().expect("total");
            let held = latest.entry(row["provider"].clone()).or_insert((date, 0));
            if date > held.0 {
                *held = (date, 0);
            }
            if date == held.0 {
                held.1 += total;
            }
        }
        let denominator: u64 = latest.values().map(|(_, t)| t).sum();
        let held: u64 = lockups
            .iter()
            .filter(|r| normalise(&r["counterparty"]).slug == "mistral-ai" && latest.contains_key(&r["provider"]))
            .filter(|r| {
                let start: chrono::NaiveDate = r["start_date"].parse().expect("start");
                let end: Option<chrono::NaiveDate> = r["end_date"].parse().ok();
                start <= on && end.is_none_or(|e| on < e)
            })
            .map(|r| r["accelerators"].parse::<u64>().expect("accelerators"))
            .sum();
        assert!(held > 0, "the demo's Mistral AI holds capacity in the latest month");
        let expected = format!("{:.1} %", held as f64 / denominator as f64 * 100.0);
        assert_eq!(html.text_of("#buyers tbody tr[data-slug='mistral-ai'] td.share").trim(), expected);
        assert_eq!(
            html.text_of("#market-latest .capacity").trim().replace(',', ""),
            denominator.to_string(),
            "the denominator shown"
        );
        assert!(html.attr_of("a[href='/counterparties/mistral-ai']", "href").ends_with("mistral-ai"));
        let dashboard = app.get("/lockups").await.html();
        assert_eq!(dashboard.attr_of("#buyers-link a", "href"), "/counterparties");
        let charts = html.texts_of("figure.chart svg");
        assert!(charts.len() >= 3, "share, top buyers and HHI charts");
    }

    #[test]
    fn the_bar_axis_ends_at_the_next_five_percent_past_the_largest_share() {
        let bar = |value| super::Bar { label: String::new(), value: Some(value), group: 0, text: String::new() };
        assert_eq!(super::axis_end(&[bar(6.3), bar(2.9)]), 10.0);
        assert_eq!(super::axis_end(&[bar(40.0)]), 40.0);
        assert_eq!(super::axis_end(&[bar(0.2)]), 5.0);
        assert_eq!(super::axis_end(&[bar(130.0)]), 130.0, "deals past the filings are drawn whole");
    }

    /// The market's datasets are served, span every provider, and refuse to be narrowed to one.
    #[tokio::test]
    async fn the_market_datasets_are_served_whole_and_refuse_a_provider_filter() {
        let app = TestApp::with_demo().await;
        let market = csv_rows(&app.get("/data/market_concentration.csv").await.text());
        let latest = market.last().expect("months");
        let page = app.get("/counterparties").await.html();
        let hhi: f64 = latest["hhi"].parse().expect("hhi");
        assert_eq!(format!("{hhi:.0}"), page.text_of("#market-latest .hhi").trim());
        let shares = csv_rows(&app.get("/data/buyer_shares.csv").await.text());
        assert!(shares.iter().any(|r| r["slug"] == "mistral-ai" && r["name"] == "Mistral AI"));
        let narrowed = app.get("/data/buyer_shares.csv?provider=corvid-gpu").await;
        narrowed.assert_status(StatusCode::BAD_REQUEST);
        assert!(narrowed.text().contains("provider"), "{}", narrowed.text());
    }

    fn find_key(value: &serde_json::Value, key: &str) -> Option<String> {
        match value {
            serde_json::Value::Object(map) => map
                .get(key)
                .and_then(|v| v.as_str().map(str::to_owned))
                .or_else(|| map.values().find_map(|v| find_key(v, key))),
            serde_json::Value::Array(items) => items.iter().find_map(|v| find_key(v, key)),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_buyer_page_lists_its_deals_with_their_ledger_entries_and_an_unknown_one_is_404() {
        let app = TestApp::with_demo().await;
        let html = app.get("/counterparties/mistral-ai").await.html();
        let entries: Vec<String> = html.attrs_of("#deals tbody td.entry a", "href");
        assert!(entries.len() >= 2, "{entries:?}");
        for href in &entries {
            let index: u64 = href.trim_start_matches("/ledger/entries/").parse().expect("entry link");
            let entry = app.get(&format!("/api/v1/ledger/entries/{index}")).await.json();
            assert_eq!(entry["kind"], "lockup", "entry {index}");
            let counterparty = find_key(&entry["entry"], "counterparty").expect("the entry names its counterparty");
            assert_eq!(normalise(&counterparty).slug, "mistral-ai");
        }
        let aliases = html.texts_of("#aliases li");
        assert!(aliases.len() >= 2, "{aliases:?}");
        assert!(html.texts_of("#holdings tbody tr").len() > 1);
        let missing = app.get("/counterparties/nobody-at-all").await;
        missing.assert_status(StatusCode::NOT_FOUND);
        assert!(missing.header("content-type").starts_with("text/html"));
    }
}
