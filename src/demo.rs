//! The demo data set behind `gatelog serve --demo` and `gatelog demo load`: a
//! synthetic but plausible world of twelve providers (hyperscalers, neoclouds,
//! public AI factories, HPC centres, campus nodes) with two years of monthly
//! disclosures of every kind, a few amendments, some missing filings, and
//! lock-ups that take large shares of some providers' capacity.
//!
//! Everything is generated from a seed (same seed, same world) and loaded through
//! the real ingest path ([`crate::submission::submit`]), so the demo exercises the
//! same validation, deduplication and ledger code as a provider's push. Names are
//! invented and marked "(demo)".

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::db;
use crate::ledger::{Ledger, LedgerError};
use crate::providers::{NewProvider, ProviderKind};
use crate::records::{Record, Slug};
use crate::submission;

pub const DEFAULT_SEED: u64 = 2026;
/// First reported month.
const FIRST_MONTH: (i32, u32) = (2024, 11);
/// Months of history.
const MONTHS: u32 = 24;

/// What loading the demo did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DemoSummary {
    /// Providers that were not there before.
    pub new_providers: usize,
    /// Records submitted.
    pub records: usize,
    /// Entries appended (created or amended).
    pub appended: usize,
    /// True if the demo disclosures were already in the ledger (nothing submitted).
    pub already_loaded: bool,
}

/// Why the demo could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Database failure.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The ledger refused a batch.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The generator produced an invalid record (a bug).
    #[error("demo generator produced an invalid {kind} record: {reason}")]
    Invalid {
        /// Record kind.
        kind: String,
        /// First problem.
        reason: String,
    },
}

/// SplitMix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [low, high].
    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// How a demo provider behaves.
struct Profile {
    slug: &'static str,
    name: &'static str,
    kind: ProviderKind,
    country: &'static str,
    currency: &'static str,
    resources: &'static [&'static str],
    regions: &'static [&'static str],
    tiers: &'static [&'static str],
    tracks: &'static [&'static str],
    categories: &'static [&'static str],
    models: &'static [&'static str],
    /// Accelerators per resource and region at the start.
    capacity: u64,
    /// Share of capacity set aside for newcomers.
    set_aside: f64,
    /// Median wait in seconds for the fastest tier.
    base_wait: f64,
    /// How much longer newcomers wait than the fastest tier.
    newcomer_penalty: f64,
    /// Acceptance rate of the friendliest category.
    openness: f64,
    /// On-demand price per accelerator-hour at the start.
    price: f64,
    /// Whether the cost basis is disclosed.
    discloses_cost: bool,
    /// Chance of skipping a month's acceptance filing.
    skip: f64,
    /// Exclusive deals: (counterparty, share of capacity, exclusivity, months after start). A
    /// buyer is spelt differently by different providers ("Mistral AI", "MISTRAL AI SAS"), as
    /// real filings are, so `/counterparties` has aliases to fold.
    lockups: &'static [(&'static str, f64, &'static str, u32)],
}

const CLOUD_TRACKS: &[&str] = &["general", "startup"];
const PUBLIC_TRACKS: &[&str] = &["general", "newcomer_set_aside", "research"];
const CLOUD_CATEGORIES: &[&str] = &["startup", "enterprise", "first_time_founder", "academic"];
const PUBLIC_CATEGORIES: &[&str] = &["academic", "student", "civic", "first_time_founder", "startup"];

fn profiles() -> Vec<Profile> {
    vec![
        Profile {
            slug: "stratus-compute",
            name: "Stratus Compute (demo)",
            kind: ProviderKind::Hyperscaler,
            country: "US",
            currency: "USD",
            resources: &["nvidia-h100-80gb", "nvidia-b200"],
            regions: &["us-east", "eu-west"],
            tiers: &["on_demand", "spot", "reserved"],
            tracks: CLOUD_TRACKS,
            categories: CLOUD_CATEGORIES,
            models: &["on_demand", "spot", "reserved_1y", "reserved_3y"],
            capacity: 24_000,
            set_aside: 0.0,
            base_wait: 240.0,
            newcomer_penalty: 1.0,
            openness: 0.85,
            price: 4.10,
            discloses_cost: false,
            skip: 0.05,
            lockups: &[("Apex Frontier Labs", 0.35, "priority", 3), ("Mistral AI", 0.08, "priority", 5)],
        },
        Profile {
            slug: "meridian-cloud",
            name: "Meridian Cloud (demo)",
            kind: ProviderKind::Hyperscaler,
            country: "US",
            currency: "USD",
            resources: &["nvidia-h100-80gb", "amd-mi300x"],
            regions: &["us-west"],
            tiers: &["on_demand", "spot", "reserved"],
            tracks: CLOUD_TRACKS,
            categories: CLOUD_CATEGORIES,
            models: &["on_demand", "spot", "reserved_1y"],
            capacity: 18_000,
            set_aside: 0.0,
            base_wait: 420.0,
            newcomer_penalty: 1.0,
            openness: 0.8,
            price: 3.90,
            discloses_cost: false,
            skip: 0.0,
            lockups: &[("HELIX INTELLIGENCE, INC.", 0.22, "exclusive", 8)],
        },
        Profile {
            slug: "corvid-gpu",
            name: "Corvid GPU (demo)",
            kind: ProviderKind::Neocloud,
            country: "US",
            currency: "USD",
            resources: &["nvidia-h100-80gb"],
            regions: &["us-central"],
            tiers: &["on_demand", "reserved", "newcomer"],
            tracks: &["general"],
            categories: CLOUD_CATEGORIES,
            models: &["on_demand", "reserved_1y"],
            capacity: 9_000,
            set_aside: 0.0,
            base_wait: 900.0,
            newcomer_penalty: 9.0,
            openness: 0.35,
            price: 2.95,
            discloses_cost: false,
            skip: 0.25,
            lockups: &[
                ("Apex Frontier Labs Inc.", 0.62, "exclusive", 1),
                ("Helix Intelligence", 0.2, "right_of_first_refusal", 14),
            ],
        },
        Profile {
            slug: "lumen-stack",
            name: "Lumen Stack (demo)",
            kind: ProviderKind::Neocloud,
            country: "DE",
            currency: "EUR",
            resources: &["nvidia-h100-80gb"],
            regions: &["eu-de"],
            tiers: &["on_demand", "spot", "newcomer"],
            tracks: &["general", "startup"],
            categories: CLOUD_CATEGORIES,
            models: &["on_demand", "spot", "newcomer"],
            capacity: 2_400,
            set_aside: 0.08,
            base_wait: 600.0,
            newcomer_penalty: 1.6,
            openness: 0.7,
            price: 2.40,
            discloses_cost: true,
            skip: 0.0,
            lockups: &[],
        },
        Profile {
            slug: "halcyon-ai-cloud",
            name: "Halcyon AI Cloud (demo)",
            kind: ProviderKind::Neocloud,
            country: "GB",
            currency: "GBP",
            resources: &["nvidia-h100-80gb", "nvidia-h200"],
            regions: &["uk-south"],
            tiers: &["on_demand", "reserved", "newcomer"],
            tracks: &["general"],
            categories: CLOUD_CATEGORIES,
            models: &["on_demand", "reserved_1y", "reserved_3y"],
            capacity: 5_000,
            set_aside: 0.0,
            base_wait: 1_200.0,
            newcomer_penalty: 5.0,
            openness: 0.45,
            price: 2.30,
            discloses_cost: false,
            skip: 0.15,
            lockups: &[("Quanta Models Ltd", 0.48, "exclusive", 6), ("MISTRAL AI SAS", 0.2, "exclusive", 4)],
        },
        Profile {
            slug: "rhine-ai-factory",
            name: "Rhine AI Factory (demo)",
            kind: ProviderKind::AiFactory,
            country: "DE",
            currency: "EUR",
            resources: &["nvidia-h100-80gb"],
            regions: &["eu-de"],
            tiers: &["allocation", "newcomer"],
            tracks: PUBLIC_TRACKS,
            categories: PUBLIC_CATEGORIES,
            models: &["on_demand", "newcomer"],
            capacity: 3_000,
            set_aside: 0.2,
            base_wait: 3_600.0,
            newcomer_penalty: 0.8,
            openness: 0.75,
            price: 1.60,
            discloses_cost: true,
            skip: 0.0,
            lockups: &[("Mistral AI S.A.S.", 0.15, "priority", 9)],
        },
        Profile {
            slug: "aurora-ai-factory",
            name: "Aurora AI Factory (demo)",
            kind: ProviderKind::AiFactory,
            country: "FI",
            currency: "EUR",
            resources: &["amd-mi250x", "nvidia-gh200"],
            regions: &["eu-fi"],
            tiers: &["allocation", "newcomer"],
            tracks: PUBLIC_TRACKS,
            categories: PUBLIC_CATEGORIES,
            models: &["on_demand", "newcomer"],
            capacity: 4_000,
            set_aside: 0.15,
            base_wait: 5_400.0,
            newcomer_penalty: 1.1,
            openness: 0.6,
            price: 1.30,
            discloses_cost: true,
            skip: 0.05,
            lockups: &[("Nordic Language Model Consortium", 0.12, "priority", 10)],
        },
        Profile {
            slug: "nordic-hpc",
            name: "Nordic HPC Centre (demo)",
            kind: ProviderKind::HpcCentre,
            country: "FI",
            currency: "EUR",
            resources: &["nvidia-a100-40gb"],
            regions: &["eu-fi"],
            tiers: &["allocation"],
            tracks: &["general", "research"],
            categories: &["academic", "student", "civic"],
            models: &["on_demand"],
            capacity: 1_024,
            set_aside: 0.1,
            base_wait: 7_200.0,
            newcomer_penalty: 1.0,
            openness: 0.7,
            price: 1.05,
            discloses_cost: true,
            skip: 0.0,
            lockups: &[],
        },
        Profile {
            slug: "alpine-supercomputing",
            name: "Alpine Supercomputing Centre (demo)",
            kind: ProviderKind::HpcCentre,
            country: "CH",
            currency: "CHF",
            resources: &["nvidia-gh200"],
            regions: &["eu-ch"],
            tiers: &["allocation", "newcomer"],
            tracks: &["general", "research"],
            categories: &["academic", "student", "startup"],
            models: &["on_demand"],
            capacity: 2_048,
            set_aside: 0.05,
            base_wait: 10_800.0,
            newcomer_penalty: 2.5,
            openness: 0.5,
            price: 1.40,
            discloses_cost: false,
            skip: 0.1,
            lockups: &[("Climate Simulation Programme", 0.3, "priority", 2)],
        },
        Profile {
            slug: "iberia-compute",
            name: "Iberia Compute Centre (demo)",
            kind: ProviderKind::HpcCentre,
            country: "ES",
            currency: "EUR",
            resources: &["nvidia-h100-80gb"],
            regions: &["eu-es"],
            tiers: &["allocation", "newcomer"],
            tracks: PUBLIC_TRACKS,
            categories: PUBLIC_CATEGORIES,
            models: &["on_demand", "newcomer"],
            capacity: 1_600,
            set_aside: 0.12,
            base_wait: 8_000.0,
            newcomer_penalty: 1.2,
            openness: 0.65,
            price: 1.20,
            discloses_cost: true,
            skip: 0.0,
            lockups: &[],
        },
        Profile {
            slug: "lakeside-campus",
            name: "Lakeside University Campus Node (demo)",
            kind: ProviderKind::CampusNode,
            country: "CA",
            currency: "CAD",
            resources: &["nvidia-a100-40gb"],
            regions: &["ca-on"],
            tiers: &["allocation"],
            tracks: &["general"],
            categories: &["student", "academic"],
            models: &["on_demand"],
            capacity: 128,
            set_aside: 0.25,
            base_wait: 1_800.0,
            newcomer_penalty: 1.0,
            openness: 0.9,
            price: 0.90,
            discloses_cost: true,
            skip: 0.1,
            lockups: &[],
        },
        Profile {
            slug: "riverside-cluster",
            name: "Riverside College Cluster (demo)",
            kind: ProviderKind::CampusNode,
            country: "US",
            currency: "USD",
            resources: &["nvidia-l40s"],
            regions: &["us-east"],
            tiers: &["allocation"],
            tracks: &["general"],
            categories: &["student", "academic"],
            models: &["on_demand"],
            capacity: 64,
            set_aside: 0.3,
            base_wait: 900.0,
            newcomer_penalty: 1.0,
            openness: 0.95,
            price: 0.75,
            discloses_cost: true,
            skip: 0.2,
            lockups: &[],
        },
    ]
}

/// The demo providers, for registration.
pub fn providers() -> Vec<NewProvider> {
    profiles()
        .into_iter()
        .map(|p| NewProvider {
            slug: Slug::parse(p.slug).expect("demo slugs are valid"),
            display_name: p.name.to_owned(),
            kind: p.kind,
            country: Some(p.country.to_owned()),
            website: Some(format!("https://{}.example", p.slug)),
        })
        .collect()
}

fn month_start(offset: u32) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(FIRST_MONTH.0, FIRST_MONTH.1, 1).expect("valid date");
    first + Months::new(offset)
}

/// One provider-month (or a later correction) of records, as submitted together.
pub struct DemoBatch {
    /// Who files it.
    pub provider: Slug,
    /// The records, as JSON a provider would send.
    pub records: Vec<Value>,
    /// When the provider files it: some days after the month ends, later for sloppy
    /// providers now and then (the compliance report shows the difference).
    pub filed_at: DateTime<Utc>,
}

/// Generates the whole world from a seed: one batch per provider and month, then corrections.
pub fn world(seed: u64) -> Vec<DemoBatch> {
    world_scaled(seed, 1, MONTHS)
}

/// The slug of the `copy`-th copy of a demo provider (the original for copy 0).
fn copy_slug(slug: &str, copy: usize) -> String {
    if copy == 0 { slug.to_owned() } else { format!("{slug}-{}", copy + 1) }
}

/// The demo providers, `copies` times over (for benchmarks at scale).
pub fn providers_scaled(copies: usize) -> Vec<NewProvider> {
    (0..copies)
        .flat_map(|copy| {
            providers().into_iter().map(move |mut p| {
                p.slug = Slug::parse(&copy_slug(p.slug.as_str(), copy)).expect("demo slugs are valid");
                if copy > 0 {
                    p.display_name = p.display_name.replace("(demo)", &format!("(demo {})", copy + 1));
                }
                p
            })
        })
        .collect()
}

/// The world with every provider `copies` times over, for `months` months (benchmarks).
pub fn world_scaled(seed: u64, copies: usize, months: u32) -> Vec<DemoBatch> {
    let mut rng = Rng(seed);
    // Filing times come from their own generator, so the figures do not depend on them.
    let mut timing = Rng(seed ^ 0x5eed_f11e);
    // Energy too, so adding it left every other figure as it was.
    let mut power = Rng(seed ^ 0x00e4_e76e);
    let mut batches = Vec::new();
    let profiles = profiles();
    for month in 0..months {
        let (start, end) = (month_start(month), month_start(month + 1));
        for (copy, p) in (0..copies).flat_map(|copy| profiles.iter().map(move |p| (copy, p))) {
            let mut records = Vec::new();
            // Capacity grows a little most months.
            let growth = 1.0 + 0.015 * f64::from(month);
            for resource in p.resources {
                for region in p.regions {
                    let total = (p.capacity as f64 * growth * rng.between(0.97, 1.03)).round() as u64;
                    let set_aside = (total as f64 * p.set_aside).round() as u64;
                    let utilisation = format!("{:.2}", rng.between(0.62, 0.97));
                    records.push(
                        json!({"kind": "capacity", "as_of": start.to_string(), "resource": resource, "region": region,
                        "total_accelerators": total, "newcomer_set_aside": set_aside, "utilisation": utilisation}),
                    );
                    for (i, tier) in p.tiers.iter().enumerate() {
                        let factor = match *tier {
                            "newcomer" => p.newcomer_penalty,
                            "spot" => 0.6,
                            "reserved" => 0.2,
                            _ => 1.0 + 0.1 * i as f64,
                        };
                        let p50 = (p.base_wait * factor * rng.between(0.8, 1.25)).round().max(1.0) as u64;
                        let p90 = (p50 as f64 * rng.between(2.5, 5.0)).round() as u64;
                        let p99 = (p90 as f64 * rng.between(1.8, 3.5)).round() as u64;
                        let mean = (p50 as f64 * rng.between(1.3, 2.2)).round() as u64;
                        let jobs = (total as f64 * rng.between(0.3, 2.5)).round().max(5.0) as u64;
                        records.push(json!({"kind": "queue_time", "period_start": start.to_string(), "period_end": end.to_string(),
                            "resource": resource, "region": region, "tier": tier, "jobs": jobs, "p50_seconds": p50,
                            "p90_seconds": p90, "p99_seconds": p99, "mean_seconds": mean.min(p90), "max_seconds": p99 + p50}));
                    }
                    for model in p.models {
                        let discount = match *model {
                            "spot" => 0.45,
                            "reserved_1y" => 0.7,
                            "reserved_3y" => 0.55,
                            "newcomer" => 0.5,
                            _ => 1.0,
                        };
                        let price = p.price * discount * (1.0 - 0.008 * f64::from(month)) * rng.between(0.98, 1.02);
                        let mut record = json!({"kind": "price", "effective_date": start.to_string(), "resource": resource,
                            "region": region, "pricing_model": model, "price_per_accelerator_hour": format!("{price:.2}"),
                            "currency": p.currency});
                        if p.discloses_cost {
                            record["cost_basis_per_accelerator_hour"] =
                                json!(format!("{:.2}", p.price * 0.42 * rng.between(0.95, 1.05)));
                        }
                        records.push(record);
                    }
                }
            }
            // Acceptance is the filing providers most often skip.
            if !rng.chance(p.skip) {
                for track in p.tracks {
                    for (i, category) in p.categories.iter().enumerate() {
                        let received = rng.between(8.0, 240.0).round() as u64;
                        let friendliness = match *category {
                            "enterprise" | "academic" => 1.0,
                            "startup" => 0.8,
                            _ => 0.55 + 0.1 * i as f64,
                        };
                        let rate = (p.openness * friendliness * rng.between(0.85, 1.1)).min(0.98);
                        let accepted = (received as f64 * rate).round() as u64;
                        let pending = (received as f64 * rng.between(0.0, 0.05)).round() as u64;
                        let rejected = received.saturating_sub(accepted + pending);
                        let requested = received * rng.between(200.0, 2_000.0).round() as u64;
                        let granted = (requested as f64 * rate * rng.between(0.6, 1.0)).round() as u64;
                        records.push(json!({"kind": "acceptance", "period_start": start.to_string(), "period_end": end.to_string(),
                            "track": track, "applicant_category": category, "received": received, "accepted": accepted,
                            "rejected": rejected, "accelerator_hours_requested": requested, "accelerator_hours_granted": granted}));
                    }
                }
            }
            for (counterparty, share, exclusivity, start_month) in p.lockups {
                if *start_month == month {
                    let accelerators = (p.capacity as f64 * growth * share).round() as u64;
                    let deal_start = month_start(month);
                    let value = accelerators as f64 * p.price * 0.6 * 24.0 * 365.0 * 3.0;
                    records.push(json!({"kind": "lockup", "counterparty": counterparty, "resource": p.resources[0], "region": p.regions[0],
                        "accelerators": accelerators, "start_date": deal_start.to_string(),
                        "end_date": (deal_start + Months::new(36)).to_string(), "exclusivity": exclusivity,
                        "contract_value": format!("{value:.0}"), "contract_currency": p.currency,
                        "source_url": format!("https://{}.example/disclosures/{}-{}", p.slug, deal_start.year(), deal_start.month()),
                        "notes": "Synthetic demo deal.", "disclosure_date": (deal_start + chrono::Days::new(20)).to_string()}));
                }
            }
            records.extend(energy_filings(p, month, growth, &mut power));
            // Most filings come 2 to 12 days after the month; sloppy providers (those that
            // skip filings) are sometimes weeks late.
            let delay_days = if timing.between(0.0, 1.0) < p.skip * 2.0 {
                timing.between(20.0, 50.0)
            } else {
                timing.between(2.0, 12.0)
            };
            let filed_at = end.and_hms_opt(9, 0, 0).expect("time").and_utc()
                + chrono::Duration::minutes((delay_days * 24.0 * 60.0) as i64);
            batches.push(DemoBatch {
                provider: Slug::parse(&copy_slug(p.slug, copy)).expect("slug"),
                records,
                filed_at,
            });
        }
    }
    batches.extend(corrections(&batches));
    batches
}

/// Grid carbon intensity (location-based, gCO2e/kWh) and renewable share of a demo
/// region's grid, roughly as published for its country or state.
fn grid_of(region: &str) -> (f64, f64) {
    match region {
        "us-east" => (380.0, 0.22),
        "us-west" => (240.0, 0.45),
        "us-central" => (430.0, 0.25),
        "eu-west" => (290.0, 0.42),
        "eu-de" => (350.0, 0.52),
        "uk-south" => (200.0, 0.47),
        "eu-fi" => (80.0, 0.55),
        "eu-ch" => (40.0, 0.75),
        "eu-es" => (150.0, 0.56),
        "ca-on" => (35.0, 0.35),
        _ => (400.0, 0.2),
    }
}

/// Energy filings of provider `p` for demo month `month`: one per region, monthly for
/// most, quarterly (filed after the quarter's third month) for a few, none for the
/// smallest. A 1,000-accelerator site uses about 700 to 1,000 MWh a month, cooling included.
fn energy_filings(p: &Profile, month: u32, growth: f64, rng: &mut Rng) -> Vec<Value> {
    let quarterly = matches!(p.slug, "halcyon-ai-cloud" | "meridian-cloud");
    if matches!(p.slug, "lakeside-campus" | "riverside-cluster") || (quarterly && month % 3 != 2) {
        return Vec::new();
    }
    let first = if quarterly { month - 2 } else { month };
    let (start, end) = (month_start(first), month_start(month + 1));
    let days = (end - start).num_days() as f64;
    // Providers with power-purchase agreements also report a market-based intensity.
    let contracts = matches!(p.slug, "stratus-compute" | "rhine-ai-factory" | "aurora-ai-factory" | "nordic-hpc");
    let mut out = Vec::new();
    for (i, region) in p.regions.iter().enumerate() {
        let accelerators = p.capacity as f64 * growth * p.resources.len() as f64;
        let pue = rng.between(1.08, 1.45);
        let mwh = accelerators * 24.0 * days / 1000.0 * pue * rng.between(0.75, 0.95);
        let (intensity, renewable) = grid_of(region);
        // Seasons move a grid's intensity a little.
        let season = 1.0 + 0.08 * (f64::from(start.month0()) * std::f64::consts::PI / 6.0).cos();
        let location = intensity * season * rng.between(0.95, 1.05);
        let mut record = json!({"kind": "energy", "period_start": start.to_string(), "period_end": end.to_string(),
            "region": region, "energy_mwh": format!("{mwh:.1}"),
            "grid_intensity_location_gco2e_per_kwh": format!("{location:.0}"),
            "renewable_share": format!("{:.2}", (renewable * rng.between(0.95, 1.05)).min(1.0)),
            "pue": format!("{pue:.2}")});
        if p.regions.len() > 1 || matches!(p.slug, "corvid-gpu" | "rhine-ai-factory") {
            record["site"] = json!(format!("{region}-{}", i + 1));
        }
        if contracts {
            record["grid_intensity_market_gco2e_per_kwh"] = json!(format!("{:.0}", location * rng.between(0.2, 0.45)));
            record["renewable_share"] = json!(format!("{:.2}", rng.between(0.7, 0.95)));
        }
        out.push(record);
    }
    out
}

/// A few filings corrected later: the amendments the site shows with their history.
fn corrections(batches: &[DemoBatch]) -> Vec<DemoBatch> {
    let mut out = Vec::new();
    for (slug, month, kind, field, factor) in [
        ("corvid-gpu", 5usize, "queue_time", "p99_seconds", 1.8),
        ("halcyon-ai-cloud", 9, "acceptance", "accepted", 0.7),
        ("rhine-ai-factory", 12, "capacity", "newcomer_set_aside", 1.2),
        ("stratus-compute", 20, "price", "price_per_accelerator_hour", 1.05),
        ("alpine-supercomputing", 3, "queue_time", "p50_seconds", 0.9),
    ] {
        // The first filing of that kind from that month on (a month may have been skipped).
        let Some((batch, original)) = batches
            .iter()
            .filter(|b| b.provider.as_str() == slug)
            .skip(month)
            .find_map(|b| b.records.iter().find(|r| r["kind"] == kind).map(|r| (b, r)))
        else {
            continue;
        };
        let mut corrected = original.clone();
        corrected[field] = match &original[field] {
            Value::Number(n) => {
                let value = (n.as_f64().unwrap_or(0.0) * factor).round() as u64;
                json!(value)
            }
            Value::String(s) => json!(format!("{:.2}", s.parse::<f64>().unwrap_or(0.0) * factor)),
            other => other.clone(),
        };
        if kind == "queue_time" {
            // Keep p50 ≤ p90 ≤ p99 ≤ max after the correction.
            let p50 = corrected["p50_seconds"].as_u64().unwrap_or(0);
            let p90 = corrected["p90_seconds"].as_u64().unwrap_or(0).max(p50);
            let p99 = corrected["p99_seconds"].as_u64().unwrap_or(0).max(p90);
            corrected["p90_seconds"] = json!(p90);
            corrected["p99_seconds"] = json!(p99);
            corrected["max_seconds"] = json!(corrected["max_seconds"].as_u64().unwrap_or(0).max(p99));
            corrected["mean_seconds"] = json!(corrected["mean_seconds"].as_u64().unwrap_or(0).min(p90));
        }
        if kind == "acceptance" {
            let received = corrected["received"].as_u64().unwrap_or(0);
            let accepted = corrected["accepted"].as_u64().unwrap_or(0);
            corrected["rejected"] = json!(received.saturating_sub(accepted));
        }
        if kind == "capacity" {
            let total = corrected["total_accelerators"].as_u64().unwrap_or(0);
            corrected["newcomer_set_aside"] = json!(corrected["newcomer_set_aside"].as_u64().unwrap_or(0).min(total));
        }
        // Corrected a month after the original was filed.
        let filed_at = batch.filed_at + chrono::Duration::days(30);
        out.push(DemoBatch { provider: batch.provider.clone(), records: vec![corrected], filed_at });
    }
    out
}

/// What every demo provider must file, monthly from the demo's first month: queue
/// times, prices and capacity within 15 days of the month's end, acceptance within 30.
pub fn obligations(provider: &str) -> Vec<crate::analytics::compliance::Obligation> {
    use crate::analytics::compliance::{Cadence, Obligation};
    use crate::records::RecordKind;
    [
        (RecordKind::QueueTime, Cadence::Monthly, 15),
        (RecordKind::Acceptance, Cadence::Monthly, 30),
        (RecordKind::Price, Cadence::Monthly, 15),
        (RecordKind::Capacity, Cadence::Monthly, 15),
    ]
    .into_iter()
    .map(|(kind, cadence, deadline_days)| Obligation {
        provider: provider.to_owned(),
        kind,
        cadence,
        deadline_days,
        since: month_start(0),
    })
    .collect()
}

/// Registers the demo providers and submits the world through the ingest path.
/// Loading again changes nothing: if the first provider already has entries, it stops.
pub async fn load(pool: &PgPool, ledger: &Ledger, seed: u64) -> Result<DemoSummary, DemoError> {
    let mut summary = DemoSummary::default();
    {
        let mut conn = pool.acquire().await?;
        for provider in providers() {
            if db::providers::insert_if_missing(&mut conn, &provider).await? {
                summary.new_providers += 1;
            }
            for obligation in obligations(provider.slug.as_str()) {
                db::obligations::set(&mut conn, &obligation).await?;
            }
        }
        let first = profiles()[0].slug;
        if db::ledger::provider_has_entries(&mut conn, first).await? {
            summary.already_loaded = true;
            return Ok(summary);
        }
    }
    // The history is laid out in filing order with the times it would have had; anything
    // that would be filed in the future is filed now instead.
    let clock = std::sync::Arc::new(std::sync::Mutex::new(Utc::now()));
    let backdated = ledger.with_simulated_clock(clock.clone());
    let latest = Utc::now() - chrono::Duration::minutes(1);
    let mut world = world(seed);
    world.sort_by_key(|b| b.filed_at.min(latest));
    let mut world = world.into_iter().peekable();
    // Reports and answers are filed in their place in time among the providers' batches.
    load_reports(pool, &backdated, &clock, &mut world, latest, &mut summary).await?;
    for batch in world {
        submit_batch(pool, &backdated, &clock, batch, latest, &mut summary).await?;
    }
    Ok(summary)
}

/// Submits one demo batch through the ingest path at its filing time.
async fn submit_batch(
    pool: &PgPool,
    backdated: &Ledger,
    clock: &std::sync::Arc<std::sync::Mutex<DateTime<Utc>>>,
    batch: DemoBatch,
    latest: DateTime<Utc>,
    summary: &mut DemoSummary,
) -> Result<(), DemoError> {
    if let Ok(mut time) = clock.lock() {
        *time = batch.filed_at.min(latest);
    }
    let records: Vec<Record> = batch
        .records
        .into_iter()
        .map(|value| {
            let kind = value["kind"].as_str().unwrap_or_default().to_owned();
            Record::parse(value).map_err(|errors| DemoError::Invalid {
                kind,
                reason: errors.first().map(|e| format!("{}: {}", e.field, e.reason)).unwrap_or_default(),
            })
        })
        .collect::<Result<_, _>>()?;
    let result = submission::submit(pool, backdated, &batch.provider, &records, false).await?;
    summary.records += records.len();
    summary.appended += result.records.iter().filter(|r| r.outcome != submission::Outcome::Duplicate).count();
    Ok(())
}

/// The demo's reporters: slug, name, and the reason the operator distrusts it, if it does.
pub const REPORTERS: [(&str, &str, Option<&str>); 3] = [
    ("tech-ledger-desk", "Tech Ledger newsroom", None),
    ("compute-watch", "Compute Watch research group", None),
    ("rumour-mill", "Rumour Mill blog", Some("Sources could not be verified; two earlier reports were fabricated")),
];

/// Reports by others and the providers' answers (issue 19): a confirmed, a disputed and a
/// corrected lock-up report, a lock-up report left unanswered for two months (counted in the
/// compliance report), a price report not yet overdue (20 days), and a report of a distrusted
/// reporter (logged, hidden from counts). Filed through the same path as the API.
async fn load_reports(
    pool: &PgPool,
    ledger: &Ledger,
    clock: &std::sync::Arc<std::sync::Mutex<DateTime<Utc>>>,
    world: &mut std::iter::Peekable<std::vec::IntoIter<DemoBatch>>,
    latest: DateTime<Utc>,
    summary: &mut DemoSummary,
) -> Result<(), DemoError> {
    let mut conn = pool.acquire().await?;
    for (slug, name, distrust) in REPORTERS {
        let slug = Slug::parse(slug).expect("demo slugs are valid");
        let website = format!("https://{slug}.example.org");
        db::providers::insert_reporter(&mut conn, &slug, name, Some(&website)).await?;
        db::providers::set_distrust(&mut conn, &slug, distrust).await?;
    }
    drop(conn);
    let state = crate::AppState::new(pool.clone(), ledger.clone());
    let now = Utc::now() - chrono::Duration::minutes(1);
    let lockup = |about: &str, source: &str, quotation: &str, fields: Value| {
        let mut report = json!({"kind": "report", "about": about, "reported_kind": "lockup",
            "sources": [format!("https://{source}")], "published_date": (now - chrono::Duration::days(70)).date_naive().to_string(),
            "quotation": quotation});
        for (k, v) in fields.as_object().into_iter().flatten() {
            report[k] = v.clone();
        }
        report
    };
    // (filer, is a reporter, days ago, the report or answer; answers name their report by its
    // place in this list, resolved to its entry index).
    let filings: Vec<(&str, bool, i64, Value)> = vec![
        (
            "compute-watch",
            true,
            65,
            lockup(
                "meridian-cloud",
                "compute-watch.example.org/2026/meridian-apex",
                "Meridian has promised Apex Frontier Labs priority on a third of its H100 fleet.",
                json!({"counterparty": "Apex Frontier Labs", "exclusivity": "priority"}),
            ),
        ),
        (
            "tech-ledger-desk",
            true,
            64,
            lockup(
                "corvid-gpu",
                "news.tech-ledger.example.org/corvid-orbital",
                "Corvid GPU is said to have reserved 2,048 accelerators for Orbital Reasoning Co. through 2027.",
                json!({"counterparty": "Orbital Reasoning Co", "accelerators": 2048, "exclusivity": "exclusive"}),
            ),
        ),
        (
            "tech-ledger-desk",
            true,
            63,
            lockup(
                "halcyon-ai-cloud",
                "news.tech-ledger.example.org/halcyon-quanta",
                "Halcyon's deal with Quanta Models covers 4,096 accelerators, according to a filing.",
                json!({"counterparty": "Quanta Models Ltd", "accelerators": 4096, "exclusivity": "exclusive"}),
            ),
        ),
        (
            "compute-watch",
            true,
            60,
            lockup(
                "stratus-compute",
                "compute-watch.example.org/2026/stratus-apex",
                "Stratus Compute has set aside a block of B200s for Apex Frontier Labs; the deal is not in its disclosures.",
                json!({"counterparty": "Apex Frontier Labs", "resource": "nvidia-b200"}),
            ),
        ),
        (
            "meridian-cloud",
            false,
            50,
            json!({"kind": "answer", "report": 0, "response": "confirm",
            "statement": "Disclosed as filed; the priority covers part of the H100 fleet."}),
        ),
        (
            "corvid-gpu",
            false,
            49,
            json!({"kind": "answer", "report": 1, "response": "dispute",
            "statement": "Corvid GPU has no reservation with Orbital Reasoning Co; its capacity is open to all customers."}),
        ),
        (
            "halcyon-ai-cloud",
            false,
            48,
            json!({"kind": "answer", "report": 2, "response": "correct",
            "corrections": {"accelerators": 1024}, "statement": "The deal covers 1,024 accelerators, not 4,096."}),
        ),
        (
            "rumour-mill",
            true,
            40,
            lockup(
                "nordic-hpc",
                "rumour-mill.example.org/nordic-secret-deal",
                "Nordic HPC is secretly giving its whole cluster to one lab, insiders say.",
                json!({"counterparty": "Unnamed lab"}),
            ),
        ),
        (
            "compute-watch",
            true,
            20,
            json!({"kind": "report", "about": "lumen-stack", "reported_kind": "price",
            "sources": ["https://lumen-stack.example/pricing"], "published_date": (now - chrono::Duration::days(21)).date_naive().to_string(),
            "quotation": "Public price list: H100 on demand, 3.20 USD per GPU-hour.", "price_per_accelerator_hour": "3.20",
            "currency": "USD", "resource": "nvidia-h100-80gb", "pricing_model": "on_demand"}),
        ),
    ];
    let mut entries: Vec<u64> = Vec::new();
    for (filer, reporter, days_ago, mut value) in filings {
        let at = now - chrono::Duration::days(days_ago);
        while let Some(batch) = world.next_if(|b| b.filed_at.min(latest) <= at) {
            submit_batch(pool, ledger, clock, batch, latest, summary).await?;
        }
        if let Ok(mut time) = clock.lock() {
            *time = at;
        }
        if value["kind"] == "answer" {
            let place = value["report"].as_u64().unwrap_or_default() as usize;
            value["report"] = json!(entries.get(place).copied().unwrap_or_default());
            if value["response"] == "confirm" {
                let mut conn = pool.acquire().await?;
                let disclosed = db::ledger::first_of_kind(&mut conn, "meridian-cloud", "lockup").await?;
                value["disclosure_entry"] = json!(disclosed.unwrap_or_default());
            }
        }
        let kind = value["kind"].as_str().unwrap_or_default().to_owned();
        let invalid = |reason: String| DemoError::Invalid { kind: kind.clone(), reason };
        let token = crate::api::auth::ProviderToken {
            provider_id: 0,
            provider: Slug::parse(filer).expect("demo slugs are valid"),
            reporter,
        };
        // Through the API's own checks, as a client's request body would be.
        let body = value.to_string();
        let batch =
            crate::api::reports::third_party(&state, &token, crate::submission::formats::Format::Json, body.as_bytes())
                .map_err(|e| invalid(format!("{:?}", e.0)))?
                .ok_or_else(|| invalid("not a report or answer".into()))?;
        let (_, answered, _) = crate::api::reports::apply(&state, &token, batch, false)
            .await
            .map_err(|e| invalid(format!("{:?}", e.0)))?;
        let first = answered.records.first().ok_or_else(|| invalid("no receipt".into()))?;
        entries.push(first.entry_index);
        summary.records += 1;
        summary.appended += usize::from(first.outcome != "duplicate");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestDb, test_ledger};

    #[test]
    fn the_world_is_valid_and_the_same_for_the_same_seed() {
        let a = world(DEFAULT_SEED);
        let b = world(DEFAULT_SEED);
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.records == y.records));
        assert_ne!(world(1)[0].records, a[0].records, "another seed, another world");
        let mut kinds = std::collections::BTreeMap::new();
        for batch in &a {
            for record in &batch.records {
                let parsed = Record::parse(record.clone()).unwrap_or_else(|e| panic!("{record}: {e:?}"));
                *kinds.entry(parsed.kind().as_str()).or_insert(0) += 1;
            }
        }
        assert_eq!(kinds.len(), 6, "every kind appears: {kinds:?}");
        assert!(kinds.values().sum::<usize>() > 4_000, "{kinds:?}");
    }

    #[tokio::test]
    async fn loading_goes_through_ingest_and_a_second_load_changes_nothing() {
        let db = TestDb::new().await;
        let ledger = test_ledger();
        let first = load(&db.pool, &ledger, DEFAULT_SEED).await.expect("load");
        assert_eq!(first.new_providers, providers().len());
        assert!(first.appended > 4_000);
        let amendments: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger_entries WHERE supersedes IS NOT NULL")
            .fetch_one(&db.pool)
            .await
            .expect("count");
        assert_eq!(amendments, 5);
        let size = crate::db::ledger::head(&mut db.pool.acquire().await.expect("conn")).await.expect("head").size;
        assert_eq!(size, first.appended as u64);
        let second = load(&db.pool, &ledger, DEFAULT_SEED).await.expect("second load");
        assert!(second.already_loaded);
        assert_eq!(second.new_providers, 0);
        let after = crate::db::ledger::head(&mut db.pool.acquire().await.expect("conn")).await.expect("head").size;
        assert_eq!(after, size);
    }
}
