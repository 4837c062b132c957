//! Who holds the market's capacity (issue 19, part 2): lock-ups grouped by buyer across
//! every provider, each buyer's share of all disclosed capacity month by month, and the
//! Herfindahl–Hirschman index of those shares.
//!
//! Definitions, stated on `/counterparties` too:
//! - a month is measured on its last day `d`;
//! - the denominator is every provider's total capacity from its latest capacity filing
//!   dated on or before `d` (a provider that has filed none by then is not in the market yet);
//! - a deal is in force on `d` when `start ≤ d < end` (no end: open-ended), and counts only
//!   at a provider that is in the denominator on `d`;
//! - a buyer's share is its accelerators in force ÷ the denominator; the HHI is the sum of
//!   the buyers' squared percentage shares (0..10,000).

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};

use super::add;
use crate::records::kinds::{Exclusivity, Lockup};

/// Legal-form words dropped from the end of a name: "Mistral AI SAS" and "Mistral AI" are
/// one buyer. (Only trailing ones: "Co" inside "Co Op Labs" is part of the name.)
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "ltd",
    "limited",
    "llc",
    "llp",
    "gmbh",
    "sa",
    "sas",
    "sarl",
    "ag",
    "bv",
    "nv",
    "plc",
    "corp",
    "corporation",
    "co",
    "company",
    "srl",
    "spa",
    "ab",
    "oy",
    "as",
    "pty",
    "kk",
];

/// A counterparty name reduced to what identifies the buyer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuyerKey {
    /// Lower-case words, legal suffixes dropped, single spaces: "mistral ai".
    pub key: String,
    /// The key for URLs: ASCII letters, digits and single hyphens ("mistral-ai").
    pub slug: String,
}

/// Normalises a counterparty name: case, spacing and punctuation folded, trailing legal
/// suffixes (Inc, Ltd, LLC, GmbH, SA, SAS, AG, BV, plc, Corp, Co …) dropped. Never empty.
pub fn normalise(name: &str) -> BuyerKey {
    // Lower-case first, then split: a lower-cased character can expand into several, some
    // of them not letters (a dotted capital I), and splitting afterwards keeps this idempotent.
    let lower = name.to_lowercase();
    // Dots and apostrophes join rather than split: "S.A.S." is "sas", "O'Neil" is "oneil".
    let joined: String = lower.chars().filter(|c| !matches!(c, '.' | '\'' | '’')).collect();
    let mut words: Vec<&str> = joined.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    while words.len() > 1 && words.last().is_some_and(|w| LEGAL_SUFFIXES.contains(w)) {
        words.pop();
    }
    let key = if words.is_empty() {
        // Nothing alphanumeric (a name of symbols): the symbols' code points, so distinct
        // such names stay distinct and the key is still a word.
        let code: String = lower.chars().filter(|c| !c.is_whitespace()).map(|c| format!("u{:x}", c as u32)).collect();
        if code.is_empty() { "unnamed".to_owned() } else { code }
    } else {
        words.join(" ")
    };
    let slug = key
        .split(' ')
        .map(|word| {
            word.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c.to_string() } else { format!("u{:x}", c as u32) })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-");
    BuyerKey { key, slug }
}

/// One provider's part of the market: its capacity filings and its deals.
#[derive(Debug, Clone, Default)]
pub struct ProviderMarket {
    /// Provider slug.
    pub provider: String,
    /// Total accelerators per capacity filing date (several filings on one date summed).
    pub capacity: Vec<(NaiveDate, u64)>,
    /// Its deals, each with its ledger entry when known.
    pub deals: Vec<(Option<u64>, Lockup)>,
}

/// A deal, as a buyer's page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Deal {
    /// Provider slug.
    pub provider: String,
    /// The ledger entry of its latest version, when known.
    pub entry: Option<u64>,
    /// The deal as filed.
    pub lockup: Lockup,
}

/// A name a buyer was filed under, and by which providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The name as filed (trimmed).
    pub name: String,
    /// Providers that used it.
    pub providers: Vec<String>,
}

/// A buyer's accelerators in force at the end of one month.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Holding {
    /// First day of the month.
    pub month: NaiveDate,
    /// Accelerators in force on the month's last day.
    pub accelerators: u64,
    /// Accelerators ÷ all disclosed capacity then (`None` when none was disclosed).
    pub share: Option<f64>,
}

/// One buyer across the market.
#[derive(Debug, Clone, PartialEq)]
pub struct Buyer {
    /// Normalised name.
    pub key: BuyerKey,
    /// The alias shown as its name: the one most deals use; on a tie the shortest (usually the
    /// name without its legal form), then the first alphabetically.
    pub name: String,
    /// Every alias, alphabetically.
    pub aliases: Vec<Alias>,
    /// Its deals, newest first.
    pub deals: Vec<Deal>,
    /// One holding per month of [`Market::months`].
    pub holdings: Vec<Holding>,
}

impl Buyer {
    /// Its holding in the latest month.
    pub fn latest(&self) -> Option<&Holding> {
        self.holdings.last()
    }

    /// Providers it has deals with, distinct, alphabetically.
    pub fn providers(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.deals.iter().map(|d| d.provider.as_str()).collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The market at the end of one month.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketMonth {
    /// First day of the month.
    pub month: NaiveDate,
    /// The day it is measured on: the month's last day.
    pub on: NaiveDate,
    /// All capacity disclosed then (the denominator).
    pub capacity: u64,
    /// Providers in the denominator.
    pub providers: u64,
    /// Accelerators in force per exclusivity, in [`Exclusivity::OPTIONS`] order.
    pub by_exclusivity: Vec<u64>,
    /// Deals in force per exclusivity, in [`Exclusivity::OPTIONS`] order.
    pub deals_by_exclusivity: Vec<u64>,
    /// Buyers holding anything then.
    pub buyers: u64,
    /// Herfindahl–Hirschman index of the buyers' shares (`None` without capacity).
    pub hhi: Option<f64>,
}

impl MarketMonth {
    /// Accelerators in force under every kind of deal.
    pub fn locked(&self) -> u64 {
        super::sum(self.by_exclusivity.iter().copied())
    }
}

/// The whole market: every month from the first capacity filing to the latest dated fact,
/// and every buyer, largest latest share first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Market {
    /// Months, oldest first.
    pub months: Vec<MarketMonth>,
    /// Buyers, largest latest holding first, then by name.
    pub buyers: Vec<Buyer>,
}

impl Market {
    /// The buyer with this slug.
    pub fn buyer(&self, slug: &str) -> Option<&Buyer> {
        self.buyers.iter().find(|b| b.key.slug == slug)
    }

    /// The latest month.
    pub fn latest(&self) -> Option<&MarketMonth> {
        self.months.last()
    }
}

/// The Herfindahl–Hirschman index of `shares` given as percentages: Σ share².
pub fn hhi(percentages: impl IntoIterator<Item = f64>) -> f64 {
    percentages.into_iter().map(|s| s * s).sum()
}

fn last_day(month: NaiveDate) -> NaiveDate {
    month.checked_add_months(Months::new(1)).and_then(|next| next.pred_opt()).unwrap_or(month)
}

fn first_day(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

fn in_force(lockup: &Lockup, on: NaiveDate) -> bool {
    lockup.start_date <= on && lockup.end_date.is_none_or(|end| on < end)
}

fn exclusivity_position(e: Exclusivity) -> usize {
    Exclusivity::OPTIONS.iter().position(|(_, x)| *x == e).unwrap_or(0)
}

/// Computes the market from each provider's capacity filings and deals (any order).
pub fn market(providers: &[ProviderMarket]) -> Market {
    // Each provider's filings as (date, total), by date, one total per date.
    let filings: Vec<(&str, Vec<(NaiveDate, u64)>)> = providers
        .iter()
        .map(|p| {
            let mut by_date: BTreeMap<NaiveDate, u64> = BTreeMap::new();
            for (date, total) in &p.capacity {
                let held = by_date.entry(*date).or_default();
                *held = add(*held, *total);
            }
            (p.provider.as_str(), by_date.into_iter().collect())
        })
        .collect();
    let first = filings.iter().filter_map(|(_, f)| f.first().map(|(d, _)| *d)).min();
    let last_fact = filings
        .iter()
        .filter_map(|(_, f)| f.last().map(|(d, _)| *d))
        .chain(providers.iter().flat_map(|p| p.deals.iter().map(|(_, l)| l.start_date)))
        .max();
    let months: Vec<NaiveDate> = match (first, last_fact) {
        (Some(first), Some(last)) => {
            let (mut month, end) = (first_day(first), first_day(last));
            let mut out = Vec::new();
            while month <= end {
                out.push(month);
                let Some(next) = month.checked_add_months(Months::new(1)) else { break };
                month = next;
            }
            out
        }
        _ => Vec::new(),
    };

    // Buyers: deals grouped by normalised name.
    let mut groups: BTreeMap<BuyerKey, Vec<Deal>> = BTreeMap::new();
    for p in providers {
        for (entry, lockup) in &p.deals {
            groups.entry(normalise(&lockup.counterparty)).or_default().push(Deal {
                provider: p.provider.clone(),
                entry: *entry,
                lockup: lockup.clone(),
            });
        }
    }

    let kinds = Exclusivity::OPTIONS.len();
    let mut market_months = Vec::with_capacity(months.len());
    // Per month: capacity per provider in the denominator.
    let mut present: Vec<BTreeMap<&str, u64>> = Vec::with_capacity(months.len());
    for month in &months {
        let on = last_day(*month);
        let mut in_market: BTreeMap<&str, u64> = BTreeMap::new();
        for (provider, f) in &filings {
            let filed = f.partition_point(|(date, _)| *date <= on);
            if filed > 0 {
                let held = in_market.entry(provider).or_default();
                *held = add(*held, f[filed - 1].1);
            }
        }
        market_months.push(MarketMonth {
            month: *month,
            on,
            capacity: super::sum(in_market.values().copied()),
            providers: in_market.len() as u64,
            by_exclusivity: vec![0; kinds],
            deals_by_exclusivity: vec![0; kinds],
            buyers: 0,
            hhi: None,
        });
        present.push(in_market);
    }

    let mut buyers: Vec<Buyer> = groups
        .into_iter()
        .map(|(key, mut deals)| {
            let mut aliases: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
            for deal in &deals {
                let alias = aliases.entry(deal.lockup.counterparty.trim().to_owned()).or_default();
                alias.0 += 1;
                if !alias.1.contains(&deal.provider) {
                    alias.1.push(deal.provider.clone());
                }
            }
            let name = aliases
                .iter()
                .max_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| b.0.len().cmp(&a.0.len())).then_with(|| b.0.cmp(a.0)))
                .map(|(name, _)| name.clone())
                .unwrap_or_else(|| key.key.clone());
            let aliases = aliases
                .into_iter()
                .map(|(name, (_, mut providers))| {
                    providers.sort();
                    Alias { name, providers }
                })
                .collect();
            let holdings = market_months
                .iter_mut()
                .zip(&present)
                .map(|(m, in_market)| {
                    let mut accelerators = 0;
                    for deal in deals.iter().filter(|d| in_market.contains_key(d.provider.as_str())) {
                        if in_force(&deal.lockup, m.on) {
                            accelerators = add(accelerators, deal.lockup.accelerators);
                            let kind = exclusivity_position(deal.lockup.exclusivity);
                            m.by_exclusivity[kind] = add(m.by_exclusivity[kind], deal.lockup.accelerators);
                            m.deals_by_exclusivity[kind] += 1;
                        }
                    }
                    let share = (m.capacity > 0).then(|| accelerators as f64 / m.capacity as f64);
                    Holding { month: m.month, accelerators, share }
                })
                .collect();
            deals.sort_by(|a, b| {
                b.lockup
                    .start_date
                    .cmp(&a.lockup.start_date)
                    .then_with(|| a.provider.cmp(&b.provider))
                    .then_with(|| a.entry.cmp(&b.entry))
            });
            Buyer { key, name, aliases, deals, holdings }
        })
        .collect();

    for (i, m) in market_months.iter_mut().enumerate() {
        let held = buyers.iter().map(|b| b.holdings[i]).filter(|h| h.accelerators > 0);
        m.buyers = held.clone().count() as u64;
        m.hhi = (m.capacity > 0).then(|| hhi(held.filter_map(|h| h.share).map(|s| s * 100.0)));
    }
    buyers.sort_by(|a, b| {
        let held = |x: &Buyer| x.latest().map_or(0, |h| h.accelerators);
        held(b).cmp(&held(a)).then_with(|| a.name.cmp(&b.name))
    });
    Market { months: market_months, buyers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Record;
    use proptest::prelude::*;
    use serde_json::json;

    fn deal(counterparty: &str, accelerators: u64, start: &str, end: Option<&str>, exclusivity: &str) -> Lockup {
        let mut value = json!({"kind": "lockup", "counterparty": counterparty, "resource": "nvidia-h100-80gb",
            "region": "eu-de", "accelerators": accelerators, "start_date": start, "exclusivity": exclusivity,
            "disclosure_date": start});
        if let Some(end) = end {
            value["end_date"] = json!(end);
        }
        match Record::parse(value).expect("valid lock-up") {
            Record::Lockup(l) => l,
            other => panic!("not a lock-up: {other:?}"),
        }
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn legal_suffixes_case_and_punctuation_fold_into_one_key() {
        let names = ["Mistral AI", "MISTRAL AI SAS", "Mistral  AI, S.A.S.", "mistral-ai", " Mistral AI Inc. "];
        for name in names {
            assert_eq!(normalise(name), BuyerKey { key: "mistral ai".into(), slug: "mistral-ai".into() }, "{name}");
        }
        assert_eq!(normalise("Acme Co. Ltd").key, "acme");
        assert_eq!(normalise("Co").key, "co", "a name that is only a suffix stays itself");
        assert_eq!(normalise("Co Op Labs GmbH").key, "co op labs");
        assert_ne!(normalise("Apex Labs").key, normalise("Apex").key);
        assert_eq!(normalise("Müller KI AG").slug, "mufcller-ki");
        assert_eq!(normalise("!!!").key, "u21u21u21");
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent_and_never_empty(name in "\\PC{1,40}") {
            let once = normalise(&name);
            prop_assert!(!once.key.is_empty());
            prop_assert_eq!(normalise(&once.key), once.clone());
        }

        #[test]
        fn case_spacing_and_suffixes_do_not_matter(
            words in proptest::collection::vec("[A-Za-z][A-Za-z0-9]{0,8}", 1..4),
            suffix in proptest::sample::select(vec!["", " Inc.", " Ltd", " LLC", ", GmbH", " SA", " S.A.S.", " AG",
                " B.V.", " plc", " Corp.", " Corporation", " Co."]),
            gap in "[ \t]{1,3}",
        ) {
            // A last word that is itself a suffix would be dropped from the plain name too.
            prop_assume!(!LEGAL_SUFFIXES.contains(&words[words.len() - 1].to_lowercase().as_str()));
            let plain = words.join(" ");
            let varied = format!("{}{suffix}", words.join(&gap).to_uppercase());
            prop_assert_eq!(normalise(&plain), normalise(&varied));
        }

        #[test]
        fn slugs_are_url_safe(name in "\\PC{1,40}") {
            let slug = normalise(&name).slug;
            prop_assert!(!slug.is_empty());
            prop_assert!(slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{}", slug);
            prop_assert!(!slug.starts_with('-') && !slug.ends_with('-') && !slug.contains("--"), "{}", slug);
        }
    }

    #[test]
    fn hhi_of_a_hand_made_market() {
        assert_eq!(hhi([50.0, 30.0, 20.0]), 3_800.0);
        assert_eq!(hhi([100.0]), 10_000.0);
        assert_eq!(hhi([]), 0.0);
    }

    /// Two providers of 600 and 400 accelerators; buyers holding 500, 300 and 200 of the
    /// 1,000 in March 2026: shares 50/30/20, so an HHI of 3,800.
    #[test]
    fn shares_and_hhi_of_a_small_market() {
        let a = ProviderMarket {
            provider: "a".into(),
            capacity: vec![(date("2026-01-10"), 500), (date("2026-02-01"), 400), (date("2026-02-01"), 200)],
            deals: vec![
                (Some(1), deal("Mistral AI", 300, "2026-01-01", None, "exclusive")),
                (Some(2), deal("Big Lab Inc.", 300, "2026-03-01", Some("2026-04-01"), "priority")),
            ],
        };
        let b = ProviderMarket {
            provider: "b".into(),
            capacity: vec![(date("2026-03-05"), 400)],
            deals: vec![
                (Some(3), deal("MISTRAL AI SAS", 200, "2026-02-15", None, "priority")),
                (Some(4), deal("Small", 200, "2026-03-01", None, "right_of_first_refusal")),
            ],
        };
        let market = market(&[a, b]);
        let months: Vec<NaiveDate> = market.months.iter().map(|m| m.month).collect();
        assert_eq!(months, [date("2026-01-01"), date("2026-02-01"), date("2026-03-01")]);
        assert_eq!(market.months.iter().map(|m| m.capacity).collect::<Vec<_>>(), [500, 600, 1_000]);
        let mistral = market.buyer("mistral-ai").expect("mistral");
        assert_eq!(
            mistral.aliases.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            ["MISTRAL AI SAS", "Mistral AI"]
        );
        // February: b has filed nothing yet, so its deal does not count.
        assert_eq!(mistral.holdings.iter().map(|h| h.accelerators).collect::<Vec<_>>(), [300, 300, 500]);
        assert_eq!(mistral.holdings[1].share, Some(0.5));
        let march = &market.months[2];
        assert_eq!(march.buyers, 3);
        assert!((march.hhi.expect("hhi") - 3_800.0).abs() < 1e-9);
        assert_eq!(march.by_exclusivity, [300, 500, 200]);
        assert_eq!(march.deals_by_exclusivity, [1, 2, 1]);
        assert_eq!(market.buyers[0].key.slug, "mistral-ai", "largest holding first");
        assert_eq!(market.buyers[0].name, "Mistral AI", "one deal each: the shorter spelling");
        // January: one buyer with 300 of 500: 60 % → 3,600.
        assert!((market.months[0].hhi.expect("hhi") - 3_600.0).abs() < 1e-9);
    }

    #[test]
    fn a_deal_ends_the_day_before_its_end_date_and_no_capacity_means_no_months() {
        let p = ProviderMarket {
            provider: "a".into(),
            capacity: vec![(date("2026-01-01"), 100)],
            deals: vec![(None, deal("X", 10, "2026-01-01", Some("2026-02-28"), "exclusive"))],
        };
        let m = market(std::slice::from_ref(&p));
        assert_eq!(m.buyers[0].holdings.iter().map(|h| h.accelerators).collect::<Vec<_>>(), [10]);
        let longer =
            ProviderMarket { capacity: vec![(date("2026-01-01"), 100), (date("2026-03-01"), 100)], ..p.clone() };
        let m = market(&[longer]);
        assert_eq!(m.buyers[0].holdings.iter().map(|h| h.accelerators).collect::<Vec<_>>(), [10, 0, 0]);
        assert_eq!(m.months[1].hhi, Some(0.0));
        assert!(market(&[ProviderMarket { capacity: vec![], ..p }]).months.is_empty());
    }
}
