//! One PBS accounting record (one line) to a run or a counted skip. A record is
//! `MM/DD/YYYY HH:MM:SS;T;jobid;key=value key=value …`: T is the record type (E
//! when a job ends, R when it is rerun, D deleted, Q queued, S started, …) and the
//! times in the attributes are Unix epoch seconds. Values are separated by spaces;
//! a value holds a space only inside double or single quotes or parentheses
//! (`jobname="a b"`, `exec_vnode=(n1:ncpus=1)+(n2:ncpus=1)`), so the attributes are
//! split with those kept whole. Reference: the "Accounting" chapter of the OpenPBS /
//! PBS Professional Administrator's Guide (record types and their attributes).

use std::collections::BTreeMap;

/// Why a line does not count as a run of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// Q, S, A, L, M, T, reservation records…: the E record carries the job's times.
    OtherRecord,
    /// D: a deletion request. The job's own E record (if any) decides whether it counts.
    Deleted,
    /// `123[].server` (or a range `123[1-5]`): the array as a whole; its subjobs count.
    ArrayParent,
    /// An E or R record without `start`: deleted or aborted before it ran.
    NeverStarted,
    /// No `queue=` attribute.
    NoQueue,
    /// Neither `etime` nor `qtime`.
    NoOrigin,
    /// `start` before `etime` (or `qtime`).
    NegativeWait,
    /// `start` after the time of the run.
    FutureStart,
    /// A time that is not whole epoch seconds between 1970 and 2106.
    BadTime,
    /// Not `date;type;jobid;attributes`, or not UTF-8.
    Malformed,
    /// The queue is not in the queue map.
    UnmappedQueue,
    /// Another run of a job already counted (rerun, or the same E record twice).
    LaterRun,
}

impl Skip {
    /// The reason, for the summary.
    pub fn reason(self) -> &'static str {
        match self {
            Self::OtherRecord => "not an end record (Q, S, A, … : the E record carries the times)",
            Self::Deleted => "deletion record D (the job counts only if its E record has a start)",
            Self::ArrayParent => "array job as a whole (123[]): its subjobs 123[N] count",
            Self::NeverStarted => "never started (E record without start: deleted or aborted in the queue)",
            Self::NoQueue => "no queue attribute",
            Self::NoOrigin => "neither etime nor qtime",
            Self::NegativeWait => "negative wait (start before etime/qtime)",
            Self::FutureStart => "start in the future",
            Self::BadTime => "unreadable time (not epoch seconds)",
            Self::Malformed => "not date;type;jobid;attributes",
            Self::UnmappedQueue => "queue not in the queue map",
            Self::LaterRun => {
                "another run of a job already counted (rerun or repeated E record: the earliest start counts)"
            }
        }
    }

    /// A short stable name, for the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Self::OtherRecord => "other_record",
            Self::Deleted => "deleted",
            Self::ArrayParent => "array_parent",
            Self::NeverStarted => "never_started",
            Self::NoQueue => "no_queue",
            Self::NoOrigin => "no_origin",
            Self::NegativeWait => "negative_wait",
            Self::FutureStart => "future_start",
            Self::BadTime => "bad_time",
            Self::Malformed => "malformed",
            Self::UnmappedQueue => "unmapped_queue",
            Self::LaterRun => "later_run",
        }
    }
}

/// Where a line is: the file's position among the inputs and its 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// Index of the file in the order given.
    pub file: u16,
    /// 1-based line.
    pub line: u32,
}

/// Skips counted by reason, with the first place each was seen (in input order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped(pub BTreeMap<Skip, (u64, Location)>);

impl Skipped {
    /// Counts one skip at `at`.
    pub fn add(&mut self, skip: Skip, at: Location) {
        let entry = self.0.entry(skip).or_insert((0, at));
        entry.0 += 1;
        entry.1 = entry.1.min(at);
    }

    /// Adds another file's skips.
    pub fn merge(&mut self, other: Skipped) {
        for (skip, (count, first)) in other.0 {
            let entry = self.0.entry(skip).or_insert((0, first));
            entry.0 += count;
            entry.1 = entry.1.min(first);
        }
    }

    /// Total skipped.
    pub fn total(&self) -> u64 {
        self.0.values().map(|(n, _)| n).sum()
    }
}

/// One run of a job, from an E or R record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run<'a> {
    /// The queue it ran from.
    pub queue: &'a str,
    /// The job's identity: its id and creation time (`ctime`), hashed. PBS reuses ids
    /// once the sequence wraps (9,999,999 by default); ctime tells those jobs apart,
    /// while every run of one job keeps it.
    pub job: u64,
    /// Start, epoch seconds.
    pub start: u32,
    /// Wait in seconds.
    pub wait: u32,
    /// The wait is from `qtime` because the record has no `etime`.
    pub from_qtime: bool,
}

/// The attributes a run needs, as written.
#[derive(Default)]
struct Attributes<'a> {
    queue: Option<&'a str>,
    ctime: &'a str,
    qtime: Option<&'a str>,
    etime: Option<&'a str>,
    start: Option<&'a str>,
}

/// Splits `key=value` pairs at spaces outside quotes and parentheses and keeps the
/// few keys a run needs. Never allocates. PBS writes those keys before the long
/// ones (exec_vnode, Resource_List.*, resources_used.*), so it stops once it has all
/// five: a third of an end record is read rather than all of it.
fn attributes(text: &str) -> Attributes<'_> {
    let mut found = Attributes::default();
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b' ' {
            at += 1;
            continue;
        }
        let begin = at;
        let (mut quote, mut depth) = (0u8, 0u32);
        while at < bytes.len() {
            let c = bytes[at];
            if quote != 0 {
                if c == quote {
                    quote = 0;
                }
            } else if c == b'"' || c == b'\'' {
                quote = c;
            } else if c == b'(' {
                depth += 1;
            } else if c == b')' {
                depth = depth.saturating_sub(1);
            } else if c == b' ' && depth == 0 {
                break;
            }
            at += 1;
        }
        let pair = &text[begin..at];
        if let Some((key, value)) = pair.split_once('=') {
            match key {
                "queue" => found.queue = Some(value),
                "ctime" => found.ctime = value,
                "qtime" => found.qtime = Some(value),
                "etime" => found.etime = Some(value),
                "start" => found.start = Some(value),
                _ => continue,
            }
            if found.queue.is_some()
                && !found.ctime.is_empty()
                && found.qtime.is_some()
                && found.etime.is_some()
                && found.start.is_some()
            {
                break;
            }
        }
    }
    found
}

fn epoch(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `MM/DD/YYYY HH:MM:SS`, by shape only: the record's own time is not used.
fn looks_like_a_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, &c)| match i {
            2 | 5 => c == b'/',
            10 => c == b' ',
            13 | 16 => c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// 64-bit FNV-1a of the job id and ctime, finished with a splitmix step. Two different
/// jobs share a hash with probability about n²/2⁶⁵ (3 in a million at 10 million jobs).
fn job_hash(id: &str, ctime: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in id.as_bytes().iter().chain(b";").chain(ctime.as_bytes()) {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Reads one record (no line ending). `now` (epoch seconds) bounds start times.
pub fn run(line: &str, now: i64) -> Result<Run<'_>, Skip> {
    let mut parts = line.splitn(4, ';');
    let (Some(date), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Skip::Malformed);
    };
    if !looks_like_a_date(date) || id.is_empty() {
        return Err(Skip::Malformed);
    }
    match kind {
        "E" | "R" => {}
        "D" => return Err(Skip::Deleted),
        _ if kind.len() == 1 => return Err(Skip::OtherRecord),
        _ => return Err(Skip::Malformed),
    }
    if let Some((_, index)) = id.split_once('[') {
        let digits = index.split(']').next().unwrap_or("");
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(Skip::ArrayParent);
        }
    }
    let found = attributes(parts.next().unwrap_or(""));
    let start = match found.start {
        None | Some("" | "0") => return Err(Skip::NeverStarted),
        Some(start) => epoch(start).ok_or(Skip::BadTime)?,
    };
    let queue = found.queue.filter(|q| !q.is_empty()).ok_or(Skip::NoQueue)?;
    let (origin, from_qtime) = match (found.etime.filter(|t| !t.is_empty() && *t != "0"), found.qtime) {
        (Some(etime), _) => (etime, false),
        (None, Some(qtime)) if !qtime.is_empty() && qtime != "0" => (qtime, true),
        _ => return Err(Skip::NoOrigin),
    };
    let origin = epoch(origin).ok_or(Skip::BadTime)?;
    if i64::from(start) > now {
        return Err(Skip::FutureStart);
    }
    if start < origin {
        return Err(Skip::NegativeWait);
    }
    Ok(Run { queue, job: job_hash(id, found.ctime), start, wait: start - origin, from_qtime })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    const END: &str = "01/06/2026 11:00:00;E;1234.pbs01;user=ana group=hpc project=_pbs_project_default \
        jobname=\"train model start=1 queue=debug\" queue=workq ctime=1767603600 qtime=1767603600 \
        etime=1767607200 start=1767607230 exec_host=n1/0*8 exec_vnode=(n1:ncpus=8:ngpus=1)+(n2:ncpus=8) \
        Resource_List.ncpus=16 Resource_List.select=2:ncpus=8:ngpus=1 session=4242 end=1767610800 \
        Exit_status=0 resources_used.walltime=00:59:30 run_count=1";

    #[test]
    fn an_end_record_gives_queue_start_and_wait_from_etime() {
        let run = run(END, NOW).expect("counts");
        assert_eq!((run.queue, run.start, run.wait, run.from_qtime), ("workq", 1_767_607_230, 30, false));
    }

    #[test]
    fn quoted_values_and_parentheses_hide_their_spaces_and_equal_signs() {
        // The jobname holds "start=1 queue=debug": a naive split would read them.
        let found = attributes("jobname='a b start=3' x=(p q=1) queue=gpu start=10 note=\"c d\" tail=1");
        assert_eq!((found.queue, found.start), (Some("gpu"), Some("10")));
    }

    #[test]
    fn keys_after_the_long_attributes_are_still_found() {
        // Not PBS's order, but a record in any order reads the same.
        let line = "01/06/2026 11:00:00;E;7.s;Resource_List.select=1:ncpus=8 resources_used.mem=1kb \
            start=160 end=200 etime=100 queue=workq qtime=90";
        let run = run(line, NOW).expect("counts");
        assert_eq!((run.queue, run.wait, run.from_qtime), ("workq", 60, false));
    }

    #[test]
    fn without_etime_the_wait_is_from_qtime_and_says_so() {
        let line = "01/06/2026 11:00:00;E;7.s;queue=workq qtime=100 start=160 end=200";
        let run = run(line, NOW).expect("counts");
        assert_eq!((run.wait, run.from_qtime), (60, true));
    }

    #[test]
    fn ctime_tells_a_reused_id_apart_and_reruns_share_it() {
        let a = "01/06/2026 11:00:00;E;7.s;queue=q ctime=50 qtime=100 start=160";
        let b = "01/07/2026 11:00:00;E;7.s;queue=q ctime=90 qtime=100 start=170";
        let rerun = "01/06/2026 09:00:00;R;7.s;queue=q ctime=50 qtime=100 start=120";
        assert_ne!(run(a, NOW).expect("a").job, run(b, NOW).expect("b").job);
        assert_eq!(run(a, NOW).expect("a").job, run(rerun, NOW).expect("rerun").job);
    }

    #[test]
    fn every_odd_record_is_a_skip_with_its_reason() {
        let cases = [
            ("01/06/2026 10:00:00;Q;1.s;queue=workq", Skip::OtherRecord),
            ("01/06/2026 10:00:00;S;1.s;queue=workq qtime=1 etime=1 start=5", Skip::OtherRecord),
            ("01/06/2026 10:00:00;D;1.s;requestor=ana@login1", Skip::Deleted),
            ("01/06/2026 10:00:00;E;9[].s;queue=workq qtime=1 etime=1 start=5", Skip::ArrayParent),
            ("01/06/2026 10:00:00;E;9[1-4].s;queue=workq qtime=1 etime=1 start=5", Skip::ArrayParent),
            ("01/06/2026 10:00:00;E;1.s;queue=workq qtime=1 etime=1 Exit_status=271", Skip::NeverStarted),
            ("01/06/2026 10:00:00;E;1.s;qtime=1 etime=1 start=5", Skip::NoQueue),
            ("01/06/2026 10:00:00;E;1.s;queue=workq start=5", Skip::NoOrigin),
            ("01/06/2026 10:00:00;E;1.s;queue=workq etime=9 start=5", Skip::NegativeWait),
            ("01/06/2026 10:00:00;E;1.s;queue=workq etime=9 start=1900000000", Skip::FutureStart),
            ("01/06/2026 10:00:00;E;1.s;queue=workq etime=9 start=yesterday", Skip::BadTime),
            ("01/06/2026 10:00:00;E;1.s;queue=workq etime=-9 start=5", Skip::BadTime),
            ("2026-01-06 10:00:00;E;1.s;queue=workq etime=1 start=5", Skip::Malformed),
            ("01/06/2026 10:00:00;E", Skip::Malformed),
            ("01/06/2026 10:00:00;End;1.s;queue=workq etime=1 start=5", Skip::Malformed),
        ];
        for (line, skip) in cases {
            assert_eq!(run(line, NOW).map(|_| ()), Err(skip), "{line}");
        }
        let subjob = run("01/06/2026 10:00:00;E;9[3].s;queue=workq qtime=1 etime=1 start=5", NOW).expect("subjob");
        assert_eq!(subjob.wait, 4);
    }

    proptest! {
        /// Any text is a run or a skip, never a panic.
        #[test]
        fn any_line_is_a_run_or_a_skip(line in "[0-9/ :;EDRQS.\\[\\]a-z=\"'()]{0,120}") {
            let _ = run(&line, NOW);
        }

        /// A start and an etime anywhere in range give exactly their difference.
        #[test]
        fn waits_are_exact(etime in 1u32..2_000_000_000, wait in 0u32..100_000_000) {
            let start = etime.saturating_add(wait);
            let line = format!("01/06/2026 10:00:00;E;5.s;queue=q etime={etime} qtime=0 start={start}");
            let got = run(&line, i64::MAX).expect("counts");
            prop_assert_eq!(got.wait, start - etime);
        }
    }
}
