//! Queries on `reports` and `report_answers` (issue 19): every report entry by the provider
//! it is about, and every answer by the report it answers. Both are filled in the append
//! transaction ([`insert_reports`], [`insert_answers`]), so showing one provider's reports
//! is an index range, whatever the size of the ledger.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, Row};

use crate::records::kinds::Unreadable;
use crate::records::reports::{Answer, Report};

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A report entry as indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    /// Its entry index.
    pub index: u64,
    /// Who filed it.
    pub reporter: String,
    /// The provider it is about.
    pub about: String,
    /// `lockup` or `price`.
    pub reported_kind: String,
    /// Its natural key within the reporter.
    pub natural_key: String,
    /// The source's publication date.
    pub published_date: chrono::NaiveDate,
    /// When the log accepted it.
    pub received_at: DateTime<Utc>,
    /// The report it amends.
    pub supersedes: Option<u64>,
    /// Why it is hidden from figures (its reporter was distrusted when it was filed).
    pub hidden_reason: Option<String>,
}

/// An answer entry as indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAnswer {
    /// Its entry index.
    pub index: u64,
    /// The report answered.
    pub report: u64,
    /// The provider answering.
    pub provider: String,
    /// `confirm`, `dispute` or `correct`.
    pub response: String,
    /// When the log accepted it.
    pub received_at: DateTime<Utc>,
}

/// Indexes report entries just appended (in the append transaction).
pub async fn insert_reports(conn: &mut PgConnection, rows: &[NewReport]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let indexes: Vec<i64> = rows.iter().map(|r| to_i64(r.index)).collect();
    let reporters: Vec<&str> = rows.iter().map(|r| r.reporter.as_str()).collect();
    let about: Vec<&str> = rows.iter().map(|r| r.about.as_str()).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.reported_kind.as_str()).collect();
    let keys: Vec<&str> = rows.iter().map(|r| r.natural_key.as_str()).collect();
    let dates: Vec<chrono::NaiveDate> = rows.iter().map(|r| r.published_date).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.received_at).collect();
    let supersedes: Vec<Option<i64>> = rows.iter().map(|r| r.supersedes.map(to_i64)).collect();
    let hidden: Vec<Option<&str>> = rows.iter().map(|r| r.hidden_reason.as_deref()).collect();
    sqlx::query(
        "INSERT INTO reports (idx, reporter, about, reported_kind, natural_key, published_date, received_at, supersedes, hidden_reason)
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::timestamptz[], $8::int8[], $9::text[])",
    )
    .bind(&indexes)
    .bind(&reporters)
    .bind(&about)
    .bind(&kinds)
    .bind(&keys)
    .bind(&dates)
    .bind(&times)
    .bind(&supersedes)
    .bind(&hidden)
    .execute(conn)
    .await?;
    Ok(())
}

/// Indexes answer entries just appended (in the append transaction).
pub async fn insert_answers(conn: &mut PgConnection, rows: &[NewAnswer]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let indexes: Vec<i64> = rows.iter().map(|r| to_i64(r.index)).collect();
    let reports: Vec<i64> = rows.iter().map(|r| to_i64(r.report)).collect();
    let providers: Vec<&str> = rows.iter().map(|r| r.provider.as_str()).collect();
    let responses: Vec<&str> = rows.iter().map(|r| r.response.as_str()).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.received_at).collect();
    sqlx::query(
        "INSERT INTO report_answers (idx, report, provider, response, received_at)
         SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], $5::timestamptz[])",
    )
    .bind(&indexes)
    .bind(&reports)
    .bind(&providers)
    .bind(&responses)
    .bind(&times)
    .execute(conn)
    .await?;
    Ok(())
}

/// The latest report of `reporter` with `natural_key`, with its entry bytes.
pub async fn latest_report(
    conn: &mut PgConnection,
    reporter: &str,
    natural_key: &str,
) -> Result<Option<(u64, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT r.idx, e.entry FROM reports r JOIN ledger_entries e ON e.idx = r.idx
         WHERE r.reporter = $1 AND r.natural_key = $2 ORDER BY r.idx DESC LIMIT 1",
    )
    .bind(reporter)
    .bind(natural_key)
    .fetch_optional(conn)
    .await?;
    row.map(|row| Ok((to_u64(row.try_get("idx")?), row.try_get("entry")?))).transpose()
}

/// The latest answer by `provider` to report `report`, with its entry bytes.
pub async fn latest_answer(
    conn: &mut PgConnection,
    provider: &str,
    report: u64,
) -> Result<Option<(u64, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT a.idx, e.entry FROM report_answers a JOIN ledger_entries e ON e.idx = a.idx
         WHERE a.report = $1 AND a.provider = $2 ORDER BY a.idx DESC LIMIT 1",
    )
    .bind(to_i64(report))
    .bind(provider)
    .fetch_optional(conn)
    .await?;
    row.map(|row| Ok((to_u64(row.try_get("idx")?), row.try_get("entry")?))).transpose()
}

/// The provider a report is about and its reported kind, if `index` is a report.
pub async fn report_subject(conn: &mut PgConnection, index: u64) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT about, reported_kind FROM reports WHERE idx = $1")
        .bind(to_i64(index))
        .fetch_optional(conn)
        .await?;
    row.map(|row| Ok((row.try_get("about")?, row.try_get("reported_kind")?))).transpose()
}

/// The filer and kind of entry `index`, if it exists.
pub async fn entry_filer(conn: &mut PgConnection, index: u64) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT provider, kind FROM ledger_entries WHERE idx = $1")
        .bind(to_i64(index))
        .fetch_optional(conn)
        .await?;
    row.map(|row| Ok((row.try_get("provider")?, row.try_get("kind")?))).transpose()
}

/// Why reports filed by `reporter` now are hidden from figures, if its operator distrusts it.
pub async fn distrust_reason(conn: &mut PgConnection, reporter: &str) -> Result<Option<String>, sqlx::Error> {
    let reason: Option<Option<String>> =
        sqlx::query_scalar("SELECT distrust_reason FROM providers WHERE slug = $1 AND role = 'reporter'")
            .bind(reporter)
            .fetch_optional(conn)
            .await?;
    Ok(reason.flatten())
}

/// A report as pages show it: the latest version, its reporter, and the provider's latest answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownReport {
    /// Entry index.
    pub index: u64,
    /// Reporter slug.
    pub reporter: String,
    pub reporter_name: String,
    /// The provider it is about.
    pub about: String,
    /// `lockup` or `price`.
    pub reported_kind: String,
    /// When the log accepted it.
    pub received_at: DateTime<Utc>,
    /// Why it is hidden from figures, if it is.
    pub hidden_reason: Option<String>,
    /// The report, or why it no longer decodes.
    pub report: Result<Report, Unreadable>,
    /// The provider's latest answer.
    pub answer: Option<ShownAnswer>,
}

/// A provider's answer as pages show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownAnswer {
    /// Entry index.
    pub index: u64,
    /// `confirm`, `dispute` or `correct`.
    pub response: String,
    /// When the log accepted it.
    pub received_at: DateTime<Utc>,
    /// The answer, or why it no longer decodes.
    pub answer: Result<Answer, Unreadable>,
}

fn record_of(bytes: &[u8]) -> Value {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|mut v| v.get_mut("record").map(Value::take))
        .unwrap_or(Value::Null)
}

fn shown_from_row(row: &sqlx::postgres::PgRow) -> Result<ShownReport, sqlx::Error> {
    let bytes: Vec<u8> = row.try_get("entry")?;
    let answer_index: Option<i64> = row.try_get("answer_idx")?;
    let answer = match answer_index {
        None => None,
        Some(index) => {
            let bytes: Vec<u8> = row.try_get("answer_entry")?;
            Some(ShownAnswer {
                index: to_u64(index),
                response: row.try_get("response")?,
                received_at: row.try_get("answered_at")?,
                answer: Answer::from_entry(record_of(&bytes)),
            })
        }
    };
    Ok(ShownReport {
        index: to_u64(row.try_get("idx")?),
        reporter: row.try_get("reporter")?,
        reporter_name: row.try_get::<Option<String>, _>("reporter_name")?.unwrap_or_default(),
        about: row.try_get("about")?,
        reported_kind: row.try_get("reported_kind")?,
        received_at: row.try_get("received_at")?,
        hidden_reason: row.try_get("hidden_reason")?,
        report: Report::from_entry(record_of(&bytes)),
        answer,
    })
}

/// The latest versions of reports (of one provider, and of one reported kind, if given),
/// newest first, each with its latest answer.
pub async fn shown(
    conn: &mut PgConnection,
    about: Option<&str>,
    reported_kind: Option<&str>,
    limit: i64,
) -> Result<Vec<ShownReport>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT r.idx, r.reporter, p.display_name AS reporter_name, r.about, r.reported_kind, r.received_at,
                r.hidden_reason, e.entry, a.idx AS answer_idx, a.response, a.received_at AS answered_at,
                ae.entry AS answer_entry
         FROM reports r
         JOIN ledger_entries e ON e.idx = r.idx
         LEFT JOIN providers p ON p.slug = r.reporter
         LEFT JOIN LATERAL (
             SELECT idx, response, received_at FROM report_answers WHERE report = r.idx ORDER BY idx DESC LIMIT 1
         ) a ON true
         LEFT JOIN ledger_entries ae ON ae.idx = a.idx
         WHERE ($1::text IS NULL OR r.about = $1) AND ($2::text IS NULL OR r.reported_kind = $2)
           AND NOT EXISTS (SELECT 1 FROM reports s WHERE s.supersedes = r.idx)
         ORDER BY r.idx DESC LIMIT $3",
    )
    .bind(about)
    .bind(reported_kind)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(shown_from_row).collect()
}

/// Per provider, the latest versions of reports about it that are shown in figures (not
/// hidden), have no answer, and were filed before `cutoff`.
pub async fn unanswered(conn: &mut PgConnection, cutoff: DateTime<Utc>) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT r.about, count(*) AS unanswered FROM reports r
         WHERE r.hidden_reason IS NULL AND r.received_at < $1
           AND NOT EXISTS (SELECT 1 FROM reports s WHERE s.supersedes = r.idx)
           AND NOT EXISTS (SELECT 1 FROM report_answers a WHERE a.report = r.idx)
         GROUP BY r.about ORDER BY r.about",
    )
    .bind(cutoff)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| Ok((row.try_get("about")?, row.try_get("unanswered")?))).collect()
}
