//! Reports and answers through `POST /api/v1/records` (issue 19).
//!
//! A reporter's token files `report` records only (403 for anything else); a provider's
//! token never files a report (403), and files `answer` records only to reports about
//! itself, alone or with records of its own in the same request: a confirmation may point
//! at a disclosure filed earlier in that request (`disclosure_position`), and the answer
//! is stored with the entry index the disclosure got. Each batch is validated whole,
//! appended in one transaction with its rows in `reports` / `report_answers`, and answered
//! with receipts like any other batch (an `Idempotency-Key` replays the first answer, as
//! for any batch); resending is a duplicate, a changed report or a new answer to the same
//! report amends the earlier one (`supersedes`). Reports and answers are sent as JSON or
//! NDJSON (not CSV) and unsigned.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::Value;

use super::auth::ProviderToken;
use super::batch::{BatchJson, batch_json_of, check_own, check_signatures, check_size};
use crate::AppState;
use crate::db;
use crate::db::idempotency_keys::Answer as Remembered;
use crate::db::reports::{NewAnswer, NewReport};
use crate::error::{ApiError, AppError, ErrorDetail};
use crate::ledger::entry::PendingEntry;
use crate::records::FieldError;
use crate::records::reports::{
    ANSWER, Answer, DisclosureRef, REPORT, Report, ReportedKind, Response as AnswerResponse,
};
use crate::submission::formats::{self, BodyError, Format, Located, MAX_DETAILS};
use crate::submission::{Outcome, RecordResult};
use crate::telemetry::BatchRejection;

/// A report or an answer as sent, validated on its own (not yet against the ledger).
#[derive(Debug)]
enum Filed {
    Report(Report),
    Answer(Answer, Option<DisclosureRef>),
}

/// A batch that goes this way rather than the ordinary one: a reporter's reports, or a
/// provider's answers with any records of its own sent beside them.
#[derive(Debug)]
pub struct ThirdParty {
    /// Reports or answers, with their positions.
    filed: Vec<(usize, Filed)>,
    /// The provider's own records in the same request.
    own: Vec<Located>,
}

impl ThirdParty {
    /// Every item's (position, kind, natural key), in body order: what the answer lists.
    pub fn listed(&self) -> Vec<(usize, String, String)> {
        let mut listed: Vec<(usize, String, String)> = self
            .own
            .iter()
            .map(|r| (r.position, r.record.kind().as_str().to_owned(), r.record.natural_key()))
            .chain(self.filed.iter().map(|(position, filed)| match filed {
                Filed::Report(report) => (*position, REPORT.to_owned(), report.natural_key()),
                Filed::Answer(answer, _) => (*position, ANSWER.to_owned(), answer.natural_key()),
            }))
            .collect();
        listed.sort_by_key(|(position, _, _)| *position);
        listed
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
/// (anything else in it is refused), a provider's batch is when it holds answers (its other
/// items are then its own records, parsed as in any batch). `None`: an ordinary batch of a
/// provider's own records. Everything that can be checked without the ledger is checked here.
pub fn third_party(
    state: &AppState,
    token: &ProviderToken,
    format: Format,
    bytes: &[u8],
) -> Result<Option<ThirdParty>, ApiError> {
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
    check_size(state, values.len())?;
    let kind_of = |value: &Value| value.get("kind").and_then(Value::as_str).map(str::to_owned);
    let mut own_values = Vec::new();
    let mut third = Vec::with_capacity(values.len());
    if token.reporter {
        third = values;
    } else {
        if let Some((position, _)) = values.iter().find(|(_, v)| kind_of(v).as_deref() == Some(REPORT)) {
            return Err(forbidden(
                state,
                format!(
                    "the record at position {position} is a report: reports are filed by registered reporters, \
                     not by providers (a provider answers reports about itself with kind answer)"
                ),
            ));
        }
        if !values.iter().any(|(_, v)| kind_of(v).as_deref() == Some(ANSWER)) {
            return Ok(None);
        }
        for (position, value) in values {
            if kind_of(&value).as_deref() == Some(ANSWER) {
                third.push((position, value));
            } else {
                own_values.push((position, value));
            }
        }
    }

    let mut filed = Vec::with_capacity(third.len());
    let mut details = Vec::new();
    for (position, value) in third {
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
        let parsed = if kind == REPORT {
            Report::parse(map).map(Filed::Report)
        } else {
            Answer::parse_input(map).map(|(answer, disclosure)| Filed::Answer(answer, disclosure))
        };
        match parsed {
            Ok(item) => filed.push((position, item)),
            Err(errors) => push_errors(&mut details, position, errors),
        }
    }
    let own = if own_values.is_empty() {
        Vec::new()
    } else {
        match formats::records_of(own_values) {
            Ok(own) => own,
            Err(BodyError::Invalid(problems)) => {
                details.extend(problems);
                Vec::new()
            }
            Err(BodyError::Malformed(message)) => {
                return Err(AppError::BadRequest { message, details: Vec::new() }.into());
            }
        }
    };
    check_own(state, token, &own)?;
    if filed.is_empty() && details.is_empty() {
        details.push(ErrorDetail { index: None, field: None, reason: "the body holds no records".into() });
    }
    if !details.is_empty() {
        details.sort_by_key(|d| d.index);
        details.truncate(MAX_DETAILS);
        return Err(invalid(state, details));
    }
    Ok(Some(ThirdParty { filed, own }))
}

fn push_errors(details: &mut Vec<ErrorDetail>, position: usize, errors: Vec<FieldError>) {
    for FieldError { field, reason } in errors {
        if details.len() < MAX_DETAILS {
            details.push(detail(position, &field, reason));
        }
    }
}

/// A report or answer checked against the ledger, waiting for its place in the batch.
enum Checked {
    Report(Report),
    Answer(Answer, Option<DisclosureRef>),
}

/// Checks what the ledger must confirm: a report's subject is a registered provider; an
/// answer's report exists and is about the token's provider, its disclosure is the
/// provider's own entry of the reported kind (or a record of that kind earlier in this
/// request), its corrections are fields of that kind.
async fn check_against_ledger(
    state: &AppState,
    token: &ProviderToken,
    batch: ThirdParty,
) -> Result<(Vec<(usize, Checked)>, Vec<Located>), ApiError> {
    let mut details = Vec::new();
    let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
    let mut checked = Vec::with_capacity(batch.filed.len());
    for (position, filed) in batch.filed {
        match filed {
            Filed::Report(report) => {
                match db::providers::role_of(&mut conn, report.about.as_str()).await.map_err(AppError::from)? {
                    Some(role) if role == "provider" => checked.push((position, Checked::Report(report))),
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
            Filed::Answer(mut answer, disclosure) => {
                let subject = db::reports::report_subject(&mut conn, answer.report).await.map_err(AppError::from)?;
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
                match disclosure {
                    Some(DisclosureRef::Entry(entry)) => {
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
                    Some(DisclosureRef::InBatch(at)) => {
                        let found = batch.own.iter().find(|r| r.position as u64 == at);
                        match found {
                            None => details.push(detail(
                                position,
                                "disclosure_position",
                                format!("no record of yours is at position {at} of this request"),
                            )),
                            Some(record) if record.position >= position => details.push(detail(
                                position,
                                "disclosure_position",
                                format!(
                                    "the record at position {at} comes after this answer; file the disclosure \
                                     before the answer that points at it"
                                ),
                            )),
                            Some(record) if record.record.kind().as_str() != reported => details.push(detail(
                                position,
                                "disclosure_position",
                                format!(
                                    "the record at position {at} is a {} record; the report is about a {reported}",
                                    record.record.kind().as_str()
                                ),
                            )),
                            Some(_) => {}
                        }
                    }
                    None => {}
                }
                if answer.response == AnswerResponse::Correct {
                    push_errors(&mut details, position, answer.check_corrections(kind));
                }
                checked.push((position, Checked::Answer(answer, disclosure)));
            }
        }
    }
    if !details.is_empty() {
        details.sort_by_key(|d| d.index);
        return Err(invalid(state, details));
    }
    Ok((checked, batch.own))
}

/// Validates the batch against the ledger, classifies it and (unless a dry run) appends it,
/// with any records of the provider's own, in body order; the response, and what an
/// idempotency key remembers of it.
pub async fn apply(
    state: &AppState,
    token: &ProviderToken,
    batch: ThirdParty,
    dry_run: bool,
) -> Result<(StatusCode, BatchJson, Remembered), ApiError> {
    let listed = batch.listed();
    let signatures = check_signatures(state, token, &batch.own).await?;
    let (checked, own) = check_against_ledger(state, token, batch).await?;

    let mut tx = state.pool.begin().await.map_err(AppError::from)?;
    let head = crate::submission::lock_for_batch(&mut tx, dry_run).await.map_err(AppError::from)?;
    let own_records: Vec<crate::records::Record> = own.iter().map(|r| r.record.clone()).collect();
    let mut appending =
        crate::submission::Batch::open(&mut tx, &head, &token.provider, &own_records).await.map_err(AppError::from)?;
    let hidden = if token.reporter {
        db::reports::distrust_reason(&mut tx, token.provider.as_str()).await.map_err(AppError::from)?
    } else {
        None
    };

    // Body order is append order: a disclosure is classified before the answer naming it.
    let mut own = own.into_iter().zip(signatures.into_iter().chain(std::iter::repeat(None))).peekable();
    let mut checked = checked.into_iter().peekable();
    // The entry each own record got (or already had), by position.
    let mut own_entries: HashMap<u64, u64> = HashMap::new();
    // The latest report or answer per key, as filed before or earlier in this batch.
    let mut latest: HashMap<String, (u64, Value)> = HashMap::new();
    let mut results = Vec::with_capacity(listed.len());
    let mut reports = Vec::new();
    let mut answers = Vec::new();
    loop {
        let own_first = match (own.peek(), checked.peek()) {
            (None, None) => break,
            (Some((record, _)), Some((position, _))) => record.position < *position,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if own_first {
            let Some((record, signature)) = own.next() else { break };
            let result = appending.classify(&record.record, signature);
            own_entries.insert(record.position as u64, result.entry_index);
            results.push(result);
            continue;
        }
        let Some((_, item)) = checked.next() else { break };
        let (kind, key, record) = match &item {
            Checked::Report(report) => (REPORT, report.natural_key(), report.to_json()),
            Checked::Answer(answer, disclosure) => {
                let mut answer = answer.clone();
                if let Some(DisclosureRef::InBatch(at)) = disclosure {
                    answer.disclosure_entry = own_entries.get(at).copied();
                }
                (ANSWER, answer.natural_key(), answer.to_json())
            }
        };
        if !latest.contains_key(&key) {
            let stored = match &item {
                Checked::Report(_) => db::reports::latest_report(&mut tx, token.provider.as_str(), &key).await,
                Checked::Answer(answer, _) => {
                    db::reports::latest_answer(&mut tx, token.provider.as_str(), answer.report).await
                }
            }
            .map_err(AppError::from)?;
            if let Some((index, bytes)) = stored {
                let stored: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| AppError::Unavailable(format!("entry {index} is not readable JSON: {e}")))?;
                latest.insert(key.clone(), (index, stored.get("record").cloned().unwrap_or(Value::Null)));
            }
        }
        let next_index = appending.next_index();
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
            latest.insert(key.clone(), (next_index, record.clone()));
            match &item {
                Checked::Report(report) => reports.push(NewReport {
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
                Checked::Answer(answer, _) => answers.push(NewAnswer {
                    index: next_index,
                    report: answer.report,
                    provider: token.provider.to_string(),
                    response: answer.response.as_str().to_owned(),
                    received_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
                }),
            }
            appending.add(PendingEntry {
                provider: token.provider.clone(),
                kind: kind.to_owned(),
                natural_key: key,
                record,
                supersedes: result.supersedes,
                signature: None,
            });
        }
        results.push(result);
    }

    let wrote = !appending.is_empty();
    let (tree_size, checkpoint) = if dry_run || !wrote {
        tx.rollback().await.map_err(AppError::from)?;
        let checkpoint = if dry_run {
            None
        } else {
            let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
            db::ledger::latest_checkpoint(&mut conn).await.map_err(AppError::from)?
        };
        (head.size, checkpoint)
    } else {
        let appended = appending.append(&mut tx, &state.ledger, &head).await.map_err(AppError::from)?;
        let Some(done) = appended else {
            return Err(AppError::Unavailable("the batch had entries to append but none were appended".into()).into());
        };
        let at = done.received_at;
        let reports: Vec<NewReport> = reports.into_iter().map(|r| NewReport { received_at: at, ..r }).collect();
        let answers: Vec<NewAnswer> = answers.into_iter().map(|a| NewAnswer { received_at: at, ..a }).collect();
        db::reports::insert_reports(&mut tx, &reports).await.map_err(AppError::from)?;
        db::reports::insert_answers(&mut tx, &answers).await.map_err(AppError::from)?;
        tx.commit().await.map_err(AppError::from)?;
        let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
        let checkpoint = db::ledger::latest_checkpoint(&mut conn).await.map_err(AppError::from)?;
        (done.checkpoint.checkpoint.size, checkpoint)
    };
    let body = batch_json_of(state, token, &listed, &results, tree_size, checkpoint.as_ref(), dry_run).await?;
    if !dry_run {
        state.metrics.ingested("created", body.summary.created as u64);
        state.metrics.ingested("amended", body.summary.amended as u64);
        state.metrics.ingested("duplicate", body.summary.duplicate as u64);
    }
    let status = if !dry_run && wrote { StatusCode::CREATED } else { StatusCode::OK };
    let remembered = Remembered::new(status.as_u16(), tree_size, checkpoint.as_ref().map(|c| c.id), &results);
    Ok((status, body, remembered))
}
