//! Prices per accelerator-hour: the monthly series a chart draws, and the latest
//! price per resource, region and pricing model with its cost basis and markup.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::{Disclosures, median};

/// The median price of one resource and pricing model in one month.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PricePoint {
    /// `resource · pricing model`.
    pub series: String,
    /// ISO 4217 currency of the price.
    pub currency: String,
    /// First day of the month.
    pub month: NaiveDate,
    /// Median price per accelerator-hour across regions that month.
    #[serde(with = "crate::projection::exact")]
    pub price: f64,
    /// Median disclosed cost basis, when any price that month disclosed one.
    #[serde(with = "crate::projection::exact::option")]
    pub cost_basis: Option<f64>,
}

fn month_of(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// Monthly median price per (resource, pricing model, currency), ordered by series then month.
/// Currencies are never mixed: a provider quoting in two currencies gets two series.
pub fn price_series(disclosures: &Disclosures) -> Vec<PricePoint> {
    type Key = (String, String, NaiveDate);
    let mut groups: BTreeMap<Key, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (_, price) in &disclosures.prices {
        let series = format!("{} · {}", price.resource, price.pricing_model.as_str());
        let key = (series, price.currency.clone(), month_of(price.effective_date));
        let (prices, costs) = groups.entry(key).or_default();
        prices.extend(price.price_per_accelerator_hour.to_f64());
        costs.extend(price.cost_basis_per_accelerator_hour.and_then(|c| c.to_f64()));
    }
    groups
        .into_iter()
        .filter_map(|((series, currency, month), (mut prices, mut costs))| {
            Some(PricePoint { series, currency, month, price: median(&mut prices)?, cost_basis: median(&mut costs) })
        })
        .collect()
}

/// The newest price of one provider, resource, region and pricing model.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestPrice {
    /// Provider slug.
    pub provider: String,
    pub price: crate::records::kinds::Price,
}

impl LatestPrice {
    /// Markup over the disclosed cost basis, in percent (`None` without a non-zero cost basis).
    pub fn markup_percent(&self) -> Option<Decimal> {
        markup_percent(&self.price)
    }
}

/// A price's markup over its disclosed cost basis, in percent (`None` without a non-zero cost basis).
pub fn markup_percent(price: &crate::records::kinds::Price) -> Option<Decimal> {
    let cost = price.cost_basis_per_accelerator_hour.filter(|c| !c.is_zero())?;
    Some(((price.price_per_accelerator_hour / cost) - Decimal::ONE) * Decimal::ONE_HUNDRED)
}

/// The newest price per provider, resource, region and pricing model, in that order.
pub fn latest_prices(disclosures: &Disclosures) -> Vec<LatestPrice> {
    let mut latest: BTreeMap<(&str, &str, &str, &str), &crate::records::kinds::Price> = BTreeMap::new();
    for (provider, price) in &disclosures.prices {
        let key = (provider.as_str(), price.resource.as_str(), price.region.as_str(), price.pricing_model.as_str());
        if latest.get(&key).is_none_or(|current| current.effective_date < price.effective_date) {
            latest.insert(key, price);
        }
    }
    latest
        .into_iter()
        .map(|((provider, ..), price)| LatestPrice { provider: provider.to_owned(), price: price.clone() })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::records::Record;

    fn price(
        date: &str,
        region: &str,
        model: &str,
        amount: &str,
        cost: Option<&str>,
    ) -> (String, crate::records::kinds::Price) {
        let mut value = json!({"kind": "price", "effective_date": date, "resource": "h100", "region": region,
            "pricing_model": model, "price_per_accelerator_hour": amount, "currency": "EUR"});
        if let Some(cost) = cost {
            value["cost_basis_per_accelerator_hour"] = json!(cost);
        }
        match Record::parse(value).expect("valid price") {
            Record::Price(p) => ("p".to_owned(), p),
            other => panic!("not a price: {other:?}"),
        }
    }

    fn sample() -> Disclosures {
        Disclosures {
            prices: vec![
                price("2026-01-05", "eu-de", "on_demand", "2.00", Some("1.60")),
                price("2026-01-20", "eu-fr", "on_demand", "3.00", None),
                price("2026-01-25", "eu-nl", "on_demand", "2.50", Some("2.00")),
                price("2026-02-01", "eu-de", "on_demand", "2.40", Some("1.60")),
                price("2026-01-10", "eu-de", "reserved_1y", "1.50", None),
            ],
            ..Disclosures::default()
        }
    }

    #[test]
    fn monthly_medians_per_resource_and_model_with_cost_basis_when_disclosed() {
        let series = price_series(&sample());
        let summary: Vec<(String, String, f64, Option<f64>)> =
            series.iter().map(|p| (p.series.clone(), p.month.to_string(), p.price, p.cost_basis)).collect();
        assert_eq!(
            summary,
            vec![
                // January: prices 2.00, 3.00, 2.50 -> 2.50; cost bases 1.60, 2.00 -> 1.80.
                ("h100 · on_demand".into(), "2026-01-01".into(), 2.5, Some(1.8)),
                ("h100 · on_demand".into(), "2026-02-01".into(), 2.4, Some(1.6)),
                ("h100 · reserved_1y".into(), "2026-01-01".into(), 1.5, None),
            ]
        );
    }

    #[test]
    fn the_latest_price_wins_and_markup_is_over_cost_basis() {
        let latest = latest_prices(&sample());
        assert_eq!(latest.len(), 4, "eu-de on demand, eu-fr, eu-nl, eu-de reserved_1y");
        let de = latest
            .iter()
            .find(|l| l.price.region.as_str() == "eu-de" && l.price.pricing_model.as_str() == "on_demand")
            .expect("eu-de");
        assert_eq!(de.price.effective_date.to_string(), "2026-02-01");
        // 2.40 over 1.60 is 50 % markup.
        assert_eq!(de.markup_percent(), Some(Decimal::new(50, 0)));
        let fr = latest.iter().find(|l| l.price.region.as_str() == "eu-fr").expect("eu-fr");
        assert_eq!(fr.markup_percent(), None, "no cost basis, no markup");
    }
}
