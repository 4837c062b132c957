//! A real Gatelog site for the collectors' tests: its own database (a private
//! cluster in a temporary directory, or a fresh database on the server in
//! DATABASE_URL), the real router on a loopback port (behind a gate that can
//! refuse pushes, to interrupt a collector mid-way), and a feed server whose
//! answers each test scripts.

#![allow(dead_code, missing_docs)]

pub mod prometheus;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatelog::db::embedded::EmbeddedCluster;
use gatelog::ledger::Ledger;
use gatelog::ledger::note::NoteSigner;
use sqlx::PgPool;

pub struct Site {
    pub url: String,
    /// Pushes (POSTs) the site still accepts; after that it answers 503 until this is raised.
    pub pushes_left: Arc<AtomicUsize>,
    pub pool: PgPool,
    pub runtime: tokio::runtime::Runtime,
    cluster: Option<EmbeddedCluster>,
    _dir: tempfile::TempDir,
}

impl Site {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("gl-collect-").tempdir_in("/tmp").expect("tempdir");
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let (admin, cluster) = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => (gatelog::db::parse_database_url(&url).expect("DATABASE_URL"), None),
            _ => {
                let cluster = EmbeddedCluster::start(dir.path(), None).expect("embedded cluster");
                (cluster.connect_options("postgres"), Some(cluster))
            }
        };
        let name = format!(
            "gatelog_collect_{}_{}",
            std::process::id(),
            dir.path().file_name().and_then(|n| n.to_str()).unwrap_or("x").replace('-', "_").to_lowercase()
        );
        let pushes_left = Arc::new(AtomicUsize::new(usize::MAX));
        let gate = pushes_left.clone();
        let (url, pool) = runtime.block_on(async {
            gatelog::db::create_database_if_missing(&admin, &name).await.expect("create database");
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(8)
                .connect_with(admin.database(&name))
                .await
                .expect("connect");
            gatelog::db::MIGRATOR.run(&pool).await.expect("migrate");
            let ledger = Ledger::new(NoteSigner::generate("collect.test/log").expect("key"));
            ledger.ensure_checkpoint(&pool).await.expect("checkpoint");
            let app = gatelog::app(gatelog::AppState::new(pool.clone(), ledger), std::path::Path::new("../static"))
                .layer(axum::middleware::from_fn(
                    move |request: axum::extract::Request, next: axum::middleware::Next| {
                        let gate = gate.clone();
                        async move {
                            let refused = request.method() == axum::http::Method::POST
                                && gate.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_err();
                            if refused {
                                axum::response::IntoResponse::into_response(axum::http::StatusCode::SERVICE_UNAVAILABLE)
                            } else {
                                next.run(request).await
                            }
                        }
                    },
                ));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let url = format!("http://{}", listener.local_addr().expect("addr"));
            tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
            (url, pool)
        });
        Self { url, pushes_left, pool, runtime, cluster, _dir: dir }
    }

    /// Registers `slug` and returns a fresh token for it.
    pub fn token(&self, slug: &str) -> String {
        self.runtime.block_on(async {
            let mut conn = self.pool.acquire().await.expect("conn");
            let slug = gatelog::records::Slug::parse(slug).expect("slug");
            let provider = gatelog::providers::NewProvider {
                slug: slug.clone(),
                display_name: format!("{slug} (test)"),
                kind: gatelog::providers::ProviderKind::HpcCentre,
                country: None,
                website: None,
            };
            gatelog::db::providers::insert_if_missing(&mut conn, &provider).await.expect("provider");
            let issued = gatelog::tokens::issue().expect("token");
            gatelog::db::tokens::insert(&mut conn, &slug, &issued, "collector test").await.expect("insert");
            issued.token
        })
    }

    /// What the site publishes of `provider`'s queue times: the `queue_times` dataset
    /// (latest versions), as CSV rows by column name.
    pub fn published_queue_times(&self, provider: &str) -> Vec<std::collections::BTreeMap<String, String>> {
        let url = format!("{}/data/queue_times.csv?provider={provider}", self.url);
        let mut response = ureq::get(&url).call().expect("export");
        assert_eq!(response.status().as_u16(), 200, "{url}");
        let text = response.body_mut().with_config().limit(64 << 20).read_to_string().expect("body");
        let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
        reader
            .records()
            .map(|r| header.iter().cloned().zip(r.expect("row").iter().map(str::to_owned)).collect())
            .collect()
    }

    /// Checks that the site publishes every record (by period and tier) with its figures.
    pub fn assert_publishes(&self, provider: &str, records: &[serde_json::Value]) {
        let rows = self.published_queue_times(provider);
        assert_eq!(rows.len(), records.len(), "every record is published: {rows:?}");
        for record in records {
            let row = rows
                .iter()
                .find(|r| {
                    ["period_start", "resource", "region", "tier"]
                        .iter()
                        .all(|f| r[*f] == record[*f].as_str().unwrap_or(""))
                })
                .unwrap_or_else(|| panic!("{record} is published"));
            for field in ["jobs", "p50_seconds", "p90_seconds", "p99_seconds", "mean_seconds", "max_seconds"] {
                let filed = record.get(field).map_or(String::new(), ToString::to_string);
                assert_eq!(row[field], filed, "{field} of {record}");
            }
        }
        let page = ureq::get(format!("{}/providers/{provider}", self.url)).call().expect("scorecard");
        assert_eq!(page.status().as_u16(), 200, "the provider's scorecard");
    }

    /// Entries in the ledger.
    pub fn entries(&self) -> i64 {
        self.runtime.block_on(async {
            sqlx::query_scalar("SELECT count(*) FROM ledger_entries").fetch_one(&self.pool).await.expect("count")
        })
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            let _ = cluster.stop();
        }
    }
}

/// One scripted answer of the feed server.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Answer {
    pub fn ok(body: &str, headers: &[(&str, &str)]) -> Self {
        Self {
            status: 200,
            headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: String::new(), delay: Duration::ZERO }
    }
}

/// Headers of one request, lower-cased names.
pub type Headers = Vec<(String, String)>;

/// A feed server: each request gets the next scripted answer, except that a request whose
/// If-None-Match equals the answer's ETag gets a 304. Records each request's headers.
pub struct FeedServer {
    pub url: String,
    pub script: Arc<Mutex<Vec<Answer>>>,
    pub requests: Arc<Mutex<Vec<Headers>>>,
}

impl FeedServer {
    pub fn start(script: Vec<Answer>) -> Self {
        Self::start_on("127.0.0.1", script)
    }

    /// On another loopback address (127.0.0.2, …): another host, for redirect tests.
    pub fn start_on(ip: &str, script: Vec<Answer>) -> Self {
        assert!(ip.starts_with("127."), "loopback only");
        let listener = TcpListener::bind((ip, 0)).expect("bind");
        let url = format!("http://{}/feed", listener.local_addr().expect("addr"));
        let script = Arc::new(Mutex::new(script));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (script.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut headers = Vec::new();
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.trim().split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                    }
                }
                // Read the whole body, so closing the connection never resets it under the client.
                let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok());
                let _ = reader.take(length.unwrap_or(0)).read_to_end(&mut Vec::new());
                r.lock().expect("lock").push(headers.clone());
                let answer = {
                    let mut script = s.lock().expect("lock");
                    if script.len() > 1 {
                        script.remove(0)
                    } else {
                        script.first().cloned().unwrap_or(Answer::status(404))
                    }
                };
                std::thread::sleep(answer.delay);
                let etag = answer.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("etag")).map(|(_, v)| v.clone());
                let asked = headers.iter().find(|(k, _)| k == "if-none-match").map(|(_, v)| v.clone());
                let (status, body) = if etag.is_some() && etag == asked {
                    (304, String::new())
                } else {
                    (answer.status, answer.body.clone())
                };
                let mut response =
                    format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
                for (k, v) in &answer.headers {
                    response.push_str(&format!("{k}: {v}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(&body);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Self { url, script, requests }
    }

    /// Requests served so far.
    pub fn served(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }
}

/// A feed server that answers every request with an endless JSON body of unknown length
/// (no Content-Length: it ends when the connection closes). Returns its URL and the bytes it
/// managed to send, which stop growing once the client hangs up.
pub fn endless_feed() -> (String, Arc<std::sync::atomic::AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/feed", listener.local_addr().expect("addr"));
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[";
            if stream.write_all(head.as_bytes()).is_err() {
                continue;
            }
            let chunk = "{\"a\": 1},".repeat(6_000);
            while stream.write_all(chunk.as_bytes()).is_ok() {
                counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
        }
    });
    (url, sent)
}

/// A capacity CSV of `rows` records; the rows at the indexes in `bad` have an unreadable
/// newcomer_set_aside (row i is on line i + 2).
pub fn capacity_csv(rows: usize, bad: &[usize]) -> String {
    let mut text = String::from("as_of,resource,region,total_accelerators,newcomer_set_aside\n");
    for i in 0..rows {
        let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("date") + chrono::Days::new(i as u64 / 10);
        let set_aside = if bad.contains(&i) { "lots".to_owned() } else { (i % 7).to_string() };
        text.push_str(&format!("{day},nvidia-h100-80gb,eu-r{},{},{set_aside}\n", i % 10, 100 + i % 50));
    }
    text
}
