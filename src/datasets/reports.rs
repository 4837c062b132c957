//! The `reports` and `report_answers` datasets: third-party reports about providers and the
//! providers' answers, one row per entry, read from the ledger entries (in PostgreSQL or held
//! in memory) by the same functions. A report or answer that no longer decodes is left out.
//! Whether a report is hidden (its reporter distrusted) is the operator's decision, not in
//! the ledger: `gatelog verify figures` could not recompute it from the tiles, so it is
//! not a column (the pages show it).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::cell::Cell;
use super::schema::UNANSWERED;
use crate::records::reports::{ANSWER, Answer, REPORT, Report};

/// What the datasets read of one report or answer entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ThirdPartyEntry {
    /// Entry index.
    pub index: u64,
    /// The entry's filer: the reporter of a report, the provider of an answer.
    pub filer: String,
    /// `report` or `answer`.
    pub kind: String,
    /// When the ledger accepted it.
    pub received_at: DateTime<Utc>,
    /// The entry it amends.
    pub supersedes: Option<u64>,
    /// The entry's record.
    pub record: Value,
}

fn text_or_null(value: Option<&str>) -> Cell {
    value.map_or(Cell::Null, |v| Cell::Text(v.to_owned()))
}

fn json_cell(map: &serde_json::Map<String, Value>) -> Cell {
    if map.is_empty() { Cell::Null } else { Cell::Text(Value::Object(map.clone()).to_string()) }
}

/// One row per readable report, in log order, with its latest answer among `entries` and,
/// if unanswered, the whole days from its acceptance to `as_of` (the checkpoint's time).
pub fn report_rows(entries: &[ThirdPartyEntry], as_of: DateTime<Utc>) -> Vec<Vec<Cell>> {
    let mut latest_answer: HashMap<u64, (u64, &'static str)> = HashMap::new();
    for entry in entries.iter().filter(|e| e.kind == ANSWER) {
        if let Ok(answer) = Answer::from_entry(entry.record.clone()) {
            latest_answer.insert(answer.report, (entry.index, answer.response.as_str()));
        }
    }
    entries
        .iter()
        .filter(|e| e.kind == REPORT)
        .filter_map(|e| Report::from_entry(e.record.clone()).ok().map(|r| (e, r)))
        .map(|(e, report)| {
            let answer = latest_answer.get(&e.index);
            let days = answer.is_none().then(|| (as_of - e.received_at).num_days().max(0));
            vec![
                Cell::Int(e.index as i64),
                Cell::Text(e.filer.clone()),
                Cell::Text(report.about.as_str().to_owned()),
                Cell::Text(report.reported_kind.as_str().to_owned()),
                Cell::Date(report.published_date),
                Cell::DateTime(e.received_at),
                text_or_null(report.sources.first().map(String::as_str)),
                Cell::Int(report.sources.len() as i64),
                Cell::Text(report.sources.join(" ")),
                Cell::Text(report.quotation.clone()),
                json_cell(&report.fields),
                e.supersedes.map_or(Cell::Null, |s| Cell::Int(s as i64)),
                Cell::Text(answer.map_or(UNANSWERED, |(_, response)| response).to_owned()),
                answer.map_or(Cell::Null, |(index, _)| Cell::Int(*index as i64)),
                days.map_or(Cell::Null, Cell::Int),
            ]
        })
        .collect()
}

/// One row per readable answer, in log order.
pub fn answer_rows(entries: &[ThirdPartyEntry]) -> Vec<Vec<Cell>> {
    entries
        .iter()
        .filter(|e| e.kind == ANSWER)
        .filter_map(|e| Answer::from_entry(e.record.clone()).ok().map(|a| (e, a)))
        .map(|(e, answer)| {
            vec![
                Cell::Int(e.index as i64),
                Cell::Int(answer.report as i64),
                Cell::Text(e.filer.clone()),
                Cell::DateTime(e.received_at),
                Cell::Text(answer.response.as_str().to_owned()),
                answer.disclosure_entry.map_or(Cell::Null, |d| Cell::Int(d as i64)),
                text_or_null(answer.statement.as_deref()),
                answer.corrections.as_ref().map_or(Cell::Null, json_cell),
            ]
        })
        .collect()
}
