//! The served Atom feeds as a reader's software sees them: Python's `feedparser`
//! (the library most feed readers and scripts use) parses every feed of the demo
//! site without complaint (`bozo` 0), and finds a title, an absolute link and a
//! parsed `updated` on every entry.

mod support;

use std::process::Command;

use support::{Server, data_dir};

const PUBLIC: &str = "https://gatelog.example.org";

/// Checks one feed with feedparser; prints a JSON summary: bozo, its exception, entries,
/// and the entries lacking a title, an absolute link or a parsed `updated`.
const CHECK: &str = r#"
import json, sys
import feedparser
public = sys.argv[1]
feed = feedparser.parse(sys.stdin.buffer.read())
incomplete = [e.get("id", "?") for e in feed.entries
              if not e.get("title") or not e.get("link", "").startswith(public + "/") or not e.get("updated_parsed")]
print(json.dumps({"bozo": bool(feed.bozo), "exception": str(feed.get("bozo_exception", "")),
                  "version": feed.version, "entries": len(feed.entries), "incomplete": incomplete,
                  "self": next((l["href"] for l in feed.feed.get("links", []) if l.get("rel") == "self"), None)}))
"#;

/// Whether feedparser can be imported. In CI (`CI` set) its absence fails the test,
/// since .ci/run installs it; elsewhere the test is skipped with a note.
fn feedparser_available() -> bool {
    let found =
        Command::new("python3").args(["-c", "import feedparser"]).output().is_ok_and(|output| output.status.success());
    if !found {
        let help = "Python's feedparser is missing: python3 -m pip install feedparser==6.0.11 (.ci/run installs it)";
        assert!(std::env::var_os("CI").is_none(), "{help}");
        eprintln!("skipped: {help}");
    }
    found
}

fn feedparser(xml: &str) -> serde_json::Value {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(["-c", CHECK, PUBLIC])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    child.stdin.take().expect("stdin").write_all(xml.as_bytes()).expect("write the feed");
    let output = child.wait_with_output().expect("python3");
    assert!(output.status.success(), "python: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("json summary")
}

#[test]
fn every_feed_of_the_demo_site_parses_cleanly_in_feedparser() {
    if !feedparser_available() {
        return;
    }
    let dir = data_dir();
    let server = Server::start(dir.path(), &["--demo", "--public-url", PUBLIC]);
    let paths = [
        "/feed.atom",
        "/providers/corvid-gpu/feed.atom",
        "/providers/riverside-cluster/feed.atom",
        "/feeds/queue_time.atom",
        "/feeds/acceptance.atom",
        "/feeds/price.atom",
        "/feeds/lockup.atom",
        "/feeds/capacity.atom",
    ];
    for path in paths {
        let (status, xml) = server.get(path);
        assert_eq!(status, 200, "{path}: {xml}");
        let report = feedparser(&xml);
        assert_eq!(report["bozo"], false, "{path}: {report}");
        assert_eq!(report["version"], "atom10", "{path}: {report}");
        assert!(report["entries"].as_u64().unwrap_or(0) > 0, "{path}: {report}");
        assert_eq!(report["incomplete"], serde_json::json!([]), "{path}: entries without title, link or updated");
        assert_eq!(report["self"], format!("{PUBLIC}{path}"), "{path}");
    }
    // The pages link their feeds for readers that discover them.
    let (_, home) = server.get("/");
    assert!(home.contains(r#"type="application/atom+xml""#), "{home}");
}
