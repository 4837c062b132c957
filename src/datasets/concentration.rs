//! The market's derived tables (issue 19, part 2): buyer shares per month and the
//! market's concentration per month, computed from the providers' summaries by the same
//! function as `/counterparties` ([`crate::analytics::concentration::market`], over the
//! same per-month buyer totals the projection keeps), so
//! `verify figures` re-derives them from the entries like every other derived table.

use super::cell::Cell;
use super::summaries::Summaries;
use super::table::Table;
use crate::analytics::concentration::{self, Market, ProviderMarket};

/// The market of every provider in `summaries`.
pub fn market_of(summaries: &Summaries) -> Market {
    let providers: Vec<ProviderMarket> = summaries
        .providers
        .iter()
        .map(|(slug, summary)| {
            let capacity = summary.capacity.iter().map(|(date, total, _)| (*date, *total)).collect();
            ProviderMarket::of_deals(slug, capacity, &summary.lockups)
        })
        .collect();
    concentration::market(&providers)
}

/// The rows of `table` (one of the market's) for `summaries`.
pub fn rows(table: Table, summaries: &Summaries) -> Vec<Vec<Cell>> {
    rows_of(table, &market_of(summaries))
}

/// How many rows `table` has for `market` (the `/data` listing counts them without writing them).
pub fn row_count(table: Table, market: &Market) -> u64 {
    rows_of(table, market).len() as u64
}

fn count(n: u64) -> Cell {
    Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Buyer shares month by month (buyers holding nothing that month are left out), then by
/// buyer key; the market one row per month.
fn rows_of(table: Table, market: &Market) -> Vec<Vec<Cell>> {
    match table {
        Table::BuyerShares => {
            let mut rows = Vec::new();
            for (i, month) in market.months.iter().enumerate() {
                let mut held: Vec<_> =
                    market.buyers.iter().map(|b| (b, b.holdings[i])).filter(|(_, h)| h.accelerators > 0).collect();
                held.sort_by(|a, b| a.0.key.cmp(&b.0.key));
                rows.extend(held.into_iter().map(|(buyer, holding)| {
                    vec![
                        Cell::Date(month.month),
                        Cell::Text(buyer.key.key.clone()),
                        Cell::Text(buyer.key.slug.clone()),
                        Cell::Text(buyer.name.clone()),
                        count(holding.accelerators),
                        count(month.capacity),
                        holding.share.map_or(Cell::Null, Cell::Number),
                    ]
                }));
            }
            rows
        }
        Table::MarketConcentration => market
            .months
            .iter()
            .map(|m| {
                let mut row = vec![Cell::Date(m.month), count(m.capacity), count(m.providers)];
                row.extend(m.by_exclusivity.iter().map(|n| count(*n)));
                row.extend([count(m.buyers), m.hhi.map_or(Cell::Null, Cell::Number)]);
                row
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::kinds::Exclusivity;

    /// The table's exclusivity columns follow [`Exclusivity::OPTIONS`], whose order the
    /// market's per-exclusivity counts use.
    #[test]
    fn market_columns_follow_the_exclusivity_options() {
        let names: Vec<String> = Table::MarketConcentration.fields().iter().map(|f| f.name.to_owned()).collect();
        let columns: Vec<String> =
            Exclusivity::OPTIONS.iter().map(|(name, _)| format!("{name}_accelerators")).collect();
        assert_eq!(names[3..3 + columns.len()], columns[..]);
    }

    /// On the demo: the rows match their columns, the page and the dataset agree (one function,
    /// two inputs: the projection's lock-ups with entries, the summaries without), and the
    /// market table's HHI is the sum of the month's squared buyer shares in percent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_datasets_are_the_pages_figures() {
        let app = crate::testing::TestApp::with_demo().await;
        let size = app.tree_size().await;
        let summaries = Summaries::load(&app.db.pool, size).await.expect("the projection");
        let from_summaries = market_of(&summaries);
        let snapshot = crate::web::page_data::current(&app.state).await.expect("snapshot");
        let from_page = crate::web::counterparties::market(&app.state, &snapshot).await.expect("market");
        assert_eq!(from_summaries.months, from_page.months);
        let holdings = |m: &Market| m.buyers.iter().map(|b| (b.key.clone(), b.holdings.clone())).collect::<Vec<_>>();
        assert_eq!(holdings(&from_summaries), holdings(&from_page));
        let shares = rows(Table::BuyerShares, &summaries);
        let market = rows(Table::MarketConcentration, &summaries);
        assert!(!shares.is_empty() && !market.is_empty());
        for row in &shares {
            assert_eq!(row.len(), Table::BuyerShares.fields().len());
        }
        for row in &market {
            assert_eq!(row.len(), Table::MarketConcentration.fields().len());
            let month = &row[0];
            let squares: f64 = shares
                .iter()
                .filter(|r| &r[0] == month)
                .map(|r| match r[6] {
                    Cell::Number(s) => (s * 100.0).powi(2),
                    _ => 0.0,
                })
                .sum();
            match row[row.len() - 1] {
                Cell::Number(hhi) => assert!((hhi - squares).abs() < 1e-6, "{month:?}: {hhi} vs {squares}"),
                ref other => panic!("no HHI: {other:?}"),
            }
        }
    }
}
