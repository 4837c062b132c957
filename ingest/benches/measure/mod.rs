//! Timing a collector run for the benches.

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a command under GNU time; returns (wall time, peak RSS MB, stdout, stderr).
pub fn measured(program: &str, args: &[String]) -> (Duration, f64, String, String) {
    let started = Instant::now();
    let out = Command::new("/usr/bin/time").arg("-f").arg("%M").arg(program).args(args).output().expect("run");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{program}: {stderr}");
    let kb: f64 = stderr.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(f64::NAN);
    (elapsed, kb / 1024.0, String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}
