//! Reports and answers through `POST /api/v1/records` (issue 19).
//!
//! A reporter's token files `report` records only (403 for anything else); a provider's
//! token never files a report (403), and files `answer` records in a batch of their own
//! (answers only to reports about itself). Each batch is validated whole, appended in one
//! transaction with its rows in `reports` / `report_answers`, and answered with receipts
//! like any other batch; resending is a duplicate, a changed report or a new answer to the
//! same report amends the earlier one (`supersedes`). Reports and answers are sent as JSON
//! or NDJSON (not CSV), unsigned, and an `Idempotency-Key` is not remembered for them
//! (a retried batch is classified again: duplicates, nothing written twice).

use std::collections::HashMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::auth::ProviderToken;
use super::records::{MAX_RECORDS, batch_json_of};
use crate::AppState;
use crate::db;
use crate::db::reports::{NewAnswer, NewReport};
use crate::error::{ApiError, AppError, ErrorDetail};
use crate::ingest::formats::{Format, MAX_DETAILS};
use crate::ingest::{Outcome, RecordResult};
use crate::ledger::entry::PendingEntry;
use crate::records::FieldError;
use crate::records::reports::{ANSWER, Answer, REPORT, ReportedKind, Response as AnswerResponse};
use crate::telemetry::BatchRejection;

/// One report or answer and where it was in the body.
#[derive(Debug)]
pub struct Item {
    position: usize,
    kind: &'static str,
    fields: Map<String, Value>,
}

impl Item {
    /// A report or answer (`value` carries its `kind`) outside a request body (the demo files them so).
    pub fn new(position: usize, mut value: Value) -> Option<Self> {
        let kind = match value.get("kind").and_then(Value::as_str) {
            Some(REPORT) => REPORT,
            Some(ANSWER) => ANSWER,
            _ => return None,
        };
        let Value::Object(map) = &mut value else { return None };
        map.remove("kind");
        Some(Self { position, kind, fields: std::mem::take(map) })
    }
}

fn forbidden(state: &AppState, message: String) -> ApiError {
    state.metrics.rejected_batch(BatchRejection::OtherProvider);
    AppError::Forbidden(message).into()
}

fn invalid(state: &AppState, details: Vec<ErrorDetail>) -> ApiError {
    state.metrics.rejected_batch(BatchRejection::Invalid);
    AppError::Unprocessable { message: format!("{} problem(s) found; nothing was written", details.len()), details }
        .into()
}

fn detail(position: usize, field: &str, reason: impl Into<String>) -> ErrorDetail {
    ErrorDetail { index: Some(position), field: Some(field.to_owned()), reason: reason.into() }
}

/// The body's items as JSON objects with where they were, or `None` when the body is not JSON.
fn items_of(format: Format, text: &str) -> Result<Vec<(usize, Value)>, AppError> {
    let malformed = |what: &str, e: serde_json::Error| AppError::BadRequest {
        message: format!("{what} is not valid JSON: {e}"),
        details: Vec::new(),
    };
    match format {
        Format::Json => {
            let value: Value = serde_json::from_str(text).map_err(|e| malformed("the body", e))?;
            Ok(match value {
                Value::Array(items) => items.into_iter().enumerate().collect(),
                single => vec![(0, single)],
            })
        }
        Format::Ndjson => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(number, line)| {
                serde_json::from_str(line).map(|v| (number + 1, v)).map_err(|e| malformed("the line", e))
            })
            .collect(),
        Format::Csv(_) => Ok(Vec::new()),
    }
}

/// The batch's reports or answers, if it is a batch of them: a reporter's batch always is
/// (anything else in it is refused), a provider's batch is when it holds answers (and then
/// must hold nothing else). `None`: an ordinary batch of a provider's own records.
pub fn third_party(
    state: &AppState,
    token: &ProviderToken,
    format: Format,
    bytes: &[u8],
) -> Result<Option<Vec<Item>>, ApiError> {
    let text = std::str::from_utf8(bytes).unwrap_or("");
    if !token.reporter {
        // Most batches are a provider's own records: skip the second parse when no item can be one.
        if matches!(format, Format::Csv(_)) || !(text.contains("\"report\"") || text.contains("\"answer\"")) {
            return Ok(None);
        }
    } else if matches!(format, Format::Csv(_)) {
        return Err(AppError::UnsupportedMediaType("reports are filed as JSON or NDJSON, not CSV".into()).into());
    }
    if std::str::from_utf8(bytes).is_err() {
        // The ordinary path names the bad byte.
        return if token.reporter {
            Err(AppError::BadRequest { message: "the body is not UTF-8".into(), details: Vec::new() }.into())
        } else {
            Ok(None)
        };
    }
    let values = items_of(format, text)?;
    if values.len() > MAX_RECORDS {
        return Err(AppError::TooLarge(format!(
            "a batch holds at most {MAX_RECORDS} records, got {}; split it",
            values.len()
        ))
        .into());
    }
    let kind_of = |value: &Value| value.get("kind").and_then(Value::as_str).map(str::to_owned);
    if !token.reporter {
        if let Some((position, _)) = values.iter().find(|(_, v)| kind_of(v).as_deref() == Some(REPORT)) {
            return Err(forbidden(
                state,
                format!(
                    "the record at position {position} is a report: reports are filed by registered reporters, \
                     not by providers (a provider answers reports about itself with kind answer)"
                ),
            ));
        }
        let answers = values.iter().filter(|(_, v)| kind_of(v).as_deref() == Some(ANSWER)).count();
        if answers == 0 {
            return Ok(None);
        }
        if answers != values.len() {
            return Err(AppError::Unprocessable {
                message: "answers are filed in a batch of their own; file your records first, then answer".into(),
                details: Vec::new(),
            }
            .into());
        }
    }
    let mut items = Vec::with_capacity(values.len());
    let mut details = Vec::new();
    for (position, value) in values {
        let Value::Object(mut map) = value else {
            details.push(ErrorDetail {
                index: Some(position),
                field: None,
                reason: "a record must be a JSON object".into(),
            });
            continue;
        };
        let kind = match map.remove("kind") {
            Some(Value::String(kind)) if kind == REPORT && token.reporter => REPORT,
            Some(Value::String(kind)) if kind == ANSWER && !token.reporter => ANSWER,
            other => {
                let named = other.as_ref().and_then(Value::as_str).unwrap_or("(none)").to_owned();
                return Err(forbidden(
                    state,
                    format!(
                        "a reporter's token files reports only (kind report); the record at position {position} \
                         is of kind {named:?}"
                    ),
                ));
            }
        };
        match map.remove("provider") {
            None | Some(Value::Null) => {}
            Some(Value::String(slug)) if slug == token.provider.as_str() => {}
            Some(other) => {
                return Err(forbidden(
                    state,
                    format!(
                        "this token writes for {}; the record at position {position} names {other} as its filer",
                        token.provider
                    ),
                ));
            }
        }
        if map.remove("signature").is_some_and(|v| !v.is_null()) {
            details.push(detail(position, "signature", "reports and answers are filed unsigned"));
            continue;
        }
        items.push(Item { position, kind, fields: map });
    }
    if items.is_empty() && details.is_empty() {
        details.push(ErrorDetail { index: None, field: None, reason: "the body holds no records".into() });
    }
    if !details.is_empty() {
        return Err(invalid(state, details));
    }
    Ok(Some(items))
}

fn push_errors(details: &mut Vec<ErrorDetail>, position: usize, errors: Vec<FieldError>) {
    for FieldError { field, reason } in errors {
        if details.len() < MAX_DETAILS {
            details.push(detail(position, &field, reason));
        }
    }
}

/// An entry to append, what it is about, and where it came from.
struct Classified {
    position: usize,
    kind: &'static str,
    key: String,
    record: Value,
    result: RecordResult,
    report: Option<NewReport>,
    answer: Option<NewAnswer>,
}

/// Validates the batch against the ledger, classifies it and (unless a dry run) appends it.
pub async fn apply(
    state: &AppState,
    token: &ProviderToken,
    items: Vec<Item>,
    dry_run: bool,
) -> Result<Response, ApiError> {
    let mut details = Vec::new();
    let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
    let mut valid = Vec::with_capacity(items.len());
    for item in items {
        let position = item.position;
        if item.kind == REPORT {
            match crate::records::reports::Report::parse(item.fields) {
                Err(errors) => push_errors(&mut details, position, errors),
                Ok(report) => {
                    match db::providers::role_of(&mut conn, report.about.as_str()).await.map_err(AppError::from)? {
                        Some(role) if role == "provider" => valid.push((position, Ok(report))),
                        Some(_) => details.push(detail(
                            position,
                            "about",
                            format!("{} is a reporter, not a provider", report.about),
                        )),
                        None => details.push(detail(
                            position,
                            "about",
                            format!(
                                "no provider {} is registered; a report must be about a registered provider",
                                report.about
                            ),
                        )),
                    }
                }
            }
        } else {
            match Answer::parse(item.fields) {
                Err(errors) => push_errors(&mut details, position, errors),
                Ok(mut answer) => {
                    let subject =
                        db::reports::report_subject(&mut conn, answer.report).await.map_err(AppError::from)?;
                    let Some((about, reported)) = subject else {
                        details.push(detail(position, "report", format!("entry {} is not a report", answer.report)));
                        continue;
                    };
                    if about != token.provider.as_str() {
                        details.push(detail(
                            position,
                            "report",
                            format!(
                                "report {} is about {about}; a provider answers only reports about itself",
                                answer.report
                            ),
                        ));
                        continue;
                    }
                    let kind = ReportedKind::OPTIONS
                        .iter()
                        .find(|(name, _)| *name == reported)
                        .map_or(ReportedKind::Lockup, |(_, k)| *k);
                    if let Some(entry) = answer.disclosure_entry {
                        match db::reports::entry_filer(&mut conn, entry).await.map_err(AppError::from)? {
                            None => {
                                details.push(detail(position, "disclosure_entry", format!("there is no entry {entry}")))
                            }
                            Some((filer, _)) if filer != token.provider.as_str() => details.push(detail(
                                position,
                                "disclosure_entry",
                                format!(
                                    "entry {entry} was filed by {filer}; a confirmation points at your own disclosure"
                                ),
                            )),
                            Some((_, filed)) if filed != reported => details.push(detail(
                                position,
                                "disclosure_entry",
                                format!("entry {entry} is a {filed} record; the report is about a {reported}"),
                            )),
                            Some(_) => {}
                        }
                    }
                    if answer.response == AnswerResponse::Correct {
                        push_errors(&mut details, position, answer.check_corrections(kind));
                    }
                    valid.push((position, Err(answer)));
                }
            }
        }
    }
    drop(conn);
    if !details.is_empty() {
        return Err(invalid(state, details));
    }

    let mut tx = state.pool.begin().await.map_err(AppError::from)?;
    let head = if dry_run { db::ledger::head(&mut tx).await } else { db::ledger::lock_head(&mut tx).await }
        .map_err(AppError::from)?;
    let hidden = if token.reporter {
        db::reports::distrust_reason(&mut tx, token.provider.as_str()).await.map_err(AppError::from)?
    } else {
        None
    };
    // The latest entry per key, as filed before or earlier in this batch.
    let mut latest: HashMap<String, (u64, Value)> = HashMap::new();
    let mut classified = Vec::with_capacity(valid.len());
    let mut appended = 0u64;
    for (position, item) in valid {
        let (kind, key, record) = match &item {
            Ok(report) => (REPORT, report.natural_key(), report.to_json()),
            Err(answer) => (ANSWER, answer.natural_key(), answer.to_json()),
        };
        if !latest.contains_key(&key) {
            let stored = match &item {
                Ok(_) => db::reports::latest_report(&mut tx, token.provider.as_str(), &key).await,
                Err(answer) => db::reports::latest_answer(&mut tx, token.provider.as_str(), answer.report).await,
            }
            .map_err(AppError::from)?;
            if let Some((index, bytes)) = stored {
                let stored: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                latest.insert(key.clone(), (index, stored.get("record").cloned().unwrap_or(Value::Null)));
            }
        }
        let next_index = head.size + appended;
        let result = match latest.get(&key) {
            Some((index, stored)) if *stored == record => {
                RecordResult { outcome: Outcome::Duplicate, entry_index: *index, supersedes: None }
            }
            Some((index, _)) => {
                RecordResult { outcome: Outcome::Amended, entry_index: next_index, supersedes: Some(*index) }
            }
            None => RecordResult { outcome: Outcome::Created, entry_index: next_index, supersedes: None },
        };
        if result.outcome != Outcome::Duplicate {
            appended += 1;
            latest.insert(key.clone(), (next_index, record.clone()));
        }
        let (report, answer) = match &item {
            Ok(report) => (
                Some(NewReport {
                    index: next_index,
                    reporter: token.provider.to_string(),
                    about: report.about.to_string(),
                    reported_kind: report.reported_kind.as_str().to_owned(),
                    natural_key: key.clone(),
                    published_date: report.published_date,
                    received_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
                    supersedes: result.supersedes,
                    hidden_reason: hidden.clone(),
                }),
                None,
            ),
            Err(answer) => (
                None,
                Some(NewAnswer {
                    index: next_index,
                    report: answer.report,
                    provider: token.provider.to_string(),
                    response: answer.response.as_str().to_owned(),
                    received_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
                }),
            ),
        };
        classified.push(Classified { position, kind, key, record, result, report, answer });
    }

    let results: Vec<RecordResult> = classified.iter().map(|c| c.result.clone()).collect();
    let items: Vec<(usize, String, String)> =
        classified.iter().map(|c| (c.position, c.kind.to_owned(), c.key.clone())).collect();
    let written: Vec<&Classified> = classified.iter().filter(|c| c.result.outcome != Outcome::Duplicate).collect();
    let (tree_size, checkpoint) = if dry_run || written.is_empty() {
        tx.rollback().await.map_err(AppError::from)?;
        let checkpoint = if dry_run {
            None
        } else {
            let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
            db::ledger::latest_checkpoint(&mut conn).await.map_err(AppError::from)?
        };
        (head.size, checkpoint)
    } else {
        let pending: Vec<PendingEntry> = written
            .iter()
            .map(|c| PendingEntry {
                provider: token.provider.clone(),
                kind: c.kind.to_owned(),
                natural_key: c.key.clone(),
                record: c.record.clone(),
                supersedes: c.result.supersedes,
                signature: None,
            })
            .collect();
        let done = state.ledger.append_locked(&mut tx, &head, &pending).await.map_err(AppError::from)?;
        let at = done.received_at;
        let reports: Vec<NewReport> =
            written.iter().filter_map(|c| c.report.clone()).map(|r| NewReport { received_at: at, ..r }).collect();
        let answers: Vec<NewAnswer> =
            written.iter().filter_map(|c| c.answer.clone()).map(|a| NewAnswer { received_at: at, ..a }).collect();
        db::reports::insert_reports(&mut tx, &reports).await.map_err(AppError::from)?;
        db::reports::insert_answers(&mut tx, &answers).await.map_err(AppError::from)?;
        tx.commit().await.map_err(AppError::from)?;
        let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
        let checkpoint = db::ledger::latest_checkpoint(&mut conn).await.map_err(AppError::from)?;
        (done.checkpoint.checkpoint.size, checkpoint)
    };
    let body = batch_json_of(state, token, &items, &results, tree_size, checkpoint.as_ref(), dry_run).await?;
    if !dry_run {
        state.metrics.ingested("created", body.summary.created as u64);
        state.metrics.ingested("amended", body.summary.amended as u64);
        state.metrics.ingested("duplicate", body.summary.duplicate as u64);
    }
    let status = if !dry_run && !written.is_empty() { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(body)).into_response())
}
