//! Reading `sacct --parsable2` output a line at a time: the header names the
//! columns; each job line becomes a (partition, start, wait) or a counted skip
//! with its reason. Nothing is held but the current line.

use std::collections::BTreeMap;
use std::io::BufRead;

/// Which timestamp a wait is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitFrom {
    /// `Eligible`: when the job could start (dependencies met, not held, in its begin
    /// window). The default: time a job waited for the scheduler, not for itself.
    #[default]
    Eligible,
    /// `Submit`: when the user submitted it (includes holds and dependency waits).
    Submit,
}

impl WaitFrom {
    fn column(self) -> &'static str {
        match self {
            Self::Eligible => "Eligible",
            Self::Submit => "Submit",
        }
    }
}

/// Why the input is not usable at all.
#[derive(Debug, thiserror::Error)]
pub enum SacctError {
    /// Reading failed (a truncated gzip lands here).
    #[error("reading line {line}: {source}")]
    Read {
        /// 1-based line.
        line: u64,
        source: std::io::Error,
    },
    /// The first line is not a parsable2 header.
    #[error(
        "not `sacct --parsable2` output: the first line should be a header such as \
         JobID|Partition|Submit|Eligible|Start|End|State, found {0:?}"
    )]
    NotSacct(String),
    /// A needed column is missing.
    #[error(
        "the header has no {0} column; run sacct with --format=JobID,Partition,Submit,Eligible,Start,End,State --parsable2"
    )]
    MissingColumn(&'static str),
    /// The file is empty.
    #[error("the input is empty")]
    Empty,
}

/// A job that counts: where it ran, when it started, how long it waited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job<'a> {
    /// Partition name.
    pub partition: &'a str,
    /// Start, seconds since the Unix epoch (sacct's local time, read as written).
    pub start: i64,
    /// Wait in seconds.
    pub wait: i64,
}

/// Why a line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    /// `123.batch`, `123.extern`, `123.0`: a step of a job, not a job.
    JobStep,
    /// `123+1`: a later component of a heterogeneous job (counted once, as `+0`).
    HetComponent,
    /// Start is `Unknown`, `None` or empty.
    NeverStarted,
    /// The wait's origin is `Unknown`, `None` or empty.
    NoOrigin,
    /// Start before the origin.
    NegativeWait,
    /// Start after the time of the run.
    FutureStart,
    /// A timestamp that is not `YYYY-MM-DDTHH:MM:SS`.
    BadTime,
    /// Not as many fields as the header.
    Malformed,
    /// The partition is not in the map.
    UnmappedPartition,
}

impl Skip {
    /// A short stable name, for the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Self::JobStep => "job_step",
            Self::HetComponent => "het_component",
            Self::NeverStarted => "never_started",
            Self::NoOrigin => "no_origin",
            Self::NegativeWait => "negative_wait",
            Self::FutureStart => "future_start",
            Self::BadTime => "bad_time",
            Self::Malformed => "malformed",
            Self::UnmappedPartition => "unmapped_partition",
        }
    }

    /// The reason, for the summary.
    pub fn reason(self) -> &'static str {
        match self {
            Self::JobStep => "job step (123.batch, 123.0): not a job",
            Self::HetComponent => "heterogeneous job component after +0 (the job counts once)",
            Self::NeverStarted => "never started (Start is Unknown/None)",
            Self::NoOrigin => "no Eligible/Submit time (Unknown/None)",
            Self::NegativeWait => "negative wait (Start before Eligible/Submit)",
            Self::FutureStart => "start in the future",
            Self::BadTime => "unreadable timestamp",
            Self::Malformed => "wrong number of fields for the header",
            Self::UnmappedPartition => "partition not in the partition map",
        }
    }
}

/// Skips counted by reason, with the first line of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped(pub BTreeMap<Skip, (u64, u64)>);

impl Skipped {
    /// Counts one skip at `line`.
    pub fn add(&mut self, skip: Skip, line: u64) {
        let entry = self.0.entry(skip).or_insert((0, line));
        entry.0 += 1;
    }

    /// Adds another part's skips, whose line numbers were counted from `offset`.
    pub fn merge(&mut self, other: Skipped, offset: u64) {
        for (skip, (count, first)) in other.0 {
            let entry = self.0.entry(skip).or_insert((0, first + offset));
            entry.0 += count;
            entry.1 = entry.1.min(first + offset);
        }
    }

    /// Total skipped.
    pub fn total(&self) -> u64 {
        self.0.values().map(|(n, _)| n).sum()
    }
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` (fixed positions, no allocation).
pub fn parse_time(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[range] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn unset(text: &str) -> bool {
    matches!(text, "" | "Unknown" | "None")
}

/// Column positions from the header.
#[derive(Debug, Clone, Copy)]
pub struct Columns {
    count: usize,
    job: usize,
    partition: usize,
    origin: usize,
    start: usize,
}

impl Columns {
    /// Reads the header line.
    pub fn from_header(header: &str, from: WaitFrom) -> Result<Self, SacctError> {
        let names: Vec<&str> = header.trim_end_matches(['\r', '\n']).split('|').collect();
        if !names.contains(&"JobID") {
            return Err(SacctError::NotSacct(header.chars().take(80).collect()));
        }
        let find = |name: &'static str| names.iter().position(|n| *n == name).ok_or(SacctError::MissingColumn(name));
        Ok(Self {
            count: names.len(),
            job: find("JobID")?,
            partition: find("Partition")?,
            origin: find(from.column())?,
            start: find("Start")?,
        })
    }
}

/// Reads sacct output from `input`, calling `job` for every job that counts (it may
/// still refuse one, with a reason) and recording every skip. `now` (epoch seconds)
/// bounds start times. Returns how many jobs were taken.
pub fn read(
    mut input: impl BufRead,
    from: WaitFrom,
    now: i64,
    job: impl FnMut(Job<'_>) -> Result<(), Skip>,
    skipped: &mut Skipped,
) -> Result<u64, SacctError> {
    let mut header = Vec::new();
    let n = input.read_until(b'\n', &mut header).map_err(|source| SacctError::Read { line: 1, source })?;
    if n == 0 {
        return Err(SacctError::Empty);
    }
    let columns = Columns::from_header(&String::from_utf8_lossy(&header), from)?;
    read_body(input, columns, now, 2, job, skipped).map(|(counted, _)| counted)
}

/// Reads job lines (no header) numbered from `first_line`; returns (jobs taken, lines read).
pub fn read_body(
    mut input: impl BufRead,
    columns: Columns,
    now: i64,
    first_line: u64,
    mut job: impl FnMut(Job<'_>) -> Result<(), Skip>,
    skipped: &mut Skipped,
) -> Result<(u64, u64), SacctError> {
    let mut buffer = Vec::with_capacity(256);
    let mut number = first_line;
    let mut counted = 0u64;
    let mut lines = 0u64;
    loop {
        buffer.clear();
        let n = input.read_until(b'\n', &mut buffer).map_err(|source| SacctError::Read { line: number, source })?;
        if n == 0 {
            break;
        }
        lines += 1;
        let line = match std::str::from_utf8(&buffer) {
            Ok(text) => text.trim_end_matches(['\r', '\n']),
            Err(_) => {
                skipped.add(Skip::Malformed, number);
                number += 1;
                continue;
            }
        };
        if !line.is_empty() {
            match classify(line, columns, now).and_then(&mut job) {
                Ok(()) => counted += 1,
                Err(skip) => skipped.add(skip, number),
            }
        }
        number += 1;
    }
    Ok((counted, lines))
}

fn classify(line: &str, c: Columns, now: i64) -> Result<Job<'_>, Skip> {
    let mut fields: [&str; 64] = [""; 64];
    let mut n = 0;
    for field in line.split('|') {
        if n < fields.len() {
            fields[n] = field;
        }
        n += 1;
    }
    if n != c.count || n > fields.len() {
        return Err(Skip::Malformed);
    }
    let id = fields[c.job];
    if id.contains('.') {
        return Err(Skip::JobStep);
    }
    if let Some((_, component)) = id.split_once('+')
        && component != "0"
    {
        return Err(Skip::HetComponent);
    }
    let (start, origin) = (fields[c.start], fields[c.origin]);
    if unset(start) {
        return Err(Skip::NeverStarted);
    }
    if unset(origin) {
        return Err(Skip::NoOrigin);
    }
    let start = parse_time(start).ok_or(Skip::BadTime)?;
    let origin = parse_time(origin).ok_or(Skip::BadTime)?;
    if start > now {
        return Err(Skip::FutureStart);
    }
    if start < origin {
        return Err(Skip::NegativeWait);
    }
    Ok(Job { partition: fields[c.partition], start, wait: start - origin })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NOW: i64 = 1_800_000_000; // 2027-01-15

    fn run(text: &str) -> (Vec<(String, i64)>, Skipped) {
        let mut jobs = Vec::new();
        let mut skipped = Skipped::default();
        read(
            text.as_bytes(),
            WaitFrom::Eligible,
            NOW,
            |j| {
                jobs.push((j.partition.to_owned(), j.wait));
                Ok(())
            },
            &mut skipped,
        )
        .expect("parses");
        (jobs, skipped)
    }

    #[test]
    fn times_are_read_exactly() {
        assert_eq!(parse_time("1970-01-01T00:00:00"), Some(0));
        assert_eq!(parse_time("2026-01-05T10:00:30"), Some(1_767_607_230));
        assert_eq!(parse_time("2024-02-29T23:59:59"), Some(1_709_251_199));
        for bad in ["Unknown", "2026-13-01T00:00:00", "2026-01-05 10:00:00", "2026-01-05T10:00", ""] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_odd_line_form_is_handled() {
        let text = "JobID|Partition|Submit|Eligible|Start|End|State\n\
            100|gpu|2026-01-05T09:00:00|2026-01-05T10:00:00|2026-01-05T10:00:30|2026-01-05T11:00:00|COMPLETED\n\
            100.batch|gpu|2026-01-05T09:00:00|2026-01-05T10:00:00|2026-01-05T10:00:30|2026-01-05T11:00:00|COMPLETED\n\
            100.extern|gpu|2026-01-05T09:00:00|2026-01-05T10:00:00|2026-01-05T10:00:30|2026-01-05T11:00:00|COMPLETED\n\
            100.0|gpu|2026-01-05T09:00:00|2026-01-05T10:00:00|2026-01-05T10:00:30|2026-01-05T11:00:00|COMPLETED\n\
            200_4|gpu|2026-01-05T09:00:00|2026-01-05T10:00:00|2026-01-05T10:01:00|2026-01-05T11:00:00|COMPLETED\n\
            200_[5-9]|gpu|2026-01-05T09:00:00|2026-01-05T10:00:00|Unknown|Unknown|PENDING\n\
            300+0|cpu|2026-01-05T09:00:00|2026-01-05T10:00:00|2026-01-05T10:02:00|2026-01-05T11:00:00|COMPLETED\n\
            300+1|cpu|2026-01-05T09:00:00|2026-01-05T10:00:00|2026-01-05T10:02:00|2026-01-05T11:00:00|COMPLETED\n\
            400|gpu|2026-01-05T09:00:00|Unknown|None|Unknown|CANCELLED by 0\n\
            401|gpu|2026-01-05T09:00:00|None|2026-01-05T10:00:00|Unknown|FAILED\n\
            500|gpu|2026-01-05T09:00:00|2026-01-05T10:00:00|2026-01-05T09:59:00|2026-01-05T11:00:00|COMPLETED\n\
            600|gpu|2026-01-05T09:00:00|2030-01-05T10:00:00|2030-01-05T10:00:00|Unknown|RUNNING\n\
            700|gpu|garbage\n\
            800|gpu|2026-01-05T09:00:00|2026-01-05T10:00:00|yesterday|2026-01-05T11:00:00|COMPLETED\n";
        let (jobs, skipped) = run(text);
        assert_eq!(jobs, vec![("gpu".into(), 30), ("gpu".into(), 60), ("cpu".into(), 120)]);
        let counts: Vec<(Skip, u64)> = skipped.0.iter().map(|(k, (n, _))| (*k, *n)).collect();
        assert_eq!(
            counts,
            vec![
                (Skip::JobStep, 3),
                (Skip::HetComponent, 1),
                (Skip::NeverStarted, 2),
                (Skip::NoOrigin, 1),
                (Skip::NegativeWait, 1),
                (Skip::FutureStart, 1),
                (Skip::BadTime, 1),
                (Skip::Malformed, 1),
            ]
        );
        assert_eq!(skipped.0[&Skip::JobStep].1, 3, "first seen on line 3");
    }

    #[test]
    fn submit_can_be_the_origin_instead() {
        let text = "JobID|Partition|Submit|Eligible|Start\n1|gpu|2026-01-05T09:00:00|2026-01-05T10:00:00|2026-01-05T10:00:30\n";
        let mut waits = Vec::new();
        read(
            text.as_bytes(),
            WaitFrom::Submit,
            NOW,
            |j| {
                waits.push(j.wait);
                Ok(())
            },
            &mut Skipped::default(),
        )
        .expect("parses");
        assert_eq!(waits, [3630]);
    }

    #[test]
    fn unusable_inputs_are_explained() {
        let error = |text: &str| {
            read(text.as_bytes(), WaitFrom::Eligible, NOW, |_| Ok(()), &mut Skipped::default())
                .expect_err("refused")
                .to_string()
        };
        assert!(error("").contains("empty"));
        assert!(error("hello,world\n1,2\n").contains("not `sacct --parsable2` output"));
        assert!(error("JobID|Partition|Eligible|End\n").contains("no Start column"));
    }

    proptest! {
        /// Any line is a job or a counted skip; never a panic, never lost.
        #[test]
        fn any_line_is_counted_once(lines in proptest::collection::vec("[-0-9a-zA-Z_.+|:T\\[\\] ]{0,90}", 0..40)) {
            let text = format!("JobID|Partition|Submit|Eligible|Start|End|State\n{}\n", lines.join("\n"));
            let mut skipped = Skipped::default();
            let counted = read(text.as_bytes(), WaitFrom::Eligible, NOW, |_| Ok(()), &mut skipped).expect("header is fine");
            let nonempty = lines.iter().filter(|l| !l.trim_end_matches('\r').is_empty()).count() as u64;
            prop_assert_eq!(counted + skipped.total(), nonempty);
        }
    }
}
