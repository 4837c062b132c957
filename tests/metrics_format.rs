//! `/metrics` as an operator's tools read it: after traffic that gives every
//! family samples, the exposition passes `promtool check metrics` (Debian's
//! `prometheus` package) with no complaint: names, units, `_total` counters,
//! HELP and TYPE, histogram buckets.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::{Server, data_dir, gatelog, run};

/// `promtool`, or `None` when it is missing outside CI. In CI (`CI` set) a missing
/// tool fails the test: the check must not pass by being skipped.
fn promtool() -> Option<Command> {
    let found = Command::new("promtool").arg("--version").output().is_ok_and(|out| out.status.success());
    match (found, std::env::var_os("CI").is_some()) {
        (true, _) => Some(Command::new("promtool")),
        (false, true) => {
            panic!("promtool not found: install Debian's prometheus package (apt-get install prometheus; .ci/run does)")
        }
        (false, false) => {
            eprintln!("skipped: promtool not found (apt-get install prometheus); CI fails instead");
            None
        }
    }
}

#[test]
fn metrics_pass_promtool_check_metrics() {
    let Some(mut promtool) = promtool() else { return };
    let dir = data_dir();
    let server = Server::start(dir.path(), &["--demo"]);

    // Traffic for every labelled family: pages (200 and 404), an export, an accepted
    // record and a rejected batch.
    assert_eq!(server.get("/providers/corvid-gpu").0, 200);
    assert_eq!(server.get("/providers/nobody").0, 404);
    assert_eq!(server.get("/data/lockups.csv").0, 200);
    let (status, token, stderr) = run(gatelog()
        .args(["token", "issue", "--provider", "corvid-gpu", "--label", "metrics", "--data-dir"])
        .arg(dir.path()));
    assert!(status.success(), "{stderr}");
    let auth = format!("Bearer {}", token.trim());
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    let record = r#"[{"kind":"capacity","as_of":"2030-01-01","resource":"nvidia-h100-80gb","region":"us-central","total_accelerators":10,"newcomer_set_aside":1}]"#;
    let (status, body) = support::http_post(&server.url, "/api/v1/records", &headers, record);
    assert_eq!(status, 201, "{body}");
    let (status, body) = support::http_post(&server.url, "/api/v1/records", &headers, "[{");
    assert!((400..500).contains(&status), "{status} {body}");

    let (status, text) = server.get("/metrics");
    assert_eq!(status, 200, "{text}");
    for family in [
        "gatelog_http_requests_total{",
        "gatelog_http_request_duration_seconds_bucket{",
        "gatelog_ingest_records_total{outcome=\"created\"}",
        "gatelog_ingest_batches_rejected_total{reason=\"malformed\"} 1",
        "gatelog_export_bytes_total{",
        "gatelog_requests_shed_total ",
        "gatelog_checkpoint_entries ",
        "gatelog_checkpoint_age_seconds ",
    ] {
        assert!(text.contains(family), "no sample of {family} in:\n{text}");
    }

    let mut child = promtool
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
    let out = child.wait_with_output().expect("promtool output");
    let complaints = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && complaints.trim().is_empty(), "promtool check metrics:\n{complaints}\n{text}");
}
