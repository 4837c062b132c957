//! Numbers as the pages print them: one function per unit, named for the unit it takes, so a
//! template cannot pass seconds where hours are expected. A missing value is a dash ([`MISSING`]).

use std::borrow::Borrow;

/// What a page shows where a figure is missing.
pub const MISSING: &str = "—";

/// A number however many references deep the template holds it.
pub trait Number {
    /// The value as a float.
    fn value(&self) -> f64;
}

impl Number for f64 {
    fn value(&self) -> f64 {
        *self
    }
}

impl Number for u64 {
    fn value(&self) -> f64 {
        *self as f64
    }
}

impl<T: Number + ?Sized> Number for &T {
    fn value(&self) -> f64 {
        (**self).value()
    }
}

const SECONDS_PER_HOUR: f64 = 3600.0;

/// Seconds shown as hours with `decimals` decimals and no unit (the column header or the text
/// after it names the unit): `hours_from_seconds(5400.0, 1)` is "1.5".
pub fn hours_from_seconds(seconds: impl Number, decimals: usize) -> String {
    hours(seconds.value() / SECONDS_PER_HOUR, decimals)
}

/// Hours with `decimals` decimals and no unit: `hours(1.25, 1)` is "1.2".
pub fn hours(hours: impl Number, decimals: usize) -> String {
    format!("{:.decimals$}", hours.value())
}

/// Hours with one decimal and their unit ("1.5 h"), or a dash.
pub fn hours_with_unit_or_dash(hours: impl Borrow<Option<f64>>) -> String {
    hours.borrow().map_or_else(|| MISSING.to_owned(), |h| format!("{} h", self::hours(h, 1)))
}

/// A wait given in whole seconds, in words: "14.2 h", or two decimals under an hour ("0.25 h")
/// so a short wait does not read as zero.
pub fn wait_from_seconds(seconds: u64) -> String {
    let hours = seconds as f64 / SECONDS_PER_HOUR;
    format!("{} h", self::hours(hours, if hours >= 1.0 { 1 } else { 2 }))
}

/// A share given as a fraction (0..=1, more when something outgrows its whole) as a
/// percentage with one decimal: `percent_from_share(0.125)` is "12.5 %".
pub fn percent_from_share(share: impl Number) -> String {
    percent(share.value() * 100.0)
}

/// [`percent_from_share`], or a dash when there is no share.
pub fn percent_from_share_or_dash(share: impl Borrow<Option<f64>>) -> String {
    share.borrow().map_or_else(|| MISSING.to_owned(), percent_from_share)
}

/// A value already in percent, with one decimal: `percent(12.5)` is "12.5 %".
pub fn percent(percent: impl Number) -> String {
    format!("{:.1} %", percent.value())
}

/// `part` of `whole` as a percentage with one decimal, or `None` when the whole is zero.
pub fn percent_of(part: u64, whole: u64) -> Option<String> {
    (whole > 0).then(|| percent(part as f64 * 100.0 / whole as f64))
}

/// Grade points (a score out of 100, or a component's share of it) with one decimal: "73.4".
pub fn points(points: impl Number) -> String {
    format!("{:.1}", points.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_from_seconds_divides_by_3600_and_rounds_to_the_decimals_asked() {
        assert_eq!(hours_from_seconds(0.0, 1), "0.0");
        assert_eq!(hours_from_seconds(5400.0, 1), "1.5");
        assert_eq!(hours_from_seconds(51_120.0, 1), "14.2");
        assert_eq!(hours_from_seconds(900.0, 2), "0.25");
        let held: &&f64 = &&1800.0;
        assert_eq!(hours_from_seconds(held, 1), "0.5", "through references, as templates hold it");
        assert_eq!(hours_from_seconds(90_u64, 2), "0.03");
        assert_eq!(hours_from_seconds(3.6e12, 1), "1000000000.0", "no thousands separators, no exponent");
        assert_eq!(hours_from_seconds(f64::NAN, 1), "NaN");
    }

    #[test]
    fn hours_take_hours_not_seconds() {
        assert_eq!(hours(0.0, 1), "0.0");
        assert_eq!(hours(14.2, 1), "14.2");
        assert_eq!(hours(3600.0, 1), "3600.0");
        assert_eq!(hours(0.333, 2), "0.33");
        assert_eq!(hours(1e9, 1), "1000000000.0");
    }

    #[test]
    fn hours_with_unit_or_dash_names_the_unit_or_shows_a_dash() {
        assert_eq!(hours_with_unit_or_dash(Some(2.0)), "2.0 h");
        assert_eq!(hours_with_unit_or_dash(Some(0.04)), "0.0 h");
        assert_eq!(hours_with_unit_or_dash(None), "—");
    }

    #[test]
    fn a_wait_under_an_hour_keeps_two_decimals() {
        assert_eq!(wait_from_seconds(0), "0.00 h");
        assert_eq!(wait_from_seconds(900), "0.25 h");
        assert_eq!(wait_from_seconds(3599), "1.00 h");
        assert_eq!(wait_from_seconds(3600), "1.0 h");
        assert_eq!(wait_from_seconds(51_120), "14.2 h");
        assert_eq!(wait_from_seconds(u64::MAX), "5124095576030431.0 h");
    }

    #[test]
    fn shares_are_fractions_and_percents_are_already_multiplied() {
        assert_eq!(percent_from_share(0.0), "0.0 %");
        assert_eq!(percent_from_share(0.125), "12.5 %");
        assert_eq!(percent_from_share(1.5), "150.0 %", "a deal outgrowing its capacity is shown as it is");
        let held: &f64 = &0.5;
        assert_eq!(percent_from_share(held), "50.0 %");
        assert_eq!(percent(12.5), "12.5 %");
        assert_eq!(percent(0.04), "0.0 %");
        assert_eq!(percent(f64::NAN), "NaN %");
        assert_eq!(percent_from_share_or_dash(Some(0.25)), "25.0 %");
        assert_eq!(percent_from_share_or_dash(None), "—");
    }

    #[test]
    fn points_keep_one_decimal() {
        assert_eq!(points(0.0), "0.0");
        assert_eq!(points(73.44), "73.4");
        assert_eq!(points(100.0), "100.0");
        let held: &&f64 = &&12.0;
        assert_eq!(points(held), "12.0");
    }

    #[test]
    fn percent_of_a_zero_whole_is_none() {
        assert_eq!(percent_of(1, 3).as_deref(), Some("33.3 %"));
        assert_eq!(percent_of(0, 4).as_deref(), Some("0.0 %"));
        assert_eq!(percent_of(3, 2).as_deref(), Some("150.0 %"));
        assert_eq!(percent_of(0, 0), None);
        assert_eq!(percent_of(u64::MAX, u64::MAX).as_deref(), Some("100.0 %"));
    }
}
