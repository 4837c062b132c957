//! Browser tests: the real server, Debian's headless chromium (driven by
//! playwright-core from tests/browser/), and axe-core. A page passes when it
//! renders with the expected title at phone and desktop widths, logs no
//! console error, loads every resource, has no accessibility violation, does not
//! scroll sideways at 360 px, shows its charts at a readable size with chart text
//! of at least 11 CSS px, and keeps every table row within about three lines at
//! 360 px. Full-page screenshots of every page at 360 and 1280 px are left in
//! `screenshots/` (or where `GATELOG_SCREENSHOTS` points) for a human to look at.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Server, data_dir};

/// Every page of the site, as `path=title fragment|minimum charts`.
const PAGES: &[&str] = &[
    "/=Gatelog — who gets access to compute|3",
    "/docs/api=Push API",
    "/ledger=Ledger",
    "/ledger/entries/0=Entry 0",
    "/providers=Providers",
    "/providers/alpine-supercomputing=Alpine Supercomputing Centre|4",
    "/providers/aurora-ai-factory=Aurora AI Factory|4",
    "/providers/corvid-gpu=Corvid GPU|4",
    "/providers/halcyon-ai-cloud=Halcyon AI Cloud|4",
    "/providers/iberia-compute=Iberia Compute Centre|4",
    "/providers/lakeside-campus=Lakeside University Campus Node|4",
    "/providers/lumen-stack=Lumen Stack|4",
    "/providers/meridian-cloud=Meridian Cloud|4",
    "/providers/nordic-hpc=Nordic HPC Centre|4",
    "/providers/rhine-ai-factory=Rhine AI Factory|4",
    "/providers/riverside-cluster=Riverside College|4",
    "/providers/stratus-compute=Stratus Compute|4",
    "/methodology=Methodology",
    "/data=Data",
    "/data/dictionary=Data dictionary",
    "/compliance=Compliance",
    "/compliance?provider=corvid-gpu=Compliance",
    "/metrics/queue-times=Queue times|1",
    "/metrics/queue-times?region=eu-de=Queue times|1",
    "/metrics/acceptance=Acceptance|1",
    "/metrics/acceptance?from=2024-13-01=Acceptance|1",
    "/metrics/prices=Prices|1",
    "/metrics/prices?resource=nvidia-h100-80gb&from=2025-01-01&to=2026-06-30=Prices|1",
    "/metrics/capacity=Capacity|1",
    "/metrics/lockups=Lock-ups|1",
    "/metrics/energy=Energy and carbon|1",
    "/lockups=Lock-ups|1",
    "/counterparties=Buyers of capacity|3",
    "/counterparties/mistral-ai=Mistral AI|1",
    "/compare=Compare providers",
    "/compare?a=corvid-gpu&b=rhine-ai-factory=Compare providers|1",
    "/compare?a=corvid-gpu&b=corvid-gpu=Compare providers",
    "/providers/no-such-provider=Not Found",
    "/metrics/no-such-metric=404 Not Found",
    "/ledger/entries/999999=404 Not Found",
    "/no-such-page=404 Not Found",
];

/// Where the screenshots go: `screenshots/` in the checkout, which CI keeps.
fn screenshots_dir() -> PathBuf {
    std::env::var_os("GATELOG_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots"))
}

/// The site's pages a reader reaches from the home page, the providers list and a dashboard,
/// by path: each must be in PAGES, so a new page or provider is looked at too.
fn linked_pages(server: &Server) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for from in ["/", "/providers", "/metrics/queue-times"] {
        let (status, body) = server.get(from);
        assert_eq!(status, 200, "GET {from}");
        let html = scraper::Html::parse_document(&body);
        let links = scraper::Selector::parse("a[href^='/']").expect("selector");
        for link in html.select(&links) {
            let href = link.value().attr("href").unwrap_or_default();
            let path = href.split(['?', '#']).next().unwrap_or_default();
            // One ledger entry stands for all; feeds, exports and static files are not pages.
            let not_a_page = path.starts_with("/ledger/entries/")
                || path.starts_with("/static/")
                || path.ends_with(".atom")
                || (path.starts_with("/data/") && path != "/data/dictionary");
            if !not_a_page {
                paths.insert(path.to_owned());
            }
        }
    }
    paths
}

/// A third-party report on /lockups that its provider answered, as `(report, answer, provider)`:
/// the two ledger entry pages (index read from the page, so the demo may grow) and the scorecard
/// that lists the report under "Reports by others".
fn answered_report(server: &Server) -> (String, String, String) {
    let (status, body) = server.get("/lockups");
    assert_eq!(status, 200, "GET /lockups");
    let html = scraper::Html::parse_document(&body);
    let selector = |s: &str| scraper::Selector::parse(s).expect("selector");
    let (reports, entry, answer, provider) = (
        selector("li.report"),
        selector("a[href^='/ledger/entries/']"),
        selector("p.answer a[href^='/ledger/entries/']"),
        selector("a[href^='/providers/']"),
    );
    let href = |a: scraper::ElementRef| a.value().attr("href").unwrap_or_default().to_owned();
    html.select(&reports)
        .find_map(|li| {
            let answer = li.select(&answer).next()?;
            Some((href(li.select(&entry).next()?), href(answer), href(li.select(&provider).next()?)))
        })
        .expect("the demo's /lockups lists a report its provider answered")
}

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
    let (report, answer, provider) = answered_report(&server);
    assert!(
        PAGES.iter().any(|spec| spec.starts_with(&format!("{provider}="))),
        "{provider}, a scorecard with reports by others, missing from PAGES"
    );
    let report_pages = [
        format!("{report}=Entry {}", report.trim_start_matches("/ledger/entries/")),
        format!("{answer}=Entry {}", answer.trim_start_matches("/ledger/entries/")),
    ];
    let checked: BTreeSet<&str> = PAGES.iter().map(|spec| spec.split(['?', '=']).next().unwrap_or_default()).collect();
    let unchecked: Vec<String> = linked_pages(&server).into_iter().filter(|p| !checked.contains(p.as_str())).collect();
    assert!(
        unchecked.is_empty(),
        "pages linked from /, /providers or /metrics/queue-times missing from PAGES: {unchecked:?}"
    );

    let screenshots = screenshots_dir();
    let output = Command::new("node")
        .arg(browser_dir.join("check-pages.mjs"))
        .arg(&server.url)
        .args(PAGES)
        .args(&report_pages)
        .env("GATELOG_CHROMIUM", &chromium)
        .env("GATELOG_SCREENSHOTS", &screenshots)
        .output()
        .expect("run node (install nodejs)");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{report}\nscreenshots: {}", screenshots.display());
    assert!(output.status.success(), "browser check failed:\n{report}");
}
