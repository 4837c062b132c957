//! `gatelog-collect pbs` against a real Gatelog site: the dry run prints what it
//! would send, the site takes every record and publishes it, a second run changes nothing, and the
//! report (one human line, one JSON object) and the exit codes say so.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::Site;

const QUEUES: &str = r#"
[queues.workq]
resource = "nvidia-h100-80gb"
region = "eu-fi"
tier = "allocation"
[queues.gpu_large]
resource = "nvidia-h100-80gb"
region = "eu-fi"
tier = "reserved"
[queues.debug]
resource = "nvidia-h100-80gb"
region = "eu-fi"
tier = "on_demand"
"#;

fn collect(args: &[&str], files: &[PathBuf]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatelog-collect"))
        .env_remove("GATELOG_URL")
        .env_remove("GATELOG_TOKEN")
        .arg("pbs")
        .args(files)
        .args(args)
        .output()
        .expect("gatelog-collect pbs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn pbs_logs_are_pushed_once_and_reported_in_a_line_and_in_json() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    let dir = tempfile::tempdir().expect("dir");
    let logs = dir.path().join("accounting");
    let generated = Command::new(env!("CARGO_BIN_EXE_gatelog-collect"))
        .args(["gen-pbs", "--records", "6000", "--months", "3", "--gzip", "--queued-and-started", "--dir"])
        .arg(&logs)
        .status()
        .expect("gen-pbs");
    assert!(generated.success());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&logs).expect("dir").map(|e| e.expect("entry").path()).collect();
    files.sort();
    let map = dir.path().join("queues.toml");
    std::fs::write(&map, QUEUES).expect("map");
    let map = map.to_str().expect("path");

    let dry = collect(&["--queues", map, "--dry-run"], &files);
    let stderr = text(&dry.stderr);
    assert!(dry.status.success(), "{stderr}");
    let records: Vec<serde_json::Value> =
        text(&dry.stdout).lines().map(|l| serde_json::from_str(l).expect("one JSON record per line")).collect();
    assert!(records.len() >= 9 && records.len() <= 12, "3 tiers × 3-4 months: {}", records.len());
    for needle in
        ["array job as a whole", "another run of a job already counted", "deletion record D", "queue \"cpu\" is not in"]
    {
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
    }
    assert!(stderr.contains("none sent (dry run)"), "{stderr}");
    assert_eq!(site.entries(), 0, "a dry run sends nothing");

    let send = || {
        let out = collect(&["--queues", map, "--json", "--url", &site.url, "--token", &token], &files);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).expect("one JSON report");
        (report, text(&out.stderr))
    };
    let (first, line) = send();
    assert_eq!(first["pushed"]["created"], records.len());
    assert_eq!(first["summary"]["skipped"]["array_parent"]["count"].as_u64().map(|n| n > 0), Some(true));
    assert!(first["summary"]["waits_from_qtime"].as_u64().is_some_and(|n| n > 0));
    assert!(line.contains(&format!(
        "{} records sent: {} created, 0 amended, 0 unchanged",
        records.len(),
        records.len()
    )));
    assert_eq!(site.entries(), records.len() as i64);
    site.assert_publishes("nordic-hpc", &records);
    let (second, _) = send();
    assert_eq!(
        (second["pushed"]["created"].as_u64(), second["pushed"]["unchanged"].as_u64()),
        (Some(0), Some(records.len() as u64))
    );
    assert_eq!(site.entries(), records.len() as i64);
}

#[test]
fn exit_codes_say_nothing_counted_unusable_input_and_wrong_usage() {
    let dir = tempfile::tempdir().expect("dir");
    let map = dir.path().join("queues.toml");
    std::fs::write(&map, QUEUES).expect("map");
    let map = map.to_str().expect("path");
    let queued_only = dir.path().join("20260105");
    std::fs::write(&queued_only, "01/05/2026 10:00:00;Q;1.s;queue=workq\n").expect("write");
    let nothing = collect(&["--queues", map, "--dry-run"], std::slice::from_ref(&queued_only));
    assert_eq!(nothing.status.code(), Some(3), "{}", text(&nothing.stderr));

    let sacct = dir.path().join("sacct.txt");
    std::fs::write(&sacct, "JobID|Partition|Start\n1|gpu|2026-01-01T00:00:00\n").expect("write");
    let unusable = collect(&["--queues", map, "--dry-run"], &[sacct]);
    assert_eq!(unusable.status.code(), Some(1));
    assert!(text(&unusable.stderr).contains("not a PBS accounting log"));

    let both = collect(&["--queues", map, "--dry-run", "--json"], &[queued_only]);
    assert_eq!(both.status.code(), Some(2), "--dry-run and --json both use stdout");
}
