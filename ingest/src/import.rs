//! Bulk import of historical CSV (one record kind per file) through the push API:
//! every row checked with the server's own CSV rules first (bad rows are written to
//! `<file>.rejected.csv` with their line and reason, and the rest still go in), sent
//! in batches, and resumable — after each accepted batch the last row is recorded in
//! `<file>.import-state.json`, and a re-run continues after it. Batches carry an
//! idempotency key and the server deduplicates, so a batch re-sent after a kill
//! creates nothing twice.

use std::io::Write;
use std::path::{Path, PathBuf};

use gatelog_core::formats::{self, BodyError, Format};
use gatelog_core::records::RecordKind;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::client::{Client, ClientError};

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading or writing a file failed.
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    /// The state file is another import's.
    #[error("{0} records another import (different file header or kind); remove it to start over")]
    ForeignState(PathBuf),
    /// The server refused a batch or could not be reached.
    #[error("batch ending at line {line}: {source} (rows before it are in; re-run to resume)")]
    Batch {
        /// Last line of the batch.
        line: u64,
        source: ClientError,
    },
}

/// Where an interrupted import resumes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportState {
    /// SHA-256 of the header row and kind: the file this state belongs to.
    pub fingerprint: String,
    /// Data rows handled (sent and accepted, or rejected) so far.
    pub rows_done: u64,
    /// Counts so far.
    pub summary: ImportSummary,
    /// Length of the rejects file when `rows_done` was saved. Rows after `rows_done` are
    /// checked again on resume, so the lines they added before the interruption are cut
    /// off rather than written twice. Absent in state files of older versions.
    #[serde(default)]
    pub rejects_bytes: Option<u64>,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportSummary {
    /// New records.
    pub created: u64,
    /// Amendments of earlier records.
    pub amended: u64,
    /// Rows the ledger already held.
    pub duplicate: u64,
    /// Rows refused (see the rejects file).
    pub rejected: u64,
}

/// The files an import of `file` keeps beside it: state and rejects.
pub fn side_files(file: &Path) -> (PathBuf, PathBuf) {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("import");
    (file.with_file_name(format!("{name}.import-state.json")), file.with_file_name(format!("{name}.rejected.csv")))
}

fn file_error(path: &Path) -> impl Fn(String) -> ImportError + '_ {
    move |reason| ImportError::File { path: path.to_owned(), reason }
}

/// The rejects file, ready for appending: started afresh for a new import (a previous run's
/// lines would be written again), or cut back to `keep` bytes for a resumed one.
fn open_rejects(path: &Path, keep: Option<u64>) -> Result<std::fs::File, ImportError> {
    let error = file_error(path);
    let mut file =
        std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| error(e.to_string()))?;
    let length = file.metadata().map_err(|e| error(e.to_string()))?.len();
    let keep = keep.unwrap_or(length).min(length);
    if keep < length {
        file.set_len(keep).map_err(|e| error(e.to_string()))?;
    }
    if keep == 0 {
        writeln!(file, "line,field,reason").map_err(|e| error(e.to_string()))?;
    }
    Ok(file)
}

fn save(path: &Path, state: &ImportState) -> Result<(), ImportError> {
    let text = serde_json::to_vec_pretty(state).unwrap_or_default();
    // Synced and renamed, then the directory synced: a resumed import never repeats or skips rows.
    gatelog_core::fsutil::write_atomically(path, &text).map_err(|e| file_error(path)(e.to_string()))
}

/// Imports `file` as records of `kind`, `batch` rows per request.
pub fn run(
    client: &Client,
    file: &Path,
    kind: RecordKind,
    batch: usize,
    progress: bool,
) -> Result<ImportSummary, ImportError> {
    let (state_path, rejects_path) = side_files(file);
    let open_error = file_error(file);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(file).map_err(|e| open_error(e.to_string()))?;
    let header = reader.headers().map_err(|e| open_error(e.to_string()))?.clone();
    let fingerprint = {
        let mut hasher = Sha256::new();
        hasher.update(kind.as_str());
        for name in &header {
            hasher.update([0]);
            hasher.update(name);
        }
        hex::encode(hasher.finalize())
    };
    let (mut state, resumed) = match std::fs::read(&state_path) {
        Ok(bytes) => {
            let state: ImportState =
                serde_json::from_slice(&bytes).map_err(|e| file_error(&state_path)(e.to_string()))?;
            if state.fingerprint != fingerprint {
                return Err(ImportError::ForeignState(state_path));
            }
            (state, true)
        }
        Err(_) => (ImportState { fingerprint, ..ImportState::default() }, false),
    };
    let resumed_at = state.rows_done;
    let total = count_rows(file).map_err(&open_error)?;
    let bar = if progress { ProgressBar::new(total) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(resumed_at);
    let rejects = open_rejects(&rejects_path, if resumed { state.rejects_bytes } else { Some(0) })?;

    let mut pending: Vec<serde_json::Value> = Vec::with_capacity(batch);
    let mut row_buffer = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = row_buffer.write_record(&header);
    let header_text = String::from_utf8(row_buffer.into_inner().unwrap_or_default()).unwrap_or_default();
    let mut index = 0u64;
    let mut last_line = 1u64;
    let flush = |pending: &mut Vec<serde_json::Value>, state: &mut ImportState, done: u64, line: u64| {
        if !pending.is_empty() {
            let answer = client.post(pending).map_err(|source| ImportError::Batch { line, source })?.summary();
            state.summary.created += answer.created as u64;
            state.summary.amended += answer.amended as u64;
            state.summary.duplicate += answer.duplicate as u64;
            pending.clear();
        }
        state.rows_done = done;
        state.rejects_bytes = Some(rejects.metadata().map_err(|e| file_error(&rejects_path)(e.to_string()))?.len());
        save(&state_path, state)
    };
    for row in reader.records() {
        index += 1;
        if index <= resumed_at {
            continue;
        }
        let line = row.as_ref().ok().and_then(|r| r.position()).map_or(index + 1, |p| p.line());
        last_line = line;
        // (field, reason) of the first problem, if the row is not a valid record.
        let checked: Result<serde_json::Value, (String, String)> = match row {
            Err(e) => Err((String::new(), e.to_string())),
            Ok(row) => check_row(&header_text, &row, kind),
        };
        match checked {
            Ok(record) => pending.push(record),
            Err((field, reason)) => {
                state.summary.rejected += 1;
                let mut w = csv::Writer::from_writer(Vec::new());
                let _ = w.write_record([line.to_string().as_str(), field.as_str(), reason.as_str()]);
                (&rejects)
                    .write_all(&w.into_inner().unwrap_or_default())
                    .map_err(|e| file_error(&rejects_path)(e.to_string()))?;
            }
        }
        if pending.len() >= batch {
            flush(&mut pending, &mut state, index, line)?;
            bar.set_position(index);
        }
    }
    flush(&mut pending, &mut state, index, last_line)?;
    bar.finish_and_clear();
    let summary = state.summary;
    // Done: the next run of the same file starts from the top (and finds duplicates).
    let _ = std::fs::remove_file(&state_path);
    if summary.rejected == 0 {
        let _ = std::fs::remove_file(&rejects_path);
    }
    Ok(summary)
}

/// One row checked exactly as the server's CSV ingest would: the record, or the first
/// problem's field and reason.
fn check_row(header: &str, row: &csv::StringRecord, kind: RecordKind) -> Result<serde_json::Value, (String, String)> {
    let mut writer = csv::WriterBuilder::new().from_writer(header.as_bytes().to_vec());
    writer.write_record(row).map_err(|e| (String::new(), e.to_string()))?;
    let body = writer.into_inner().map_err(|e| (String::new(), e.to_string()))?;
    match formats::parse(Format::Csv(kind), &body) {
        Ok(mut located) if located.len() == 1 => Ok(located.remove(0).record.to_submission()),
        Ok(_) => Err((String::new(), "expected exactly one record".into())),
        Err(BodyError::Malformed(reason)) => Err((String::new(), reason)),
        Err(BodyError::Invalid(details)) => {
            let first = details.first();
            Err((
                first.and_then(|d| d.field.clone()).unwrap_or_default(),
                details.iter().map(|d| d.reason.clone()).collect::<Vec<_>>().join("; "),
            ))
        }
    }
}

/// Data rows in a CSV file (lines after the header; quoted newlines make this an
/// estimate, used only for the progress bar).
fn count_rows(file: &Path) -> Result<u64, String> {
    use std::io::Read;
    let mut reader = std::fs::File::open(file).map_err(|e| e.to_string())?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut lines = 0u64;
    loop {
        let n = reader.read(&mut buffer).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        lines += buffer[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
    Ok(lines.saturating_sub(1))
}
