//! Browser tests: the real server, Debian's headless chromium (driven by
//! playwright-core from tests/browser/), and axe-core. A page passes when it
//! renders with the expected title at phone and desktop widths, logs no
//! console error, loads every resource, has no accessibility violation, does not
//! scroll sideways at 360 px, and shows its charts at a readable size. Full-page
//! 360 px screenshots are left in `target/tmp/screenshots` for a human to look at.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Server, data_dir};

/// Pages to check, as `path=title fragment|minimum charts`.
const PAGES: &[&str] = &[
    "/=Gatelog — who gets access to compute",
    "/docs/api=Push API",
    "/ledger=Ledger",
    "/ledger/entries/0=Entry 0",
    "/providers=Providers",
    "/providers/corvid-gpu=Corvid GPU|4",
    "/providers/riverside-cluster=Riverside College|1",
    "/methodology=Methodology",
    "/data=Data",
    "/compliance=Compliance",
    "/compliance?provider=corvid-gpu=Compliance",
    "/data/dictionary=Data dictionary",
    "/metrics/queue-times?region=eu-de=Queue times",
    "/metrics/prices?resource=nvidia-h100-80gb&from=2025-01-01&to=2026-06-30=Prices",
    "/metrics/acceptance?from=2024-13-01=Acceptance",
    "/lockups=Lock-ups",
    "/compare?a=corvid-gpu&b=rhine-ai-factory=Compare providers",
    "/compare?a=corvid-gpu&b=corvid-gpu=Compare providers",
    "/providers/no-such-provider=Not Found",
    "/no-such-page=404 Not Found",
];

#[test]
fn pages_render_in_chromium_without_errors_or_accessibility_violations() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists() && browser_dir.join("node_modules/axe-core").exists(),
        "browser test dependencies missing: run `npm ci --prefix tests/browser`"
    );
    let chromium = std::env::var("GATELOG_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} not found: install Debian's chromium (`apt-get install chromium`) or set GATELOG_CHROMIUM"
    );

    let dir = data_dir();
    // A configured witness that never answers, so /ledger shows its witness table (with the
    // witness's last problem) to axe and to the screenshots.
    let witness_key = dir.path().join("witness.key");
    let keygen = support::gatelog()
        .args(["witness", "keygen", "down.example/witness", "--out"])
        .arg(&witness_key)
        .output()
        .expect("witness keygen");
    let vkey = String::from_utf8_lossy(&keygen.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("vkey: ").map(str::to_owned))
        .expect("witness vkey");
    let witness = format!("{vkey} http://127.0.0.1:9");
    let server = Server::start(dir.path(), &["--demo", "--witness", &witness, "--witness-every", "1"]);
    let output = Command::new("node")
        .arg(browser_dir.join("check-pages.mjs"))
        .arg(&server.url)
        .args(PAGES)
        .env("GATELOG_CHROMIUM", &chromium)
        .env("GATELOG_SCREENSHOTS", Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots"))
        .output()
        .expect("run node (install nodejs)");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{report}");
    assert!(output.status.success(), "browser check failed:\n{report}");
}
