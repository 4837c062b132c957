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

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

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

/// One provider's part of the market: its capacity filings and its deals, summed per
/// buyer and start month ([`BuyerMonth`]).
#[derive(Debug, Clone, Default)]
pub struct ProviderMarket {
    /// Provider slug.
    pub provider: String,
    /// Total accelerators per capacity filing date (several filings on one date summed).
    pub capacity: Vec<(NaiveDate, u64)>,
    /// Its deals, summed per buyer and start month (any order).
    pub buyers: Vec<BuyerMonth>,
}

impl ProviderMarket {
    /// A provider's part from its deals themselves (grouped as the projection groups them).
    pub fn of_deals<'a>(
        provider: &str,
        capacity: Vec<(NaiveDate, u64)>,
        deals: impl IntoIterator<Item = &'a Lockup>,
    ) -> Self {
        let mut by_month: BTreeMap<NaiveDate, Vec<&Lockup>> = BTreeMap::new();
        for deal in deals {
            by_month.entry(first_day(deal.start_date)).or_default().push(deal);
        }
        let buyers = by_month.into_values().flat_map(buyer_months).collect();
        Self { provider: provider.to_owned(), capacity, buyers }
    }
}

/// What the market needs of one buyer's deals at one provider that start in one month:
/// the names they were filed under and their accelerators and count per exclusivity and
/// end month, summed. The projection keeps one per provider, start month and buyer
/// (`projection_buyers`), recomputed with the month's lock-up bucket, so the market is
/// read as a few rows per provider and month whatever the number of deals, and a new
/// deal changes one row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerMonth {
    /// The month the deals start in (first day).
    pub month: NaiveDate,
    /// The buyer's normalised name ([`BuyerKey::key`]).
    pub key: String,
    /// Names filed (trimmed), each with how many deals used it; by name.
    pub aliases: Vec<(String, u64)>,
    pub deals: u64,
    /// (exclusivity, first month no longer in force or none, accelerators, deals), summed;
    /// in force on the last day of every month from [`Self::month`] until that month.
    pub runs: Vec<(String, Option<NaiveDate>, u64, u64)>,
}

/// The deals of one provider that start in one month (any order), summed per buyer, by key.
pub fn buyer_months<'a>(deals: impl IntoIterator<Item = &'a Lockup>) -> Vec<BuyerMonth> {
    type Runs = BTreeMap<(&'static str, Option<NaiveDate>), (u64, u64)>;
    let mut buyers: BTreeMap<String, (NaiveDate, BTreeMap<String, u64>, u64, Runs)> = BTreeMap::new();
    for deal in deals {
        let month = first_day(deal.start_date);
        let held = buyers
            .entry(normalise(&deal.counterparty).key)
            .or_insert_with(|| (month, Default::default(), 0, Runs::new()));
        held.0 = held.0.min(month);
        *held.1.entry(deal.counterparty.trim().to_owned()).or_default() += 1;
        held.2 += 1;
        // A deal is in force on a month's last day `d` when start ≤ d < end: from its start's
        // month up to, not including, its end's month.
        let run = held.3.entry((deal.exclusivity.as_str(), deal.end_date.map(first_day))).or_default();
        run.0 = add(run.0, deal.accelerators);
        run.1 += 1;
    }
    buyers
        .into_iter()
        .map(|(key, (month, aliases, deals, runs))| BuyerMonth {
            month,
            key,
            aliases: aliases.into_iter().collect(),
            deals,
            runs: runs
                .into_iter()
                .map(|((exclusivity, until), (accelerators, n))| (exclusivity.to_owned(), until, accelerators, n))
                .collect(),
        })
        .collect()
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
    /// Its deals, in force and past.
    pub deals: u64,
    /// Providers it has deals with, distinct, alphabetically.
    pub providers: Vec<String>,
    /// One holding per month of [`Market::months`].
    pub holdings: Vec<Holding>,
}

impl Buyer {
    /// Its holding in the latest month.
    pub fn latest(&self) -> Option<&Holding> {
        self.holdings.last()
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
    pub fn buyer(&self, slug: &str) -> Option<&Buyer> {
        self.buyers.iter().find(|b| b.key.slug == slug)
    }

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

fn exclusivity_position(name: &str) -> usize {
    Exclusivity::OPTIONS.iter().position(|(n, _)| *n == name).unwrap_or(0)
}

/// A total from signed monthly changes, as [`add`] would have summed it.
fn total(sum: i128) -> u64 {
    u64::try_from(sum.max(0)).unwrap_or(u64::MAX)
}

/// Computes the market from each provider's capacity filings and buyer totals (any order).
///
/// The work is the buyer totals plus buyers × months: each run of deals adds its
/// accelerators at the first month it counts in and takes them back at its end's month,
/// and every month is the running sum of those changes.
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
        .chain(providers.iter().flat_map(|p| p.buyers.iter().map(|b| b.month)))
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
    let position = |month: NaiveDate| months.partition_point(|m| *m < month);

    let kinds = Exclusivity::OPTIONS.len();
    let mut market_months = Vec::with_capacity(months.len());
    for month in &months {
        let on = last_day(*month);
        let (mut capacity, mut present) = (0, 0);
        for (_, f) in &filings {
            let filed = f.partition_point(|(date, _)| *date <= on);
            if filed > 0 {
                capacity = add(capacity, f[filed - 1].1);
                present += 1;
            }
        }
        market_months.push(MarketMonth {
            month: *month,
            on,
            capacity,
            providers: present,
            by_exclusivity: vec![0; kinds],
            deals_by_exclusivity: vec![0; kinds],
            buyers: 0,
            hhi: None,
        });
    }

    // Per buyer: aliases, deals, providers, and the changes of its accelerators month by
    // month; per exclusivity, the market's. A deal counts from the later of its start's
    // month and the first month its provider is in the denominator (a provider that has
    // filed capacity stays in it).
    struct Sums {
        aliases: BTreeMap<String, (u64, BTreeSet<String>)>,
        deals: u64,
        providers: BTreeSet<String>,
        changes: Vec<i128>,
    }
    let n = months.len();
    let mut groups: BTreeMap<String, Sums> = BTreeMap::new();
    let mut by_exclusivity = vec![vec![0_i128; n + 1]; kinds];
    let mut deals_by_exclusivity = vec![vec![0_i128; n + 1]; kinds];
    for (p, (_, f)) in providers.iter().zip(&filings) {
        let present_from = f.first().map(|(date, _)| position(first_day(*date)));
        for b in &p.buyers {
            let sums = groups.entry(b.key.clone()).or_insert_with(|| Sums {
                aliases: BTreeMap::new(),
                deals: 0,
                providers: BTreeSet::new(),
                changes: vec![0; n + 1],
            });
            for (name, count) in &b.aliases {
                let alias = sums.aliases.entry(name.clone()).or_default();
                alias.0 += count;
                alias.1.insert(p.provider.clone());
            }
            sums.deals += b.deals;
            sums.providers.insert(p.provider.clone());
            let Some(present_from) = present_from else { continue };
            let from = position(b.month).max(present_from);
            for (exclusivity, until, accelerators, count) in &b.runs {
                let until = until.map_or(n, position);
                if from >= until.min(n) {
                    continue;
                }
                let kind = exclusivity_position(exclusivity);
                for (changes, amount) in [
                    (&mut sums.changes, *accelerators),
                    (&mut by_exclusivity[kind], *accelerators),
                    (&mut deals_by_exclusivity[kind], *count),
                ] {
                    changes[from] += i128::from(amount);
                    changes[until.min(n)] -= i128::from(amount);
                }
            }
        }
    }
    for (kind, changes) in by_exclusivity.iter().zip(&deals_by_exclusivity).enumerate() {
        let (mut accelerators, mut deals) = (0_i128, 0_i128);
        for (m, (a, d)) in market_months.iter_mut().zip(changes.0.iter().zip(changes.1)) {
            accelerators += a;
            deals += d;
            m.by_exclusivity[kind] = total(accelerators);
            m.deals_by_exclusivity[kind] = total(deals);
        }
    }

    let mut buyers: Vec<Buyer> = groups
        .into_iter()
        .map(|(key, sums)| {
            let name = sums
                .aliases
                .iter()
                .max_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| b.0.len().cmp(&a.0.len())).then_with(|| b.0.cmp(a.0)))
                .map(|(name, _)| name.clone())
                .unwrap_or_else(|| key.clone());
            let aliases = sums
                .aliases
                .into_iter()
                .map(|(name, (_, providers))| Alias { name, providers: providers.into_iter().collect() })
                .collect();
            let mut running = 0_i128;
            let holdings = market_months
                .iter()
                .zip(&sums.changes)
                .map(|(m, change)| {
                    running += change;
                    let accelerators = total(running);
                    let share = (m.capacity > 0).then(|| accelerators as f64 / m.capacity as f64);
                    Holding { month: m.month, accelerators, share }
                })
                .collect();
            Buyer {
                key: normalise(&key),
                name,
                aliases,
                deals: sums.deals,
                providers: sums.providers.into_iter().collect(),
                holdings,
            }
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
        let a = ProviderMarket::of_deals(
            "a",
            vec![(date("2026-01-10"), 500), (date("2026-02-01"), 400), (date("2026-02-01"), 200)],
            &[
                deal("Mistral AI", 300, "2026-01-01", None, "exclusive"),
                deal("Big Lab Inc.", 300, "2026-03-01", Some("2026-04-01"), "priority"),
            ],
        );
        let b = ProviderMarket::of_deals(
            "b",
            vec![(date("2026-03-05"), 400)],
            &[
                deal("MISTRAL AI SAS", 200, "2026-02-15", None, "priority"),
                deal("Small", 200, "2026-03-01", None, "right_of_first_refusal"),
            ],
        );
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
        assert_eq!((market.buyers[0].deals, market.buyers[0].providers.clone()), (2, vec!["a".into(), "b".into()]));
        // January: one buyer with 300 of 500: 60 % → 3,600.
        assert!((market.months[0].hhi.expect("hhi") - 3_600.0).abs() < 1e-9);
    }

    #[test]
    fn a_deal_ends_the_day_before_its_end_date_and_no_capacity_means_no_months() {
        let x = [deal("X", 10, "2026-01-01", Some("2026-02-28"), "exclusive")];
        let p = ProviderMarket::of_deals("a", vec![(date("2026-01-01"), 100)], &x);
        let m = market(std::slice::from_ref(&p));
        assert_eq!(m.buyers[0].holdings.iter().map(|h| h.accelerators).collect::<Vec<_>>(), [10]);
        let longer =
            ProviderMarket { capacity: vec![(date("2026-01-01"), 100), (date("2026-03-01"), 100)], ..p.clone() };
        let m = market(&[longer]);
        assert_eq!(m.buyers[0].holdings.iter().map(|h| h.accelerators).collect::<Vec<_>>(), [10, 0, 0]);
        assert_eq!(m.months[1].hhi, Some(0.0));
        assert!(market(&[ProviderMarket { capacity: vec![], ..p }]).months.is_empty());
    }

    /// The market from per-month buyer totals is the market from the deals themselves, in
    /// force day by day: a deal on the last day of every month from its start's month to
    /// its end's, only once its provider has filed capacity. Checked against a direct count.
    #[test]
    fn buyer_totals_give_what_counting_each_deal_on_each_month_end_gives() {
        let names = ["Mistral AI", "MISTRAL AI SAS", "Big Lab", "Small Co", "Other"];
        let exclusivities = ["exclusive", "priority", "right_of_first_refusal"];
        let day = |i: u64| date("2024-01-01") + chrono::Days::new(i);
        let mut providers = Vec::new();
        let mut all: Vec<(String, Lockup)> = Vec::new();
        for p in 0..4_u64 {
            let deals: Vec<Lockup> = (0..40_u64)
                .map(|i| {
                    let h = (p * 7919 + i * 104_729) % 1_000;
                    let start = day(h % 700);
                    let end = (h % 3 != 0).then(|| (start + chrono::Days::new(1 + h % 200)).to_string());
                    deal(
                        names[(h % 5) as usize],
                        1 + h % 50,
                        &start.to_string(),
                        end.as_deref(),
                        exclusivities[(h % 3) as usize],
                    )
                })
                .collect();
            all.extend(deals.iter().map(|d| (p.to_string(), d.clone())));
            let capacity = vec![(day(100 * p + 30), 1_000 + p), (day(500), 2_000)];
            providers.push(ProviderMarket::of_deals(&p.to_string(), capacity, &deals));
        }
        let m = market(&providers);
        assert!(m.months.len() > 20);
        for (i, month) in m.months.iter().enumerate() {
            let present =
                |p: &str| providers.iter().any(|x| x.provider == p && x.capacity.iter().any(|(d, _)| *d <= month.on));
            let in_force: Vec<&(String, Lockup)> = all
                .iter()
                .filter(|(p, d)| present(p) && d.start_date <= month.on && d.end_date.is_none_or(|e| month.on < e))
                .collect();
            for (k, (name, _)) in Exclusivity::OPTIONS.iter().enumerate() {
                let of_kind = in_force.iter().filter(|(_, d)| d.exclusivity.as_str() == *name);
                assert_eq!(month.deals_by_exclusivity[k], of_kind.clone().count() as u64, "{month:?}");
                assert_eq!(month.by_exclusivity[k], of_kind.map(|(_, d)| d.accelerators).sum::<u64>(), "{month:?}");
            }
            for buyer in &m.buyers {
                let held: u64 = in_force
                    .iter()
                    .filter(|(_, d)| normalise(&d.counterparty) == buyer.key)
                    .map(|(_, d)| d.accelerators)
                    .sum();
                assert_eq!(buyer.holdings[i].accelerators, held, "{} in {}", buyer.name, month.month);
            }
        }
        let mistral = m.buyer("mistral-ai").expect("mistral");
        let deals = all.iter().filter(|(_, d)| normalise(&d.counterparty).slug == "mistral-ai").count();
        assert_eq!(mistral.deals, deals as u64);
    }
}
