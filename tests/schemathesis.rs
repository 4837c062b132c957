//! The OpenAPI document as an outside tool reads it (issue 17): `schemathesis` (pip,
//! pinned in .ci/run) runs every phase against the demo server with a provider token,
//! at least 100 examples per operation, and must find nothing: every status a route
//! answers is documented, every schema-valid request is accepted (within the limits
//! below), every response matches its schema.

mod support;

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use support::{Server, data_dir, gatelog, run};

/// The version .ci/run installs; another may check differently.
const VERSION: &str = "4.32.5";
/// The whole run (about a minute on 2 cores) must finish within this.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// The seed CI runs with (see where it is passed).
const SEED: &str = "16017";

/// Rules JSON Schema cannot state, so schema-valid requests that break them are refused
/// by design and schemathesis must allow it for these operations (its other checks stay):
/// - consistency proofs: `from` ≤ `to` relates two parameters;
/// - records: the NDJSON and CSV bodies are text; a record's signature must verify
///   against the provider's registered keys; and rules between fields (a period of 1 to
///   92 days, accepted + rejected ≤ received, ordered percentiles, set-aside ≤ total) and
///   the ISO 4217 code list are checked by the parser (422 naming the field).
const CONFIG: &str = r#"
[[operations]]
include-path = "/api/v1/ledger/proof/consistency"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

[[operations]]
include-path = "/api/v1/records"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"]
"#;

/// Loaded through `SCHEMATHESIS_HOOKS`: an NDJSON body (the document's examples) is
/// text, one JSON record per line, sent as is.
const HOOKS: &str = r#"import schemathesis
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
"#;

/// `schemathesis` at the pinned version, or `None` when it is missing outside CI. In CI
/// (`CI` set) a missing or other version fails the test: it must not pass by being skipped.
fn schemathesis() -> Option<Command> {
    let version = Command::new("schemathesis")
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let install = format!("python3 -m pip install schemathesis=={VERSION}; .ci/run does");
    match (version, std::env::var_os("CI").is_some()) {
        (Some(version), _) if version.ends_with(VERSION) => Some(Command::new("schemathesis")),
        (Some(version), true) => panic!("{version} found, {VERSION} wanted: {install}"),
        (None, true) => panic!("schemathesis not found: {install}"),
        (found, false) => {
            eprintln!("skipped: schemathesis {VERSION} not found ({found:?}): {install}; CI fails instead");
            None
        }
    }
}

fn wait(child: &mut std::process::Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait for schemathesis") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn schemathesis_finds_nothing_against_the_demo_server() {
    let Some(mut schemathesis) = schemathesis() else { return };
    let dir = data_dir();
    // No per-address limit and a high per-token rate: the run is one client sending
    // thousands of requests, which would otherwise be mostly (documented) 429s.
    let server = Server::start(
        dir.path(),
        &["--demo", "--per-ip-rate", "0", "--ingest-rate", "100000", "--ingest-burst", "100000"],
    );
    let (status, token, stderr) = run(gatelog()
        .args(["token", "issue", "--provider", "corvid-gpu", "--label", "schemathesis", "--data-dir"])
        .arg(dir.path()));
    assert!(status.success(), "{stderr}");
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).expect("write config");
    std::fs::write(dir.path().join("gatelog_schemathesis_hooks.py"), HOOKS).expect("write hooks");
    let output = dir.path().join("schemathesis.out");
    let log = std::fs::File::create(&output).expect("output file");

    let url = format!("{}api/v1/openapi.json", server.url);
    let mut child = schemathesis
        .arg("--config-file")
        .arg(&config)
        .args(["run", &url, "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "100"])
        .args(["--max-response-time", "5", "--request-timeout", "10", "--workers", "2"])
        // One fixed seed: CI decides whether main lands, so the same commit must get the same
        // verdict. SCHEMATHESIS_SEED explores other inputs (a failure prints its seed).
        .args(["--seed", &std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.to_owned())])
        .args(["--generation-database", "none", "--continue-on-failure", "--no-color"])
        .args(["--header", &format!("Authorization: Bearer {}", token.trim())])
        .env("SCHEMATHESIS_HOOKS", "gatelog_schemathesis_hooks")
        .env("PYTHONPATH", dir.path())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone file"))
        .stderr(log)
        .spawn()
        .expect("run schemathesis");
    let status = wait(&mut child, RUN_TIMEOUT);
    let report = std::fs::read_to_string(&output).unwrap_or_default();
    println!("{report}");
    let status = status.unwrap_or_else(|| panic!("schemathesis did not finish within {RUN_TIMEOUT:?}:\n{report}"));
    assert!(status.success(), "schemathesis reported failures ({status}):\n{report}");
    assert!(report.contains("Stateful") && !report.contains("failures,"), "{report}");
    drop(server);
}
