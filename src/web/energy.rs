//! The "Energy and carbon" figures: a provider's section on its scorecard and the
//! `/metrics/energy` dashboard's table and chart, from the latest energy and capacity
//! records through [`crate::analytics::energy`].

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::prelude::ToPrimitive;

use crate::AppState;
use crate::analytics::energy::{self, EnergyRow};
use crate::charts::{self, Frame, Line, ValueAxis};
use crate::db::projection::{LatestQuery, latest_records};
use crate::error::AppError;
use crate::records::{Record, RecordKind};

/// How carbon per accelerator-hour is derived, as the pages say it.
pub const METHOD: &str = "Emissions = energy (MWh) × location-based grid intensity (gCO2e/kWh) ÷ 1,000, in tCO2e. Carbon per accelerator-hour divides those emissions by the accelerator-hours of the period: the accelerators of the provider's newest capacity filing per resource in the same region dated before the period ends, × the hours in the period, × the filed utilisation when every resource reports one (per accelerator-hour in use), otherwise without it (per installed accelerator-hour). Where no capacity was filed for the region, or several sites of one region filed energy for the period, it is not derivable and no number is shown. Nothing here is reported by the provider.";

/// A provider's energy section.
#[derive(Clone)]
pub struct EnergySection {
    /// Every energy filing with what is derived from it, oldest first.
    pub rows: Vec<EnergyRow>,
    /// The grid-intensity chart, when there is something to draw.
    pub chart: Option<String>,
}

impl EnergySection {
    /// The section of `provider` (display name `name`): its latest energy and capacity records,
    /// read when the provider's latest records changed (the held snapshot says when), else
    /// carried over from the last view: they are every energy and capacity filing of the
    /// provider, so reading them on each checkpoint's first view grew with its history.
    pub async fn of(state: &AppState, provider: &str, name: &str) -> Result<Self, AppError> {
        type Kept = (u64, String, EnergySection);
        let key = format!("energy:{provider}");
        let changed_at = state.snapshots.latest().and_then(|s| s.changed_at(provider));
        let carried = state.snapshots.carried();
        if let Some(kept) = carried.get::<Kept>(&key).filter(|k| Some(k.0) == changed_at && k.1 == name) {
            return Ok(kept.2.clone());
        }
        let section = Self::read(state, provider, name).await?;
        if let Some(changed_at) = changed_at {
            carried.put(key, Arc::new((changed_at, name.to_owned(), section.clone())));
        }
        Ok(section)
    }

    async fn read(state: &AppState, provider: &str, name: &str) -> Result<Self, AppError> {
        let mut conn = state.pool.acquire().await?;
        let read =
            |kind| LatestQuery { provider: Some(provider.to_owned()), kind: Some(kind), ..LatestQuery::default() };
        let (energy_query, capacity_query) = (read(RecordKind::Energy), read(RecordKind::Capacity));
        let energy = latest_records(&mut conn, &energy_query).await?;
        let capacity = if energy.is_empty() { Vec::new() } else { latest_records(&mut conn, &capacity_query).await? };
        let energy: Vec<_> = energy
            .into_iter()
            .filter_map(|(p, _, r)| match r {
                Record::Energy(e) => Some((p, e)),
                _ => None,
            })
            .collect();
        let capacity: Vec<_> = capacity
            .into_iter()
            .filter_map(|(p, _, r)| match r {
                Record::Capacity(c) => Some((p, c)),
                _ => None,
            })
            .collect();
        let rows = energy::energy_rows(&energy, &capacity);
        let title = format!("Grid carbon intensity: {name}");
        let chart = intensity_chart(&rows, &Frame::inline("energy-chart", &title));
        Ok(Self { rows, chart })
    }
}

/// The place of a row: "site (region)" or the region.
pub fn place(row: &EnergyRow) -> String {
    match &row.energy.site {
        Some(site) => format!("{site} ({})", row.energy.region),
        None => row.energy.region.to_string(),
    }
}

/// A decimal cell, or a dash.
pub fn optional(value: Option<rust_decimal::Decimal>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| v.normalize().to_string())
}

/// Location-based (and, where filed, market-based) grid intensity per place over time.
pub fn intensity_chart(rows: &[EnergyRow], frame: &Frame<'_>) -> Option<String> {
    let mut lines: BTreeMap<String, Vec<(chrono::NaiveDate, f64)>> = BTreeMap::new();
    for row in rows {
        let at = row.energy.period_start;
        let location = row.energy.grid_intensity_location_gco2e_per_kwh.to_f64().unwrap_or(0.0);
        lines.entry(format!("{} location-based", place(row))).or_default().push((at, location));
        if let Some(market) = row.energy.grid_intensity_market_gco2e_per_kwh.and_then(|m| m.to_f64()) {
            lines.entry(format!("{} market-based", place(row))).or_default().push((at, market));
        }
    }
    let lines: Vec<Line> = lines.into_iter().map(|(label, points)| Line { label, points }).collect();
    let description = format!(
        "Lines: grid carbon intensity in gCO2e/kWh per period start, location-based and, where the provider has energy contracts, market-based, for {}.",
        lines.iter().map(|l| l.label.as_str()).collect::<Vec<_>>().join(", ")
    );
    charts::lines(frame, &description, &ValueAxis { title: "grid intensity (gCO2e/kWh)", decimals: 0 }, &lines)
}

/// The dashboard's table cells of one row, after the provider's.
pub fn cells(row: &EnergyRow) -> Vec<String> {
    vec![
        place(row),
        format!("{} to {}", row.energy.period_start, row.energy.period_end.pred_opt().unwrap_or(row.energy.period_end)),
        row.energy.energy_mwh.normalize().to_string(),
        row.energy.grid_intensity_location_gco2e_per_kwh.normalize().to_string(),
        optional(row.energy.grid_intensity_market_gco2e_per_kwh),
        format!("{:.0} %", row.energy.renewable_share.to_f64().unwrap_or(0.0) * 100.0),
        optional(row.energy.pue),
        format!("{:.1}", row.location_tonnes),
        row.per_accelerator_hour.words(),
    ]
}

/// The dashboard's column headers, after "provider".
pub const HEADERS: [&str; 9] = [
    "site (region)",
    "period",
    "energy (MWh)",
    "grid intensity, location (gCO2e/kWh)",
    "grid intensity, market (gCO2e/kWh)",
    "renewable",
    "PUE",
    "emissions, location (tCO2e)",
    "carbon per accelerator-hour (kgCO2e)",
];

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::{Value, json};

    use crate::records::RecordKind;
    use crate::records::kinds::examples;
    use crate::testing::TestApp;

    fn energy_example() -> Value {
        examples().into_iter().find(|e| e["kind"] == "energy").expect("an energy example")
    }

    #[tokio::test]
    async fn an_energy_batch_is_taken_in_every_format_and_an_out_of_range_one_is_refused_by_index_and_field() {
        let app = TestApp::new().await;
        let token = app.provider_token("rhine-ai").await;
        let post = |content_type: &'static str, body: String| {
            let (app, token) = (&app, token.clone());
            async move { app.post("/api/v1/records", content_type, body, Some(&token), &[]).await }
        };
        let json_body = json!([energy_example()]).to_string();
        post("application/json", json_body).await.assert_status(StatusCode::CREATED);

        let mut next = energy_example();
        next["period_start"] = json!("2026-11-01");
        next["period_end"] = json!("2026-12-01");
        post("application/x-ndjson", format!("{next}\n")).await.assert_status(StatusCode::CREATED);

        let csv = "period_start,period_end,region,energy_mwh,grid_intensity_location_gco2e_per_kwh,renewable_share\n\
                   2026-12-01,2027-01-01,eu-fi,812.5,80,0.55\n";
        let response = app.post("/api/v1/records?kind=energy", "text/csv", csv.to_owned(), Some(&token), &[]).await;
        response.assert_status(StatusCode::CREATED);
        assert_eq!(app.tree_size().await, 3);

        let mut bad = energy_example();
        bad["period_start"] = json!("2027-01-01");
        bad["period_end"] = json!("2027-02-01");
        bad["pue"] = json!("0.8");
        bad["grid_intensity_location_gco2e_per_kwh"] = json!("350000");
        let response = post("application/json", json!([energy_example(), bad]).to_string()).await;
        response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let details = response.json()["error"]["details"].clone();
        let found: Vec<(Value, Value)> =
            details.as_array().expect("details").iter().map(|d| (d["index"].clone(), d["field"].clone())).collect();
        assert!(found.contains(&(json!(1), json!("pue"))), "{details}");
        assert!(found.contains(&(json!(1), json!("grid_intensity_location_gco2e_per_kwh"))), "{details}");
        let reasons = details.to_string();
        assert!(reasons.contains("at least 1") && reasons.contains("at most 2000"), "{reasons}");
        assert_eq!(app.tree_size().await, 3, "refused whole");
    }

    #[tokio::test]
    async fn the_demo_world_shows_energy_on_scorecards_the_dashboard_the_dataset_and_the_dictionary() {
        let app = TestApp::with_demo().await;

        // Scorecard: a chart with its table, and carbon per accelerator-hour derived or explained.
        let html = app.get("/providers/rhine-ai-factory").await.html();
        assert_eq!(html.text_of("#energy-heading"), "Energy and carbon");
        assert!(html.exists("#energy-figure svg"), "the intensity chart");
        assert!(html.text_of("#energy-figure svg").contains("gCO2e/kWh"));
        let rows = html.texts_of("#energy-table tbody tr");
        assert!(rows.len() > 12, "a filing a month: {}", rows.len());
        assert!(rows.iter().all(|r| r.contains("per accelerator-hour")), "{rows:?}");
        assert!(rows.iter().any(|r| r.contains("kg per accelerator-hour in use")), "{rows:?}");
        let small = app.get("/providers/riverside-cluster").await.html();
        assert!(small.text_of("#energy-heading").contains("Energy"));
        assert!(!small.exists("#energy-table"), "files no energy");

        // Dashboard.
        let response = app.get("/metrics/energy").await;
        response.assert_status(StatusCode::OK);
        let page = response.html();
        assert!(page.exists("#energy-chart-title"), "the dashboard chart");
        let body = response.text();
        for header in super::HEADERS {
            assert!(body.contains(&header.replace('&', "&amp;")), "{header}");
        }
        assert!(body.contains("Rhine AI Factory"));
        // Narrowed to a region: only that region's sites, and still a chart.
        let response = app.get("/metrics/energy?region=eu-fi").await;
        response.assert_status(StatusCode::OK);
        let body = response.text();
        assert!(body.contains("Aurora AI Factory") && !body.contains("Rhine AI Factory"), "eu-fi only");
        assert!(response.html().exists("#energy-chart-title"));

        // Dataset: every latest energy record, exactly as filed.
        let response = app.get("/data/energy.csv").await;
        response.assert_status(StatusCode::OK);
        let text = response.text();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
        let rows: Vec<Vec<String>> =
            reader.records().map(|r| r.expect("row").iter().map(str::to_owned).collect()).collect();
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let query = crate::db::projection::LatestQuery {
            kind: Some(RecordKind::Energy),
            ..crate::db::projection::LatestQuery::default()
        };
        let latest = crate::db::projection::latest_records(&mut conn, &query).await.expect("latest");
        assert_eq!(rows.len(), latest.len());
        assert!(!rows.is_empty());
        let column = |name: &str| header.iter().position(|h| h == name).expect(name);
        for (_, index, record) in &latest {
            let row = rows.iter().find(|r| r[column("entry_index")] == index.to_string()).expect("exported");
            let json = record.to_json();
            for field in crate::datasets::record_fields(RecordKind::Energy) {
                assert_eq!(row[column(field.name)], json[field.name].as_str().unwrap_or_default(), "{}", field.name);
            }
        }

        // A place filter is refused, not answered with every region.
        let refused = app.get("/data/energy.csv?region=eu-de").await;
        refused.assert_status(StatusCode::BAD_REQUEST);
        assert!(refused.text().contains("region"));
        app.get("/data/energy.csv?from=2026-01-01").await.assert_status(StatusCode::OK);

        // Dictionary and OpenAPI name every field.
        let dictionary = app.get("/data/dictionary").await.text();
        let openapi = app.get("/api/v1/openapi.json").await.text();
        for field in crate::datasets::record_fields(RecordKind::Energy) {
            assert!(dictionary.contains(field.name), "dictionary lacks {}", field.name);
            assert!(openapi.contains(field.name), "OpenAPI lacks {}", field.name);
        }
        assert!(dictionary.contains("gCO2e/kWh") && dictionary.contains("MWh"));
    }
}
