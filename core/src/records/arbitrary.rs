//! Property-test generators of valid records over the whole of every field's domain
//! (boundaries included), as a provider could send them. Test-only.

use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::domain::{self, Amount, Count};
use super::kinds::{ApplicantCategory, Exclusivity, PricingModel, Tier, Track};

/// A count anywhere in `domain`, with its ends and their neighbours drawn often.
pub fn count(domain: Count) -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => Just(domain.min),
        1 => Just(domain.max),
        1 => Just(domain.max - 1),
        1 => Just(domain.min + 1),
        6 => domain.min..=domain.max,
    ]
}

/// A decimal anywhere in `domain`, with 0 to `max_places` digits after the point, as text.
pub fn amount(domain: Amount) -> impl Strategy<Value = String> {
    let max = domain.max;
    (0..=domain.max_places).prop_flat_map(move |places| {
        let top = (max * Decimal::from(10_i64.pow(places))).trunc().mantissa();
        prop_oneof![Just(0_i128), Just(top), 0..=top].prop_map(move |units| {
            let value = Decimal::from_i128_with_scale(units, places);
            // Written with its trailing zeros, as a provider might: the parser normalises.
            value.to_string()
        })
    })
}

fn date_in(first: NaiveDate, last: NaiveDate) -> impl Strategy<Value = NaiveDate> {
    let span = (last - first).num_days().max(0) as u64;
    prop_oneof![Just(0), Just(span), 0..=span].prop_map(move |d| first + Days::new(d))
}

/// A date anywhere in the allowed range.
pub fn date() -> impl Strategy<Value = NaiveDate> {
    date_in(*domain::DATES.start(), *domain::DATES.end())
}

/// A valid `[start, end)` period.
pub fn period() -> impl Strategy<Value = (NaiveDate, NaiveDate)> {
    let last_start = *domain::DATES.end() - Days::new(92);
    (date_in(*domain::DATES.start(), last_start), 1_u64..=92).prop_map(|(start, days)| (start, start + Days::new(days)))
}

/// Free text a record may carry: any characters but control, format, private-use and
/// line-separator ones, and no leading or trailing space (which the parser trims).
pub fn text(max: usize) -> impl Strategy<Value = String> {
    let body = format!(
        "[^\\p{{C}}\\p{{Z}}\\u{{FFFD}}]([^\\p{{C}}\\u{{2028}}\\u{{2029}}\\u{{FFFD}}]{{0,{}}}[^\\p{{C}}\\p{{Z}}\\u{{FFFD}}])?",
        max.min(60) - 2
    );
    prop_oneof![
        1 => Just("=HYPERLINK(\"http://evil.example/\",\"x\")".to_owned()),
        1 => Just("x".repeat(max)),
        8 => proptest::string::string_regex(&body).expect("regex"),
    ]
}

fn slug() -> impl Strategy<Value = String> {
    prop_oneof![Just("a".to_owned()), Just("z".repeat(64)), "[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,3}"]
}

fn choice<T: 'static + Copy + std::fmt::Debug>(options: &'static [(&'static str, T)]) -> impl Strategy<Value = String> {
    proptest::sample::select(options).prop_map(|(name, _)| name.to_owned())
}

fn optional<S: Strategy>(inner: S) -> impl Strategy<Value = Option<S::Value>> {
    proptest::option::of(inner)
}

fn object(pairs: Vec<(&str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = pairs.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect();
    Value::Object(map)
}

fn queue_time() -> impl Strategy<Value = Value> {
    let waits = proptest::collection::vec(count(domain::WAIT_SECONDS), 4).prop_map(|mut w| {
        w.sort_unstable();
        w
    });
    (
        period(),
        slug(),
        slug(),
        choice(Tier::OPTIONS),
        count(domain::JOBS),
        waits,
        optional(count(domain::WAIT_SECONDS)),
        any::<bool>(),
    )
        .prop_map(|((start, end), resource, region, tier, jobs, waits, mean, with_max)| {
            object(vec![
                ("kind", Some(json!("queue_time"))),
                ("period_start", Some(json!(start.to_string()))),
                ("period_end", Some(json!(end.to_string()))),
                ("resource", Some(json!(resource))),
                ("region", Some(json!(region))),
                ("tier", Some(json!(tier))),
                ("jobs", Some(json!(jobs))),
                ("p50_seconds", Some(json!(waits[0]))),
                ("p90_seconds", Some(json!(waits[1]))),
                ("p99_seconds", Some(json!(waits[2]))),
                ("mean_seconds", mean.map(|m| json!(m))),
                ("max_seconds", with_max.then(|| json!(waits[3]))),
            ])
        })
}

fn acceptance() -> impl Strategy<Value = Value> {
    let counts = count(domain::APPLICATIONS).prop_flat_map(|received| {
        (Just(received), 0..=received)
            .prop_flat_map(|(received, accepted)| (Just(received), Just(accepted), 0..=received - accepted))
    });
    let hours = || optional(count(domain::ACCELERATOR_HOURS));
    (period(), choice(Track::OPTIONS), choice(ApplicantCategory::OPTIONS), counts, hours(), hours()).prop_map(
        |((start, end), track, category, (received, accepted, rejected), requested, granted)| {
            object(vec![
                ("kind", Some(json!("acceptance"))),
                ("period_start", Some(json!(start.to_string()))),
                ("period_end", Some(json!(end.to_string()))),
                ("track", Some(json!(track))),
                ("applicant_category", Some(json!(category))),
                ("received", Some(json!(received))),
                ("accepted", Some(json!(accepted))),
                ("rejected", Some(json!(rejected))),
                ("accelerator_hours_requested", requested.map(|h| json!(h))),
                ("accelerator_hours_granted", granted.map(|h| json!(h))),
            ])
        },
    )
}

fn currency() -> impl Strategy<Value = String> {
    proptest::sample::select(&["EUR", "USD", "JPY", "CHF", "BHD"][..]).prop_map(str::to_owned)
}

fn price() -> impl Strategy<Value = Value> {
    (
        date(),
        slug(),
        slug(),
        choice(PricingModel::OPTIONS),
        amount(domain::PRICE_PER_HOUR),
        currency(),
        optional(amount(domain::PRICE_PER_HOUR)),
    )
        .prop_map(|(effective, resource, region, model, price, currency, cost)| {
            object(vec![
                ("kind", Some(json!("price"))),
                ("effective_date", Some(json!(effective.to_string()))),
                ("resource", Some(json!(resource))),
                ("region", Some(json!(region))),
                ("pricing_model", Some(json!(model))),
                ("price_per_accelerator_hour", Some(json!(price))),
                ("currency", Some(json!(currency))),
                ("cost_basis_per_accelerator_hour", cost.map(|c| json!(c))),
            ])
        })
}

fn lockup() -> impl Strategy<Value = Value> {
    let dates = (date_in(*domain::DATES.start(), *domain::DATES.end() - Days::new(1)), any::<bool>()).prop_flat_map(
        |(start, ends)| {
            let end = if ends {
                date_in(start + Days::new(1), *domain::DATES.end()).prop_map(Some).boxed()
            } else {
                Just(None::<NaiveDate>).boxed()
            };
            (Just(start), end)
        },
    );
    let contract = optional((amount(domain::CONTRACT_VALUE), currency()));
    let notes = optional(prop_oneof![text(super::kinds::MAX_NOTES), Just("first line\nsecond line".to_owned()),]);
    (
        text(super::kinds::MAX_COUNTERPARTY),
        slug(),
        slug(),
        count(domain::LOCKED_ACCELERATORS),
        dates,
        choice(Exclusivity::OPTIONS),
        contract,
        optional("[a-z0-9/_-]{0,40}".prop_map(|path| format!("https://example.com/{path}"))),
        notes,
        date(),
    )
        .prop_map(
            |(
                counterparty,
                resource,
                region,
                accelerators,
                (start, end),
                exclusivity,
                contract,
                url,
                notes,
                disclosed,
            )| {
                object(vec![
                    ("kind", Some(json!("lockup"))),
                    ("counterparty", Some(json!(counterparty))),
                    ("resource", Some(json!(resource))),
                    ("region", Some(json!(region))),
                    ("accelerators", Some(json!(accelerators))),
                    ("start_date", Some(json!(start.to_string()))),
                    ("end_date", end.map(|e| json!(e.to_string()))),
                    ("exclusivity", Some(json!(exclusivity))),
                    ("contract_value", contract.as_ref().map(|(v, _)| json!(v))),
                    ("contract_currency", contract.as_ref().map(|(_, c)| json!(c))),
                    ("source_url", url.map(|u| json!(u))),
                    ("notes", notes.map(|n| json!(n))),
                    ("disclosure_date", Some(json!(disclosed.to_string()))),
                ])
            },
        )
}

fn capacity() -> impl Strategy<Value = Value> {
    let counts = count(domain::ACCELERATORS).prop_flat_map(|total| (Just(total), 0..=total));
    (date(), slug(), slug(), counts, optional(amount(domain::FRACTION))).prop_map(
        |(as_of, resource, region, (total, set_aside), utilisation)| {
            object(vec![
                ("kind", Some(json!("capacity"))),
                ("as_of", Some(json!(as_of.to_string()))),
                ("resource", Some(json!(resource))),
                ("region", Some(json!(region))),
                ("total_accelerators", Some(json!(total))),
                ("newcomer_set_aside", Some(json!(set_aside))),
                ("utilisation", utilisation.map(|u| json!(u))),
            ])
        },
    )
}

/// A PUE from 1 (its floor) to its maximum, with 0 to its most digits after the point.
fn pue() -> impl Strategy<Value = String> {
    (0..=domain::PUE.max_places).prop_flat_map(|places| {
        let unit = 10_i128.pow(places);
        let top = (domain::PUE.max * Decimal::from(unit)).trunc().mantissa();
        prop_oneof![Just(unit), Just(top), unit..=top]
            .prop_map(move |units| Decimal::from_i128_with_scale(units, places).to_string())
    })
}

fn energy() -> impl Strategy<Value = Value> {
    (
        period(),
        slug(),
        optional(slug()),
        amount(domain::ENERGY_MWH),
        amount(domain::GRID_INTENSITY),
        optional(amount(domain::GRID_INTENSITY)),
        amount(domain::FRACTION),
        optional(pue()),
    )
        .prop_map(|((start, end), region, site, energy, location, market, renewable, pue)| {
            object(vec![
                ("kind", Some(json!("energy"))),
                ("period_start", Some(json!(start.to_string()))),
                ("period_end", Some(json!(end.to_string()))),
                ("region", Some(json!(region))),
                ("site", site.map(|s| json!(s))),
                ("energy_mwh", Some(json!(energy))),
                ("grid_intensity_location_gco2e_per_kwh", Some(json!(location))),
                ("grid_intensity_market_gco2e_per_kwh", market.map(|m| json!(m))),
                ("renewable_share", Some(json!(renewable))),
                ("pue", pue.map(|p| json!(p))),
            ])
        })
}

/// A valid record of any kind, as JSON with `kind`.
pub fn record() -> impl Strategy<Value = Value> {
    prop_oneof![queue_time(), acceptance(), price(), lockup(), capacity(), energy()]
}
