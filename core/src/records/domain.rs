//! The value domain of every reported field: the range of each whole number, the
//! range and precision of each decimal, the dates a record may name, and which
//! characters free text may hold. The record parser enforces these once, at the
//! edge; the data dictionary, `datapackage.json` and the OpenAPI schema print the
//! same constants, so what is documented is what is enforced.
//!
//! Why the bounds are where they are:
//! - Every whole number must survive the trip through every consumer of the
//!   datasets exactly. JSON readers that use IEEE doubles (JavaScript, jq, DuckDB's
//!   JSON reader) are exact up to 2^53 − 1, and a spreadsheet keeps 15 significant
//!   digits, so no count may exceed 10^15 − 1, and each is tighter where its meaning
//!   allows. RFC 8785, which the ledger hashes, writes numbers as doubles too: a
//!   larger integer would be stored as a different number than the one filed.
//! - Decimals must fit Parquet's decimal(38, 12), the type our Parquet exports use:
//!   at most 12 digits after the point, and far fewer than 26 before it.
//! - Dates: records are about the era of shared accelerators; a year 1 or year
//!   9999 date is a typo, and spreadsheets cannot show dates before 1900.

use std::ops::RangeInclusive;

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Largest whole number any field may hold: 15 digits, exact in a spreadsheet and in a double.
pub const MAX_SAFE_COUNT: u64 = 999_999_999_999_999;

/// A whole-number field's allowed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Smallest value.
    pub min: u64,
    /// Largest value.
    pub max: u64,
}

/// Jobs started in one period (a busy high-throughput cluster starts about 10^8 a day).
pub const JOBS: Count = Count { min: 1, max: 1_000_000_000_000 };
/// A wait in seconds: up to ten years.
pub const WAIT_SECONDS: Count = Count { min: 0, max: 10 * 366 * 86_400 };
/// Applications in one period, track and category.
pub const APPLICATIONS: Count = Count { min: 0, max: 1_000_000_000 };
/// Accelerator-hours requested or granted in one period.
pub const ACCELERATOR_HOURS: Count = Count { min: 0, max: 10_000_000_000_000 };
/// Accelerators installed or set aside at one provider, resource and region.
pub const ACCELERATORS: Count = Count { min: 0, max: 1_000_000_000 };
/// Accelerators in one lock-up deal.
pub const LOCKED_ACCELERATORS: Count = Count { min: 1, max: 1_000_000_000 };

/// A decimal field's allowed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    /// Smallest value.
    pub min: Decimal,
    /// Largest value.
    pub max: Decimal,
    /// Most digits after the point (trailing zeros do not count: "2.50" is 2.5).
    pub max_places: u32,
}

/// Most digits after the point of any decimal: Parquet's decimal(38, 12).
pub const MAX_DECIMAL_PLACES: u32 = 12;

/// A price or cost per accelerator-hour.
pub const PRICE_PER_HOUR: Amount =
    Amount { min: Decimal::ZERO, max: Decimal::from_parts(1_000_000, 0, 0, false, 0), max_places: MAX_DECIMAL_PLACES };
/// A contract's value: up to 10^15 in its currency.
pub const CONTRACT_VALUE: Amount = Amount {
    min: Decimal::ZERO,
    // 10^15 = 0x38D7E_A4C68000 as a 96-bit mantissa: lo 0xA4C68000, mid 0x38D7E.
    max: Decimal::from_parts(0xA4C6_8000, 0x0003_8D7E, 0, false, 0),
    max_places: MAX_DECIMAL_PLACES,
};
/// A fraction such as utilisation.
pub const FRACTION: Amount = Amount { min: Decimal::ZERO, max: Decimal::ONE, max_places: MAX_DECIMAL_PLACES };

/// Energy used at one site or region in one period, MWh, to the kWh: up to 10 TWh
/// (a whole large country's data centres for a quarter; one 1,000-accelerator site
/// uses about 10^3 MWh a month).
pub const ENERGY_MWH: Amount =
    Amount { min: Decimal::ZERO, max: Decimal::from_parts(10_000_000, 0, 0, false, 0), max_places: 3 };
/// A grid carbon intensity, gCO2e/kWh, to the milligram: the dirtiest grids (lignite,
/// oil) are about 1,200; 2,000 leaves room without letting a kg/kWh typo through.
pub const GRID_INTENSITY: Amount =
    Amount { min: Decimal::ZERO, max: Decimal::from_parts(2_000, 0, 0, false, 0), max_places: 3 };
/// Power usage effectiveness: 1 is the physical floor (all energy reaches the IT load);
/// real facilities run 1.05 to about 2, and above 3 is a unit mistake.
pub const PUE: Amount = Amount { min: Decimal::ONE, max: Decimal::from_parts(3, 0, 0, false, 0), max_places: 3 };

/// Dates a record may name.
pub const DATES: RangeInclusive<NaiveDate> =
    match (NaiveDate::from_ymd_opt(1970, 1, 1), NaiveDate::from_ymd_opt(2099, 12, 31)) {
        (Some(first), Some(last)) => first..=last,
        _ => panic!("valid calendar dates"),
    };

/// Longest decimal text accepted, before it is parsed.
pub const MAX_DECIMAL_TEXT: usize = 40;

/// Whether free text may run over several lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// One line (names): no line breaks.
    One,
    /// Several lines (notes): `\n` allowed, nothing else below U+0020.
    Many,
}

/// Why a character may not appear in free text.
pub fn forbidden_char(c: char, lines: Lines) -> Option<&'static str> {
    if c == '\n' && lines == Lines::Many {
        return None;
    }
    // U+2028 and U+2029 end a line in JavaScript and in some editors, like '\n'.
    if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
        return Some("control characters (tab, carriage return, line breaks and the like)");
    }
    // Invisible format characters let one name pass for another, or reorder what a
    // reader sees (Trojan Source, CVE-2021-42574): bidirectional overrides and
    // isolates, zero-width characters, the byte-order mark and the soft hyphen.
    if matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
    {
        return Some("invisible formatting characters (bidirectional controls, zero-width characters)");
    }
    if ('\u{E000}'..='\u{F8FF}').contains(&c) || c == '\u{FFFD}' {
        return Some("private-use or replacement characters");
    }
    None
}

impl Count {
    /// Why `n` is outside the domain, if it is.
    pub fn check(&self, n: u64) -> Option<String> {
        if n < self.min {
            Some(format!("must be at least {}, got {n}", self.min))
        } else if n > self.max {
            Some(format!("must be at most {}, got {n}", self.max))
        } else {
            None
        }
    }
}

impl Amount {
    /// Why `d` is outside the domain, if it is.
    pub fn check(&self, d: Decimal) -> Option<String> {
        let d = d.normalize();
        if d < self.min {
            Some(if self.min.is_zero() {
                format!("must not be negative, got {d}")
            } else {
                format!("must be at least {}, got {d}", self.min)
            })
        } else if d > self.max {
            Some(format!("must be at most {}, got {d}", self.max))
        } else if d.scale() > self.max_places {
            Some(format!("must have at most {} digits after the point, got {}", self.max_places, d.scale()))
        } else {
            None
        }
    }
}

/// Why `date` is outside [`DATES`], if it is.
pub fn check_date(date: NaiveDate) -> Option<String> {
    (!DATES.contains(&date)).then(|| format!("must be between {} and {}, got {date}", DATES.start(), DATES.end()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_count_is_exact_in_a_double_and_a_spreadsheet() {
        for domain in [JOBS, WAIT_SECONDS, APPLICATIONS, ACCELERATOR_HOURS, ACCELERATORS, LOCKED_ACCELERATORS] {
            assert!(domain.min <= domain.max);
            assert!(domain.max <= MAX_SAFE_COUNT);
            assert!(domain.max < (1 << 53));
            #[allow(clippy::cast_precision_loss)]
            let back = domain.max as f64 as u64;
            assert_eq!(back, domain.max);
        }
    }

    #[test]
    fn every_amount_fits_parquet_decimal_38_12() {
        assert_eq!(CONTRACT_VALUE.max, Decimal::from(1_000_000_000_000_000_u64));
        assert_eq!(PRICE_PER_HOUR.max, Decimal::from(1_000_000));
        for domain in [PRICE_PER_HOUR, CONTRACT_VALUE, FRACTION, ENERGY_MWH, GRID_INTENSITY, PUE] {
            // Integer digits + places must fit 38, and rust_decimal's 28 significant digits.
            let integer_digits = domain.max.trunc().to_string().len() as u32;
            assert!(integer_digits + domain.max_places <= 28, "{domain:?}");
        }
    }

    #[test]
    fn amounts_say_what_is_wrong() {
        let d = |s: &str| s.parse::<Decimal>().expect("decimal");
        assert_eq!(PRICE_PER_HOUR.check(d("2.490")), None);
        assert_eq!(PRICE_PER_HOUR.check(d("-0")), None, "negative zero is zero");
        assert!(PRICE_PER_HOUR.check(d("-0.01")).expect("negative").contains("negative"));
        assert!(PRICE_PER_HOUR.check(d("0.0000000000001")).expect("13 places").contains("12 digits"));
        assert_eq!(PRICE_PER_HOUR.check(d("0.0000000000010")), None, "trailing zeros do not count");
        assert!(FRACTION.check(d("1.000000000001")).expect("over 1").contains("at most 1"));
    }

    #[test]
    fn text_refuses_what_hides_or_breaks_lines() {
        assert!(forbidden_char('\n', Lines::One).is_some());
        assert!(forbidden_char('\n', Lines::Many).is_none());
        for c in [
            '\r', '\t', '\u{0}', '\u{7f}', '\u{85}', '\u{2028}', '\u{202E}', '\u{200B}', '\u{FEFF}', '\u{2066}',
            '\u{E000}',
        ] {
            assert!(forbidden_char(c, Lines::Many).is_some(), "{c:?}");
        }
        for c in ['a', 'é', 'ß', 'Ж', '漢', '€', ' ', '=', '😀'] {
            assert!(forbidden_char(c, Lines::One).is_none(), "{c:?}");
        }
    }

    #[test]
    fn energy_domains_hold_real_sites_and_refuse_unit_mistakes() {
        let d = |s: &str| s.parse::<Decimal>().expect("decimal");
        assert_eq!(ENERGY_MWH.check(d("812.345")), None);
        assert!(ENERGY_MWH.check(d("812.3456")).expect("Wh precision").contains("3 digits"));
        assert_eq!(GRID_INTENSITY.check(d("1200")), None, "a lignite grid");
        assert!(GRID_INTENSITY.check(d("350000")).expect("mg/kWh typo").contains("at most 2000"));
        assert!(PUE.check(d("0.95")).expect("below the floor").contains("at least 1"));
        assert_eq!(PUE.check(d("1")), None);
    }

    proptest! {
        #[test]
        fn an_amount_is_in_its_domain_exactly_when_check_is_silent(units in any::<i64>(), places in 0_u32..6) {
            let d = Decimal::new(units, places);
            for domain in [ENERGY_MWH, GRID_INTENSITY, PUE, FRACTION] {
                let within = d.normalize() >= domain.min && d.normalize() <= domain.max && d.normalize().scale() <= domain.max_places;
                prop_assert_eq!(domain.check(d).is_none(), within, "{} in {:?}", d, domain);
            }
        }

        #[test]
        fn a_count_is_in_its_domain_exactly_when_check_is_silent(n in any::<u64>()) {
            for domain in [JOBS, WAIT_SECONDS, APPLICATIONS] {
                prop_assert_eq!(domain.check(n).is_none(), (domain.min..=domain.max).contains(&n));
            }
        }
    }
}
