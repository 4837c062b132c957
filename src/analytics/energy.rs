//! Energy and carbon, derived from energy filings and never reported: emissions
//! (energy × grid intensity) and, where the provider's capacity filings allow it,
//! carbon per accelerator-hour. Pure: records in, rows out.
//!
//! Units: MWh × gCO2e/kWh = kgCO2e (1 MWh is 1,000 kWh, 1,000 g is 1 kg), so an
//! energy filing's emissions in tonnes are `energy_mwh × intensity / 1000`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;

use crate::records::kinds::{Capacity, Energy};

/// How carbon per accelerator-hour was derived, or why it could not be.
#[derive(Debug, Clone, PartialEq)]
pub enum PerAcceleratorHour {
    /// kgCO2e per accelerator-hour in use: energy × location intensity over
    /// Σ accelerators × utilisation × hours of the period.
    InUse(f64),
    /// kgCO2e per installed accelerator-hour: utilisation was not reported for every
    /// resource, so the hours are Σ accelerators × hours of the period.
    Installed(f64),
    /// Why no figure is shown.
    NotDerivable(String),
}

impl PerAcceleratorHour {
    /// The figure in words for a table cell.
    pub fn words(&self) -> String {
        match self {
            Self::InUse(kg) => format!("{kg:.3} kg per accelerator-hour in use"),
            Self::Installed(kg) => format!("{kg:.3} kg per installed accelerator-hour"),
            Self::NotDerivable(reason) => format!("not derivable: {reason}"),
        }
    }

    /// The figure, when there is one.
    pub fn kg(&self) -> Option<f64> {
        match self {
            Self::InUse(kg) | Self::Installed(kg) => Some(*kg),
            Self::NotDerivable(_) => None,
        }
    }
}

/// One energy filing with what is derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyRow {
    /// Provider slug.
    pub provider: String,
    /// The filing.
    pub energy: Energy,
    /// Location-based emissions, tCO2e.
    pub location_tonnes: f64,
    /// Market-based emissions, tCO2e, where a market-based intensity was filed.
    pub market_tonnes: Option<f64>,
    /// Carbon per accelerator-hour (location-based).
    pub per_accelerator_hour: PerAcceleratorHour,
}

/// Tonnes of CO2e from `mwh` at `intensity` gCO2e/kWh.
pub fn tonnes(mwh: f64, intensity: f64) -> f64 {
    mwh * intensity / 1000.0
}

/// Capacity filings grouped by (provider, region), then by resource (sorted), each
/// resource's filings by date (stable: equal dates keep their input order).
type ByPlace<'a> = BTreeMap<(&'a str, &'a str), BTreeMap<&'a str, Vec<&'a Capacity>>>;

/// Every energy filing with its emissions and carbon per accelerator-hour, in
/// (provider, period, region, site) order. Capacity is matched by provider and region:
/// per resource, the newest filing dated before the period ends.
///
/// Capacity is grouped once and each resource's newest filing found by binary search, so
/// the work is (energy + capacity) × log, not energy × capacity: an unfiltered
/// `/metrics/energy` over years of monthly filings scanned every capacity filing per row.
pub fn energy_rows(energy: &[(String, Energy)], capacity: &[(String, Capacity)]) -> Vec<EnergyRow> {
    // Capacity is filed per region: with several sites in one region and period, which
    // accelerators are at which site is not known.
    let mut sites: BTreeMap<(&str, &str, NaiveDate), usize> = BTreeMap::new();
    for (provider, e) in energy {
        *sites.entry((provider.as_str(), e.region.as_str(), e.period_start)).or_default() += 1;
    }
    let by_place = by_place(capacity);
    let mut rows: Vec<EnergyRow> = energy
        .iter()
        .map(|(provider, e)| {
            let mwh = e.energy_mwh.as_f64();
            let location = e.grid_intensity_location_gco2e_per_kwh.as_f64();
            let market = e.grid_intensity_market_gco2e_per_kwh.map(|m| m.as_f64());
            let location_tonnes = tonnes(mwh, location);
            let newest = by_place
                .get(&(provider.as_str(), e.region.as_str()))
                .map(|resources| newest_before(resources, e.period_end))
                .unwrap_or_default();
            EnergyRow {
                provider: provider.clone(),
                energy: e.clone(),
                location_tonnes,
                market_tonnes: market.map(|m| tonnes(mwh, m)),
                per_accelerator_hour: match sites[&(provider.as_str(), e.region.as_str(), e.period_start)] {
                    1 => per_accelerator_hour(e, location_tonnes * 1000.0, &newest),
                    n => PerAcceleratorHour::NotDerivable(format!(
                        "capacity is filed per region, and {n} sites in {} filed energy for this period",
                        e.region
                    )),
                },
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (&a.provider, a.energy.period_start, &a.energy.region, &a.energy.site).cmp(&(
            &b.provider,
            b.energy.period_start,
            &b.energy.region,
            &b.energy.site,
        ))
    });
    rows
}

fn by_place(capacity: &[(String, Capacity)]) -> ByPlace<'_> {
    let mut out: ByPlace<'_> = BTreeMap::new();
    for (provider, c) in capacity {
        out.entry((provider.as_str(), c.region.as_str())).or_default().entry(c.resource.as_str()).or_default().push(c);
    }
    for filings in out.values_mut().flat_map(BTreeMap::values_mut) {
        filings.sort_by_key(|c| c.as_of);
    }
    out
}

/// Per resource (in resource order), its newest filing dated before `end`; of several on
/// that date, the first given.
fn newest_before<'a>(resources: &BTreeMap<&str, Vec<&'a Capacity>>, end: NaiveDate) -> Vec<&'a Capacity> {
    resources
        .values()
        .filter_map(|filings| {
            let before = filings.partition_point(|c| c.as_of < end);
            let newest = filings.get(before.checked_sub(1)?)?.as_of;
            filings.get(filings.partition_point(|c| c.as_of < newest)).copied()
        })
        .collect()
}

fn per_accelerator_hour(e: &Energy, kg: f64, newest: &[&Capacity]) -> PerAcceleratorHour {
    if newest.is_empty() {
        return PerAcceleratorHour::NotDerivable(format!(
            "no capacity filed for region {} before {}",
            e.region, e.period_end
        ));
    }
    let hours = hours_in(e.period_start, e.period_end);
    let installed: f64 = newest.iter().map(|c| c.total_accelerators as f64).sum::<f64>() * hours;
    if installed <= 0.0 {
        return PerAcceleratorHour::NotDerivable(format!("no accelerators filed in region {}", e.region));
    }
    let in_use: Option<f64> = newest
        .iter()
        .map(|c| c.utilisation.and_then(|u| u.to_f64()).map(|u| c.total_accelerators as f64 * u * hours))
        .sum();
    match in_use {
        Some(hours) if hours > 0.0 => PerAcceleratorHour::InUse(kg / hours),
        _ => PerAcceleratorHour::Installed(kg / installed),
    }
}

fn hours_in(start: NaiveDate, end: NaiveDate) -> f64 {
    (end - start).num_days() as f64 * 24.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Record;
    use serde_json::json;

    fn energy(region: &str, site: Option<&str>) -> Energy {
        let mut value = json!({"kind": "energy", "period_start": "2026-10-01", "period_end": "2026-11-01", "region": region,
            "energy_mwh": "744", "grid_intensity_location_gco2e_per_kwh": "350", "grid_intensity_market_gco2e_per_kwh": "100",
            "renewable_share": "0.5"});
        if let Some(site) = site {
            value["site"] = json!(site);
        }
        match Record::parse(value).expect("valid") {
            Record::Energy(e) => e,
            other => panic!("{other:?}"),
        }
    }

    fn capacity(as_of: &str, resource: &str, total: u64, utilisation: Option<&str>) -> Capacity {
        let mut value = json!({"kind": "capacity", "as_of": as_of, "resource": resource, "region": "eu-de",
            "total_accelerators": total, "newcomer_set_aside": 0});
        if let Some(u) = utilisation {
            value["utilisation"] = json!(u);
        }
        match Record::parse(value).expect("valid") {
            Record::Capacity(c) => c,
            other => panic!("{other:?}"),
        }
    }

    fn row(capacity: Vec<Capacity>) -> EnergyRow {
        let filings: Vec<(String, Capacity)> = capacity.into_iter().map(|c| ("p".to_owned(), c)).collect();
        energy_rows(&[("p".to_owned(), energy("eu-de", None))], &filings).remove(0)
    }

    #[test]
    fn emissions_are_energy_times_intensity() {
        let r = row(Vec::new());
        // 744 MWh at 350 g/kWh = 260,400 kg.
        assert!((r.location_tonnes - 260.4).abs() < 1e-9);
        assert!((r.market_tonnes.expect("market") - 74.4).abs() < 1e-9);
    }

    #[test]
    fn carbon_per_accelerator_hour_uses_utilisation_when_every_resource_reports_it() {
        // 1,000 accelerators over 31 days = 744,000 hours; at 50 % in use, 372,000.
        let r = row(vec![capacity("2026-10-01", "a", 600, Some("0.5")), capacity("2026-09-01", "b", 400, Some("0.5"))]);
        let expected = 260_400.0 / 372_000.0;
        assert!(matches!(r.per_accelerator_hour, PerAcceleratorHour::InUse(kg) if (kg - expected).abs() < 1e-12));
        let r = row(vec![capacity("2026-10-01", "a", 600, Some("0.5")), capacity("2026-09-01", "b", 400, None)]);
        let expected = 260_400.0 / 744_000.0;
        assert!(matches!(r.per_accelerator_hour, PerAcceleratorHour::Installed(kg) if (kg - expected).abs() < 1e-12));
    }

    #[test]
    fn the_newest_filing_before_the_period_ends_counts_and_later_ones_do_not() {
        let r = row(vec![capacity("2026-09-01", "a", 500, None), capacity("2026-10-15", "a", 1000, None)]);
        assert_eq!(r.per_accelerator_hour.kg(), Some(260_400.0 / 744_000.0));
        let r = row(vec![capacity("2026-11-01", "a", 1000, None)]);
        assert!(r.per_accelerator_hour.words().starts_with("not derivable: no capacity filed for region eu-de before"));
    }

    #[test]
    fn without_capacity_in_the_region_or_with_several_sites_it_says_why_instead_of_a_number() {
        let elsewhere = vec![("p".to_owned(), capacity("2026-10-01", "a", 1000, None))];
        let r = energy_rows(&[("p".to_owned(), energy("eu-fi", Some("site-1")))], &elsewhere).remove(0);
        assert_eq!(r.per_accelerator_hour.kg(), None);
        assert!(r.per_accelerator_hour.words().starts_with("not derivable: no capacity filed for region eu-fi"));
        let two = [("p".to_owned(), energy("eu-de", Some("a"))), ("p".to_owned(), energy("eu-de", Some("b")))];
        for r in energy_rows(&two, &elsewhere) {
            assert!(r.per_accelerator_hour.words().contains("2 sites in eu-de"), "{r:?}");
        }
    }

    /// The former scan (every capacity filing per energy row), kept as the reference.
    fn newest_by_scan<'a>(capacity: &'a [(String, Capacity)], provider: &str, e: &Energy) -> Vec<&'a Capacity> {
        let mut newest: BTreeMap<&str, &Capacity> = BTreeMap::new();
        for (_, c) in capacity.iter().filter(|(p, c)| p == provider && c.region == e.region && c.as_of < e.period_end) {
            if newest.get(c.resource.as_str()).is_none_or(|n| n.as_of < c.as_of) {
                newest.insert(c.resource.as_str(), c);
            }
        }
        newest.into_values().collect()
    }

    #[test]
    fn grouped_capacity_picks_what_a_scan_of_every_filing_picks() {
        let month = |m: u32| chrono::NaiveDate::from_ymd_opt(2024 + (m / 12) as i32, m % 12 + 1, 1).expect("date");
        let regions = ["eu-de", "eu-fi"];
        let mut capacity = Vec::new();
        let mut energies = Vec::new();
        for i in 0..400_u32 {
            let value = json!({"kind": "capacity", "as_of": month(i * 7 % 30).to_string(),
                "resource": (["a", "b", "c"][(i / 3 % 3) as usize]), "region": (regions[(i % 2) as usize]),
                "total_accelerators": i, "newcomer_set_aside": 0});
            let Ok(Record::Capacity(c)) = Record::parse(value) else { panic!("capacity {i}") };
            capacity.push((format!("p{}", i % 3), c));
        }
        for m in 0..32 {
            for p in 0..3 {
                let mut e = energy(regions[(m % 2) as usize], None);
                (e.period_start, e.period_end) = (month(m), month(m + 1));
                energies.push((format!("p{p}"), e));
            }
        }
        let rows = energy_rows(&energies, &capacity);
        assert_eq!(rows.len(), energies.len());
        let by_place = by_place(&capacity);
        for row in &rows {
            let expected = newest_by_scan(&capacity, &row.provider, &row.energy);
            let got = by_place
                .get(&(row.provider.as_str(), row.energy.region.as_str()))
                .map(|r| newest_before(r, row.energy.period_end))
                .unwrap_or_default();
            assert!(std::iter::zip(&got, &expected).all(|(a, b)| std::ptr::eq(*a, *b)) && got.len() == expected.len());
            let kg = row.location_tonnes * 1000.0;
            assert_eq!(row.per_accelerator_hour, per_accelerator_hour(&row.energy, kg, &expected), "{row:?}");
        }
    }
}
