//! The query parameters of an export, checked: the dashboards' filter
//! (resource, region, from, to) plus provider and kind, the amendment chain
//! switch and the Excel byte-order mark. A bad value is refused naming the
//! parameter, never ignored (a regulator must get exactly what was asked).

use chrono::NaiveDate;
use serde::Deserialize;

use super::{Dataset, Source};
use crate::analytics::Filter;
use crate::projection::bucket::date_of;
use crate::records::{Record, RecordKind, Slug};

/// The query string of an export, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ExportQuery {
    /// Provider slug.
    pub provider: Option<String>,
    /// Resource slug.
    pub resource: Option<String>,
    /// Region slug.
    pub region: Option<String>,
    /// Record kind (entries only).
    pub kind: Option<String>,
    /// First date (YYYY-MM-DD), inclusive.
    pub from: Option<String>,
    /// Last date (YYYY-MM-DD), inclusive.
    pub to: Option<String>,
    /// `true` to include every version with the amendment chain.
    pub include_superseded: Option<String>,
    /// `1` to start a CSV with a UTF-8 byte-order mark (for Excel).
    pub bom: Option<String>,
}

/// A checked export request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportFilter {
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this kind (entries).
    pub kind: Option<RecordKind>,
    /// Resource, region and date range.
    pub place_and_time: Filter,
    /// Every version, not only the latest.
    pub include_superseded: bool,
    /// Byte-order mark before a CSV.
    pub bom: bool,
}

/// A refused parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter {parameter}: {reason}")]
pub struct FilterError {
    /// Which parameter.
    pub parameter: &'static str,
    pub reason: String,
}

fn nonempty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn slug(parameter: &'static str, value: &Option<String>) -> Result<Option<String>, FilterError> {
    nonempty(value)
        .map(|v| {
            Slug::parse(v).map(|s| s.to_string()).map_err(|e| FilterError { parameter, reason: format!("{v:?}: {e}") })
        })
        .transpose()
}

fn date(parameter: &'static str, value: &Option<String>) -> Result<Option<NaiveDate>, FilterError> {
    nonempty(value)
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| FilterError { parameter, reason: format!("{v:?} is not a date written YYYY-MM-DD") })
        })
        .transpose()
}

fn flag(parameter: &'static str, value: &Option<String>, yes: &[&str], no: &[&str]) -> Result<bool, FilterError> {
    match nonempty(value) {
        None => Ok(false),
        Some(v) if yes.contains(&v) => Ok(true),
        Some(v) if no.contains(&v) => Ok(false),
        Some(v) => Err(FilterError { parameter, reason: format!("{v:?}: use {} or {}", yes[0], no[0]) }),
    }
}

impl ExportFilter {
    /// Checks `query` for `dataset`: every parameter well formed and meaningful for it.
    pub fn parse(query: &ExportQuery, dataset: &Dataset) -> Result<Self, FilterError> {
        let not_for = |parameter: &'static str, what: &str| FilterError {
            parameter,
            reason: format!("the {} dataset has no {what}; leave it out", dataset.name),
        };
        let mut out = Self {
            provider: slug("provider", &query.provider)?,
            include_superseded: flag("include_superseded", &query.include_superseded, &["true", "1"], &["false", "0"])?,
            bom: flag("bom", &query.bom, &["1", "true"], &["0", "false"])?,
            ..Self::default()
        };
        out.place_and_time = Filter {
            resource: slug("resource", &query.resource)?,
            region: slug("region", &query.region)?,
            from: date("from", &query.from)?,
            to: date("to", &query.to)?,
        };
        if let (Some(from), Some(to)) = (out.place_and_time.from, out.place_and_time.to)
            && from > to
        {
            return Err(FilterError { parameter: "from", reason: format!("{from} is after to ({to})") });
        }
        if let Some(kind) = nonempty(&query.kind) {
            if !matches!(dataset.source, Source::Entries | Source::Compliance) {
                return Err(not_for("kind", "kind column (each record dataset is one kind)"));
            }
            let found = RecordKind::OPTIONS.iter().find(|(name, _)| *name == kind).map(|(_, k)| *k);
            let names: Vec<&str> = RecordKind::OPTIONS.iter().map(|(name, _)| *name).collect();
            out.kind = Some(found.ok_or_else(|| FilterError {
                parameter: "kind",
                reason: format!("{kind:?} is not a record kind; use one of {}", names.join(", ")),
            })?);
        }
        // Acceptance is reported per programme, not per resource or region: a place filter
        // would silently return everything, so it is refused instead.
        let per_programme = matches!(
            dataset.source,
            Source::Records(RecordKind::Acceptance) | Source::Derived(super::table::Table::AcceptanceRates)
        );
        if per_programme && out.place_and_time.resource.is_some() {
            return Err(not_for("resource", "resource column (acceptance is reported per programme)"));
        }
        if per_programme && out.place_and_time.region.is_some() {
            return Err(not_for("region", "region column (acceptance is reported per programme)"));
        }
        // Energy names a region and site but no resource, and the projection indexes places
        // as (resource, region) pairs: a place filter is refused rather than answered wrongly.
        if matches!(dataset.source, Source::Records(RecordKind::Energy)) {
            if out.place_and_time.resource.is_some() {
                return Err(not_for("resource", "resource column (energy is reported per site and region)"));
            }
            if out.place_and_time.region.is_some() {
                return Err(not_for("region", "region filter (read the region column of the whole dataset)"));
            }
        }
        match dataset.source {
            Source::Records(_) => {}
            Source::Entries | Source::Compliance | Source::Reports | Source::ReportAnswers => {
                if out.place_and_time.resource.is_some() {
                    return Err(not_for("resource", "resource column"));
                }
                if out.place_and_time.region.is_some() {
                    return Err(not_for("region", "region column"));
                }
            }
            Source::Derived(table) => {
                if table.spans_providers() && out.provider.is_some() {
                    return Err(not_for("provider", "provider filter (it is the market across every provider)"));
                }
                if out.include_superseded {
                    return Err(not_for("include_superseded", "amendment chain (it is computed from latest versions)"));
                }
                if !table.filters_by_place_and_time() && out.place_and_time != Filter::default() {
                    let parameter = if out.place_and_time.resource.is_some() {
                        "resource"
                    } else if out.place_and_time.region.is_some() {
                        "region"
                    } else {
                        "from"
                    };
                    return Err(not_for(parameter, "resource, region or date filter (grades cover every record)"));
                }
            }
        }
        if matches!(dataset.source, Source::Reports | Source::ReportAnswers) {
            let parameter = if out.provider.is_some() {
                Some("provider")
            } else if out.include_superseded {
                Some("include_superseded")
            } else if out.place_and_time.from.is_some() || out.place_and_time.to.is_some() {
                Some("from")
            } else {
                None
            };
            if let Some(parameter) = parameter {
                return Err(not_for(parameter, "filters (it is small: read it whole)"));
            }
        }
        if out.include_superseded && matches!(dataset.source, Source::Entries | Source::Compliance) {
            return Err(not_for("include_superseded", "latest-version view (it holds every entry already)"));
        }
        Ok(out)
    }
}

/// Whether `place` keeps `record`: about the resource and region asked for (acceptance is
/// reported per programme and names neither, so only dates narrow it), dated within
/// `from..=to` by the date buckets and dashboards go by ([`date_of`]). The narrowing of
/// [`crate::analytics::Disclosures::filtered`], one record at a time: record datasets and
/// filtered derived tables both keep exactly these records.
pub fn keeps(place: &Filter, record: &Record) -> bool {
    let located = match record {
        Record::QueueTime(r) => Some((r.resource.as_str(), r.region.as_str())),
        Record::Price(r) => Some((r.resource.as_str(), r.region.as_str())),
        Record::Lockup(r) => Some((r.resource.as_str(), r.region.as_str())),
        Record::Capacity(r) => Some((r.resource.as_str(), r.region.as_str())),
        // Energy is per site and region, never per resource: like acceptance, only dates narrow it.
        Record::Acceptance(_) | Record::Energy(_) => None,
    };
    if let Some((resource, region)) = located
        && (place.resource.as_deref().is_some_and(|wanted| wanted != resource)
            || place.region.as_deref().is_some_and(|wanted| wanted != region))
    {
        return false;
    }
    let date = date_of(record);
    place.from.is_none_or(|from| date >= from) && place.to.is_none_or(|to| date <= to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::find;

    fn query(pairs: &[(&str, &str)]) -> ExportQuery {
        let text = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        serde_urlencoded::from_str(&text).expect("query")
    }

    #[test]
    fn good_filters_parse() {
        let prices = find("prices").expect("dataset");
        let filter = ExportFilter::parse(
            &query(&[
                ("provider", "corvid-gpu"),
                ("region", "eu-de"),
                ("from", "2026-01-01"),
                ("include_superseded", "true"),
                ("bom", "1"),
            ]),
            &prices,
        )
        .expect("valid");
        assert_eq!(filter.provider.as_deref(), Some("corvid-gpu"));
        assert_eq!(filter.place_and_time.region.as_deref(), Some("eu-de"));
        assert!(filter.include_superseded && filter.bom);
        let entries = find("entries").expect("dataset");
        assert_eq!(
            ExportFilter::parse(&query(&[("kind", "price")]), &entries).expect("valid").kind,
            Some(RecordKind::Price)
        );
    }

    #[test]
    fn bad_filters_name_the_parameter() {
        let prices = find("prices").expect("dataset");
        let entries = find("entries").expect("dataset");
        let grades = find("grades").expect("dataset");
        for (dataset, pairs, parameter) in [
            (&prices, vec![("from", "2024-13-01")], "from"),
            (&prices, vec![("from", "2026-02-01"), ("to", "2026-01-01")], "from"),
            (&prices, vec![("provider", "Not A Slug!")], "provider"),
            (&prices, vec![("include_superseded", "maybe")], "include_superseded"),
            (&prices, vec![("kind", "price")], "kind"),
            (&entries, vec![("kind", "gossip")], "kind"),
            (&entries, vec![("resource", "nvidia-b200")], "resource"),
            (&grades, vec![("region", "eu-de")], "region"),
            (&grades, vec![("include_superseded", "true")], "include_superseded"),
            (&find("acceptance").expect("dataset"), vec![("region", "eu-de")], "region"),
        ] {
            let error = ExportFilter::parse(&query(&pairs), dataset).expect_err("refused");
            assert_eq!(error.parameter, parameter, "{pairs:?}: {error}");
            assert!(error.to_string().contains(parameter));
        }
    }
}
