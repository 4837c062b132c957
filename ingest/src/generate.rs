//! Synthetic `sacct --parsable2` output of any size, for tests and benchmarks:
//! realistic partitions, states, job steps, array and heterogeneous jobs, and
//! waits that differ by partition. Deterministic for a seed.

use std::io::Write;

/// Columns, as `sacct --parsable2 --format=…` prints them.
pub const HEADER: &str = "JobID|Partition|Submit|Eligible|Start|End|State|AllocTRES|QOS|Account";

/// Partitions with their median wait (seconds) and share of jobs.
pub const PARTITIONS: [(&str, f64, f64); 4] =
    [("gpu", 1800.0, 0.45), ("gpu-large", 14_400.0, 0.15), ("cpu", 300.0, 0.3), ("debug", 20.0, 0.1)];

/// xorshift64*: small, deterministic for a seed, good enough for synthetic logs.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_else(|| "Unknown".into())
}

/// Writes a header and `rows` lines (jobs and their steps) whose jobs start between
/// `first` and `last` (epoch seconds).
pub fn write(out: &mut impl Write, rows: u64, first: i64, last: i64, seed: u64) -> std::io::Result<()> {
    let mut rng = Rng(seed.max(1));
    writeln!(out, "{HEADER}")?;
    let mut written = 0u64;
    let mut id = 1_000_000u64;
    let span = (last - first).max(1) as f64;
    while written < rows {
        id += 1;
        let pick = rng.unit();
        let mut acc = 0.0;
        let (partition, median, _) = PARTITIONS
            .iter()
            .find(|(_, _, share)| {
                acc += share;
                pick < acc
            })
            .copied()
            .unwrap_or(PARTITIONS[0]);
        let submit = first + (rng.unit() * span) as i64;
        let eligible = submit + if rng.unit() < 0.1 { (rng.unit() * 3600.0) as i64 } else { 0 };
        // Exponential waits around the partition's median.
        let wait = (-(1.0 - rng.unit()).ln() * median / std::f64::consts::LN_2) as i64;
        let start = eligible + wait;
        let end = start + 60 + (rng.unit() * 86_400.0) as i64;
        let state = rng.unit();
        let (start_text, end_text, state_text) = if state < 0.03 {
            ("Unknown".to_owned(), "Unknown".to_owned(), "PENDING")
        } else if state < 0.06 {
            ("None".to_owned(), time(submit + 120), "CANCELLED by 1001")
        } else if state < 0.08 {
            (time(start), "Unknown".to_owned(), "RUNNING")
        } else if state < 0.15 {
            (time(start), time(end), "FAILED")
        } else if state < 0.2 {
            (time(start), time(end), "TIMEOUT")
        } else {
            (time(start), time(end), "COMPLETED")
        };
        let kind = rng.unit();
        let gpus = if partition.starts_with("gpu") { 1 + rng.next() % 8 } else { 0 };
        let tres = if gpus > 0 {
            format!("billing={gpus},cpu={},gres/gpu={gpus},mem=64G,node=1", gpus * 8)
        } else {
            "billing=4,cpu=4,mem=16G,node=1".into()
        };
        let account = ["physics", "bio", "startup-x", "students", "climate"][(rng.next() % 5) as usize];
        let job_id = if kind < 0.1 {
            format!("{id}_{}", rng.next() % 64)
        } else if kind < 0.12 {
            format!("{id}+0")
        } else {
            id.to_string()
        };
        let line = |job: &str, state: &str| {
            format!(
                "{job}|{partition}|{}|{}|{start_text}|{end_text}|{state}|{tres}|normal|{account}",
                time(submit),
                time(eligible)
            )
        };
        writeln!(out, "{}", line(&job_id, state_text))?;
        written += 1;
        if (0.1..0.12).contains(&kind) && written < rows {
            writeln!(out, "{}", line(&format!("{id}+1"), state_text))?;
            written += 1;
        }
        // Started jobs have a batch step and an extern step, sometimes an srun step.
        if state >= 0.06 {
            for step in ["batch", "extern", "0"] {
                if written >= rows || (step == "0" && rng.unit() < 0.5) {
                    continue;
                }
                writeln!(out, "{}", line(&format!("{job_id}.{step}"), state_text))?;
                written += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sacct::parse::{Skipped, WaitFrom, read};

    #[test]
    fn generated_files_parse_with_every_line_accounted_for() {
        let mut out = Vec::new();
        write(&mut out, 5_000, 1_767_225_600, 1_772_323_200, 7).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().count(), 5_001);
        let mut skipped = Skipped::default();
        let jobs = read(text.as_bytes(), WaitFrom::Eligible, i64::MAX, |_| Ok(()), &mut skipped).expect("parse");
        assert_eq!(jobs + skipped.total(), 5_000);
        assert!(jobs > 1_000, "{jobs}");
        assert!(skipped.0.contains_key(&crate::sacct::Skip::JobStep));
        assert!(skipped.0.contains_key(&crate::sacct::Skip::NeverStarted));
    }
}
