//! The feed collector against a real Gatelog site and a local feed server that
//! changes between polls, fails with 500s, times out, sends too much and redirects.

mod support;

use std::time::Duration;

use gatelog_collect::feeds::{self, Config, Feed, FeedState, Polled, Retry};
use support::{Answer, FeedServer, Site, endless_feed};

const QUICK: Retry = Retry { attempts: 3, backoff: Duration::from_millis(50), timeout: Duration::from_millis(700) };

fn queue_json(p50_first: u64) -> String {
    serde_json::json!({"data": {"queues": [
        {"month": "2026-09-01", "next": "2026-10-01", "tier": "allocation", "n": 120, "median": p50_first, "p90": 3600, "p99": 7200},
        {"month": "2026-10-01", "next": "2026-11-01", "tier": "allocation", "n": 98, "median": 900, "p90": 3000, "p99": 6000},
    ]}})
    .to_string()
}

fn queue_feed(url: &str, token: &str) -> Feed {
    queue_feed_with(url, token, "")
}

/// The queue feed with `extra` settings (TOML lines of the [[feed]] table).
fn queue_feed_with(url: &str, token: &str, extra: &str) -> Feed {
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
        {extra}
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

fn failure(polled: Polled) -> String {
    match polled {
        Polled::Failed(reason) => reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_feed_over_its_size_limit_is_refused_naming_the_feed_and_the_limit() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    let body = queue_json(1800);
    let server = FeedServer::start(vec![Answer::ok(&body, &[])]);
    let limit = body.len() - 1;
    let feed = queue_feed_with(&server.url, &token, &format!("max_bytes = {limit}"));
    let reason = failure(feeds::poll(&feed, &site.url, &mut FeedState::default(), QUICK));
    assert!(reason.contains("feed nordic-queues") && reason.contains(&format!("limit of {limit} bytes")), "{reason}");
    assert_eq!(server.served(), 1, "a feed too large is not fetched again within the poll");
    // Exactly at the limit is fine.
    let feed = queue_feed_with(&server.url, &token, &format!("max_bytes = {}", body.len()));
    assert_eq!(feeds::poll(&feed, &site.url, &mut FeedState::default(), QUICK), Polled::Posted(2, 2, 0, 0));
}

#[test]
fn a_feed_of_unknown_length_is_cut_off_at_the_limit_while_it_streams() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    let (url, sent) = endless_feed();
    let limit = 64 * 1024;
    let feed = queue_feed_with(&url, &token, &format!("max_bytes = {limit}"));
    let slow = Retry { timeout: Duration::from_secs(20), ..QUICK };
    let started = std::time::Instant::now();
    let reason = failure(feeds::poll(&feed, &site.url, &mut FeedState::default(), slow));
    assert!(reason.contains(&format!("larger than the limit of {limit} bytes")), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(10), "refused while streaming, not at the timeout");
    // The server could send no more than the socket buffers hold beyond what was read.
    std::thread::sleep(Duration::from_millis(200));
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(sent < 64 * 1024 * 1024, "the collector stopped reading: {sent} bytes sent");
    assert_eq!(site.entries(), 0);
}

#[test]
fn the_size_limit_defaults_to_64_mib_and_the_flag_sets_it_for_feeds_without_their_own() {
    assert_eq!(feeds::DEFAULT_MAX_BYTES, 64 * 1024 * 1024);
    let own = queue_feed_with("http://127.0.0.1:9/feed", "gl_x", "max_bytes = 10");
    let mut config = Config { site: "unused".into(), feeds: vec![own, queue_feed("http://127.0.0.1:9/feed", "gl_x")] };
    config.default_max_bytes(5_000);
    assert_eq!(config.feeds[0].max_bytes, Some(10));
    assert_eq!(config.feeds[1].max_bytes, Some(5_000));
}

#[test]
fn redirects_on_the_feeds_host_are_followed() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    let server = FeedServer::start(vec![
        Answer { status: 301, ..Answer::ok("", &[("Location", "/moved/queues.json")]) },
        Answer { status: 307, ..Answer::ok("", &[("Location", "latest.json")]) },
        Answer::ok(&queue_json(1800), &[]),
    ]);
    let feed = queue_feed(&server.url, &token);
    assert_eq!(feeds::poll(&feed, &site.url, &mut FeedState::default(), QUICK), Polled::Posted(2, 2, 0, 0));
    assert_eq!(server.served(), 3);
}

#[test]
fn a_redirect_to_another_host_is_refused_unless_the_feed_allows_that_host() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    // 127.0.0.2 is loopback too, but another host as far as the URL goes.
    let elsewhere = FeedServer::start_on("127.0.0.2", vec![Answer::ok(&queue_json(1800), &[])]);
    let redirect = Answer { status: 302, ..Answer::ok("", &[("Location", elsewhere.url.as_str())]) };
    let origin = FeedServer::start(vec![redirect]);

    let reason = failure(feeds::poll(&queue_feed(&origin.url, &token), &site.url, &mut FeedState::default(), QUICK));
    assert!(
        reason.contains("feed nordic-queues")
            && reason.contains("127.0.0.2 is not the feed's host")
            && reason.contains("follow_redirects_to"),
        "{reason}"
    );
    assert_eq!(elsewhere.served(), 0, "the other host was never asked");
    assert_eq!(site.entries(), 0);

    let allowed = queue_feed_with(&origin.url, &token, r#"follow_redirects_to = ["127.0.0.2"]"#);
    assert_eq!(feeds::poll(&allowed, &site.url, &mut FeedState::default(), QUICK), Polled::Posted(2, 2, 0, 0));
    assert_eq!(elsewhere.served(), 1);
}

#[test]
fn a_redirect_loop_stops_after_a_bounded_number_of_hops() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    let looping = FeedServer::start(vec![Answer { status: 302, ..Answer::ok("", &[("Location", "/feed")]) }]);
    let reason = failure(feeds::poll(&queue_feed(&looping.url, &token), &site.url, &mut FeedState::default(), QUICK));
    assert!(reason.contains(&format!("more than {} redirects", feeds::MAX_REDIRECTS)), "{reason}");
    assert_eq!(looping.served(), feeds::MAX_REDIRECTS + 1, "not retried: a loop stays a loop");
}
