//! Reports by others and the provider's answers, as scorecards and `/lockups` show them
//! (issue 19): apart from the provider's own disclosures, each with its sources, its
//! reporter, and the provider's answer or how long it has gone unanswered. They are never
//! in the figures; a distrusted reporter's reports are listed with the reason they are hidden.

use chrono::{DateTime, Utc};

use crate::AppState;
use crate::db::reports::ShownReport;
use crate::error::AppError;
use crate::records::reports::Response;

/// Most reports a page lists.
const MAX_SHOWN: i64 = 100;

/// One report, ready for a template.
#[derive(Debug, Clone)]
pub struct ReportView {
    /// Its entry index.
    pub index: u64,
    /// Reporter slug and name.
    pub reporter: String,
    pub reporter_name: String,
    /// The provider it is about.
    pub about: String,
    /// `lock-up` or `price`.
    pub reported_kind: &'static str,
    /// What it says, as `field: value` pairs.
    pub says: String,
    pub sources: Vec<String>,
    /// When the source was published.
    pub published: String,
    /// The quotation or note.
    pub quotation: String,
    /// When the log received it.
    pub filed: String,
    /// Why it is hidden from figures and counts, if it is.
    pub hidden_reason: Option<String>,
    /// The provider's answer in words, if any.
    pub answer: Option<String>,
    /// The answer's entry.
    pub answer_index: Option<u64>,
    /// Whether it counts as unanswered (no answer after the configured days).
    pub overdue: bool,
    /// Days since it was filed.
    pub age_days: i64,
    /// Why it no longer decodes, if it does not.
    pub unreadable: Option<String>,
}

fn words(map: &serde_json::Map<String, serde_json::Value>) -> String {
    map.iter()
        .map(|(k, v)| format!("{}: {}", k.replace('_', " "), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn view(report: ShownReport, now: DateTime<Utc>, unanswered_days: i64) -> ReportView {
    let age_days = (now - report.received_at).num_days().max(0);
    let answer = report.answer.as_ref().map(|a| match &a.answer {
        Err(unreadable) => format!("{} (unreadable under today's rules: {})", a.response, unreadable.reason),
        Ok(answer) => {
            let statement = answer.statement.as_deref().map(|s| format!(" “{s}”")).unwrap_or_default();
            match answer.response {
                Response::Confirm => format!(
                    "Confirmed by the provider, disclosed in entry {}.{statement}",
                    answer.disclosure_entry.unwrap_or_default()
                ),
                Response::Dispute => format!("Disputed by the provider:{statement}"),
                Response::Correct => format!(
                    "Corrected by the provider: {}.{statement}",
                    answer.corrections.as_ref().map(words).unwrap_or_default()
                ),
            }
        }
    });
    let (says, sources, published, quotation, unreadable) = match &report.report {
        Ok(r) => (words(&r.fields), r.sources.clone(), r.published_date.to_string(), r.quotation.clone(), None),
        Err(u) => (String::new(), Vec::new(), String::new(), String::new(), Some(u.reason.clone())),
    };
    ReportView {
        index: report.index,
        reporter_name: if report.reporter_name.is_empty() { report.reporter.clone() } else { report.reporter_name },
        reporter: report.reporter,
        about: report.about,
        reported_kind: if report.reported_kind == "price" { "price" } else { "lock-up" },
        says,
        sources,
        published,
        quotation,
        filed: report.received_at.format("%Y-%m-%d").to_string(),
        overdue: report.answer.is_none() && report.hidden_reason.is_none() && age_days >= unanswered_days,
        hidden_reason: report.hidden_reason,
        answer_index: report.answer.as_ref().map(|a| a.index),
        answer,
        age_days,
        unreadable,
    }
}

/// The reports (of one provider, of one reported kind) as pages show them, newest first.
pub async fn shown(
    state: &AppState,
    about: Option<&str>,
    reported_kind: Option<&str>,
) -> Result<Vec<ReportView>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let reports = crate::db::reports::shown(&mut conn, about, reported_kind, MAX_SHOWN).await?;
    let days = i64::from(state.unanswered_days.get());
    let now = Utc::now();
    Ok(reports.into_iter().map(|r| view(r, now, days)).collect())
}
