//! The `gatelog-collect` binary against a real Gatelog site: sacct in and out,
//! and a bulk import killed mid-file and resumed.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Answer, FeedServer, Site, capacity_csv};

fn collect() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatelog-collect"));
    command.env_remove("GATELOG_URL").env_remove("GATELOG_TOKEN");
    command
}

const MAP: &str = r#"
[partitions.gpu]
resource = "nvidia-h100-80gb"
region = "eu-fi"
tier = "allocation"
[partitions.gpu-large]
resource = "nvidia-h100-80gb"
region = "eu-fi"
tier = "reserved"
[partitions.debug]
resource = "nvidia-h100-80gb"
region = "eu-fi"
tier = "on_demand"
"#;

#[test]
fn sacct_dry_run_prints_exactly_what_it_would_send_and_sending_twice_creates_nothing_new() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    let dir = tempfile::tempdir().expect("dir");
    let map = dir.path().join("partitions.toml");
    std::fs::write(&map, MAP).expect("map");
    let file = dir.path().join("sacct.txt.gz");
    let status = collect()
        .args(["gen-sacct", "--rows", "20000", "--months", "3", "--out"])
        .arg(&file)
        .status()
        .expect("gen-sacct");
    assert!(status.success());

    let dry = collect().arg("sacct").arg(&file).arg("--partitions").arg(&map).arg("--dry-run").output().expect("sacct");
    let stderr = String::from_utf8_lossy(&dry.stderr);
    assert!(dry.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&dry.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON record per line"))
        .collect();
    assert!(lines.len() >= 9 && lines.len() <= 12, "3 tiers × 3-4 months: {}", lines.len());
    assert!(lines.iter().all(|r| r["kind"] == "queue_time"));
    assert!(stderr.contains("skipped") && stderr.contains("job step"), "{stderr}");
    assert!(stderr.contains("partition \"cpu\" is not in"), "{stderr}");
    assert_eq!(site.entries(), 0, "a dry run sends nothing");

    let send = |expect: &str| {
        let out = collect()
            .arg("sacct")
            .arg(&file)
            .arg("--partitions")
            .arg(&map)
            .args(["--url", &site.url, "--token", &token, "--json"])
            .output()
            .expect("sacct");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success() && stderr.contains(expect), "expected {expect:?} in {stderr}");
        assert_eq!(stderr.lines().filter(|l| l.starts_with("sacct: ")).count(), 1, "one report line: {stderr}");
        let report: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("one JSON report");
        assert_eq!(
            (report["collector"].as_str(), report["records"].as_u64()),
            (Some("sacct"), Some(lines.len() as u64))
        );
        assert!(report["summary"]["skipped"]["job_step"]["count"].as_u64().is_some_and(|n| n > 0), "{report}");
    };
    send(&format!("{} created, 0 amended, 0 unchanged", lines.len()));
    assert_eq!(site.entries(), lines.len() as i64);
    site.assert_publishes("nordic-hpc", &lines);
    send(&format!("0 created, 0 amended, {} unchanged", lines.len()));
    assert_eq!(site.entries(), lines.len() as i64);
}

#[test]
fn unusable_sacct_input_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let map = dir.path().join("partitions.toml");
    std::fs::write(&map, MAP).expect("map");
    let run = |name: &str, content: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        let out =
            collect().arg("sacct").arg(&path).arg("--partitions").arg(&map).arg("--dry-run").output().expect("run");
        assert!(!out.status.success(), "{name} should fail");
        assert!(out.stdout.is_empty(), "nothing half-sent or half-printed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(run("jobs.csv", b"id,start\n1,2\n").contains("not `sacct --parsable2` output"));
    assert!(run("nostart.txt", b"JobID|Partition|Eligible|End\n1|gpu|Unknown|Unknown\n").contains("no Start column"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, "JobID|Partition|Eligible|Start\n".repeat(2000).as_bytes()).expect("gz");
    let bytes = gz.finish().expect("gz");
    assert!(run("cut.gz", &bytes[..bytes.len() / 2]).contains("reading line"));
}

#[test]
fn an_import_killed_mid_file_resumes_and_every_row_lands_exactly_once() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("capacity.csv");
    let rows = 20_000;
    std::fs::write(&file, capacity_csv(rows, &[5, 12_345])).expect("csv");
    let state = dir.path().join("capacity.csv.import-state.json");
    let import = || {
        let mut command = collect();
        command
            .arg("import")
            .arg(&file)
            .args(["--kind", "capacity", "--batch", "250", "--url", &site.url, "--token", &token])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    };
    let mut child = import().spawn().expect("import");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = std::fs::read(&state)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["rows_done"].as_u64())
            .unwrap_or(0);
        if done >= 2_000 {
            break;
        }
        assert!(Instant::now() < deadline, "the import made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    let partial = site.entries();
    assert!(partial > 0 && partial < rows as i64 - 2, "killed mid-file: {partial} entries");

    let out = import().output().expect("resume");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(site.entries(), rows as i64 - 2, "every valid row exactly once");
    assert!(stderr.contains("2 rejected"), "{stderr}");
    assert!(!state.exists(), "the state file goes once the import is complete");
    let rejects = std::fs::read_to_string(dir.path().join("capacity.csv.rejected.csv")).expect("rejects");
    assert!(rejects.contains("7,newcomer_set_aside,") && rejects.contains("12347,newcomer_set_aside,"), "{rejects}");

    // Importing the same file again changes nothing.
    let again = import().output().expect("again");
    let again = String::from_utf8_lossy(&again.stderr);
    assert!(again.contains("0 created, 0 amended, 19998 duplicate"), "{again}");
    assert_eq!(site.entries(), rows as i64 - 2);
}

#[test]
fn max_feed_bytes_bounds_every_feed_without_its_own_limit() {
    let feed = FeedServer::start(vec![Answer::ok(&"x".repeat(5_000), &[])]);
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("feeds.toml");
    let toml = format!(
        "site = \"http://127.0.0.1:9\"\n[[feed]]\nname = \"big\"\nurl = \"{}\"\nformat = \"csv\"\nkind = \"capacity\"\ntoken = \"gl_x\"\n[feed.fields]\nas_of = \"as_of\"\n",
        feed.url
    );
    std::fs::write(&config, toml).expect("config");
    let out = collect()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .args(["--once", "--max-feed-bytes", "4096"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("feed big") && stderr.contains("limit of 4096 bytes"), "{stderr}");
}
