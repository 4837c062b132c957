//! The feed collector against a real Gatelog site and a local feed server that
//! changes between polls, fails with 500s and times out.

mod support;

use std::time::Duration;

use gatelog_collect::feeds::{self, Config, Feed, FeedState, Polled, Retry};
use support::{Answer, FeedServer, Site};

const QUICK: Retry = Retry { attempts: 3, backoff: Duration::from_millis(50), timeout: Duration::from_millis(700) };

fn queue_json(p50_first: u64) -> String {
    serde_json::json!({"data": {"queues": [
        {"month": "2026-09-01", "next": "2026-10-01", "tier": "allocation", "n": 120, "median": p50_first, "p90": 3600, "p99": 7200},
        {"month": "2026-10-01", "next": "2026-11-01", "tier": "allocation", "n": 98, "median": 900, "p90": 3000, "p99": 6000},
    ]}})
    .to_string()
}

fn queue_feed(url: &str, token: &str) -> Feed {
    let config = format!(
        r#"
        site = "unused"
        [[feed]]
        name = "nordic-queues"
        url = "{url}"
        format = "json"
        kind = "queue_time"
        token = "{token}"
        records_at = "data.queues"
        [feed.fields]
        period_start = "month"
        period_end = "next"
        tier = "tier"
        jobs = "n"
        p50_seconds = "median"
        p90_seconds = "p90"
        p99_seconds = "p99"
        [feed.constants]
        resource = "nvidia-h100-80gb"
        region = "eu-fi"
        "#
    );
    toml::from_str::<Config>(&config).expect("config").feeds.remove(0)
}

#[test]
fn conditional_polls_skip_unchanged_feeds_and_changes_become_amendments() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    let server = FeedServer::start(vec![
        Answer::ok(&queue_json(1800), &[("ETag", "\"v1\"")]),
        Answer::ok(&queue_json(1800), &[("ETag", "\"v1\"")]),
        Answer::ok(&queue_json(2400), &[("ETag", "\"v2\"")]),
    ]);
    let feed = queue_feed(&server.url, &token);
    let mut state = FeedState::default();
    assert_eq!(feeds::poll(&feed, &site.url, &mut state, QUICK), Polled::Posted(2, 2, 0, 0));
    assert_eq!(site.entries(), 2);
    // Same ETag: the server answers 304 and nothing is sent.
    assert_eq!(feeds::poll(&feed, &site.url, &mut state, QUICK), Polled::NotModified);
    let asked = server.requests.lock().expect("lock")[1].clone();
    assert!(asked.contains(&("if-none-match".into(), "\"v1\"".into())), "{asked:?}");
    // The feed changed one figure: one amendment, one unchanged.
    assert_eq!(feeds::poll(&feed, &site.url, &mut state, QUICK), Polled::Posted(2, 0, 1, 1));
    assert_eq!(site.entries(), 3);
}

#[test]
fn a_feed_without_validators_is_deduplicated_by_the_ledger() {
    let site = Site::start();
    let token = site.token("lakeside-campus");
    let csv = "as_of,gpu_type,where,installed,reserved_for_newcomers\n2026-10-01,nvidia-a100,ca-on,64,8\n2026-11-01,nvidia-a100,ca-on,64,10\n";
    let server = FeedServer::start(vec![Answer::ok(csv, &[])]);
    let config = format!(
        r#"
        site = "{}"
        [[feed]]
        name = "lakeside-capacity"
        url = "{}"
        format = "csv"
        kind = "capacity"
        token = "{token}"
        [feed.fields]
        as_of = "as_of"
        resource = "gpu_type"
        region = "where"
        total_accelerators = "installed"
        newcomer_set_aside = "reserved_for_newcomers"
        "#,
        site.url, server.url
    );
    let config: Config = toml::from_str(&config).expect("config");
    assert_eq!(feeds::run(&config, true, QUICK), 0);
    assert_eq!(feeds::run(&config, true, QUICK), 0);
    assert_eq!(site.entries(), 2, "the second pull created nothing");
}

#[test]
fn server_errors_are_retried_and_timeouts_reported() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    let flaky = FeedServer::start(vec![Answer::status(500), Answer::status(503), Answer::ok(&queue_json(1800), &[])]);
    let mut state = FeedState::default();
    assert_eq!(feeds::poll(&queue_feed(&flaky.url, &token), &site.url, &mut state, QUICK), Polled::Posted(2, 2, 0, 0));

    let down = FeedServer::start(vec![Answer::status(500)]);
    match feeds::poll(&queue_feed(&down.url, &token), &site.url, &mut FeedState::default(), QUICK) {
        Polled::Failed(reason) => {
            assert!(reason.contains("nordic-queues") && reason.contains("HTTP 500 after 3 attempts"), "{reason}")
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let slow = FeedServer::start(vec![Answer { delay: Duration::from_secs(3), ..Answer::ok(&queue_json(1800), &[]) }]);
    match feeds::poll(&queue_feed(&slow.url, &token), &site.url, &mut FeedState::default(), QUICK) {
        Polled::Failed(reason) => {
            assert!(reason.to_lowercase().contains("timeout") || reason.contains("timed out"), "{reason}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(site.entries(), 2);
}

#[test]
fn a_feed_that_changed_shape_is_reported_and_the_others_keep_running() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    let renamed = queue_json(1800).replace("\"median\"", "\"p50\"");
    let broken = FeedServer::start(vec![Answer::ok(&renamed, &[])]);
    let good = FeedServer::start(vec![Answer::ok(&queue_json(1800), &[])]);
    let mut broken_feed = queue_feed(&broken.url, &token);
    broken_feed.name = "broken".into();
    let config = Config { site: site.url.clone(), feeds: vec![broken_feed.clone(), queue_feed(&good.url, &token)] };
    assert_eq!(feeds::run(&config, true, QUICK), 1, "one feed failed");
    assert_eq!(site.entries(), 2, "the good feed went in, nothing of the broken one");
    match feeds::poll(&broken_feed, &site.url, &mut FeedState::default(), QUICK) {
        Polled::Failed(reason) => {
            assert!(reason.contains("feed broken, row 1, field p50_seconds: the feed has no \"median\""), "{reason}")
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}
