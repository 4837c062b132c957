//! Test harness: one private PostgreSQL cluster for the whole test run (the
//! same code as the embedded default), or the server in `DATABASE_URL`, and a
//! fresh database per test, copied from a template that has every migration.
//! Plus a small vocabulary for driving the router and reading its HTML.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use scraper::{Html, Selector};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tower::ServiceExt;

use crate::db::embedded::EmbeddedCluster;
use crate::db::{MIGRATOR, parse_database_url};

/// What every test in this process shares: how to reach the server, and the template's name.
struct Shared {
    admin: PgConnectOptions,
    prefix: String,
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(0);

fn shared() -> &'static Shared {
    // Set-up needs its own runtime, and a test's runtime cannot host a second one:
    // run it on a plain thread.
    // A failed set-up is remembered, so every test reports it instead of retrying it.
    let shared = SHARED.get_or_init(|| {
        std::thread::spawn(set_up).join().map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
    });
    shared.as_ref().unwrap_or_else(|message| panic!("test database set-up failed: {message}"))
}

fn set_up() -> Shared {
    let admin = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => parse_database_url(&url).expect("DATABASE_URL must be a postgres:// URL"),
        _ => start_private_cluster(),
    };
    let prefix = format!("gatelog_test_{}", std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut conn = PgConnection::connect_with(&admin).await.expect("connect to the test server");
        drop_abandoned_databases(&mut conn).await;
        let template = format!("{prefix}_template");
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {template}")))
            .await
            .expect("create template database");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(admin.clone().database(&template))
            .await
            .expect("connect to template");
        MIGRATOR.run(&pool).await.expect("migrate template");
        pool.close().await;
        conn.close().await.expect("close");
    });
    Shared { admin, prefix }
}

/// Starts the embedded cluster in a temporary directory, with a watchdog that
/// stops it and deletes the directory once this test process has exited
/// (the test harness has no global teardown, and a panic must not leak a server).
#[expect(clippy::zombie_processes, reason = "the watchdog must outlive this process; it is never waited for")]
fn start_private_cluster() -> PgConnectOptions {
    let dir = tempfile::Builder::new().prefix("gatelog-test-").tempdir().expect("tempdir").keep();
    let cluster =
        EmbeddedCluster::start(&dir, None).unwrap_or_else(|error| panic!("cannot start the test cluster: {error}"));
    let postmaster = cluster.postmaster_pid().expect("postmaster.pid after start");
    let script = r#"while [ -d "/proc/$0" ]; do sleep 0.2; done
kill -INT "$1" 2>/dev/null
while kill -0 "$1" 2>/dev/null; do sleep 0.1; done
rm -rf "$2""#;
    std::os::unix::process::CommandExt::process_group(
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(std::process::id().to_string())
            .arg(postmaster.to_string())
            .arg(&dir),
        0,
    )
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn the cluster watchdog");
    let options = cluster.connect_options("postgres");
    // Lives until the process ends; the watchdog does the stopping.
    Box::leak(Box::new(cluster));
    options
}

/// Drops databases left by earlier test runs whose process is gone (external servers only keep them).
async fn drop_abandoned_databases(conn: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar(r"SELECT datname FROM pg_database WHERE datname LIKE 'gatelog\_test\_%'")
            .fetch_all(&mut *conn)
            .await
            .expect("list test databases");
    for name in names {
        let pid = name.split('_').nth(2).unwrap_or_default();
        if !Path::new("/proc").join(pid).exists() {
            let _ = conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).await;
        }
    }
}

/// A fresh, migrated database for one test.
pub struct TestDb {
    /// Pool connected to this test's database.
    pub pool: PgPool,
    /// The database's name.
    pub name: String,
}

impl TestDb {
    /// Creates a new database from the migrated template.
    pub async fn new() -> Self {
        let shared = shared();
        let name = format!("{}_{}", shared.prefix, NEXT_DATABASE.fetch_add(1, Ordering::Relaxed));
        let mut conn = PgConnection::connect_with(&shared.admin).await.expect("connect to the test server");
        // Copies from one template must not overlap: take turns (advisory locks are per database,
        // and every test's admin connection uses the same one).
        conn.execute("SELECT pg_advisory_lock(715517)").await.expect("lock");
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name} TEMPLATE {}_template", shared.prefix)))
            .await
            .expect("create test database");
        conn.execute("SELECT pg_advisory_unlock(715517)").await.expect("unlock");
        conn.close().await.expect("close");
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect_with(shared.admin.clone().database(&name))
            .await
            .expect("connect to test database");
        Self { pool, name }
    }
}

/// A log with a fresh key, origin `test.gatelog.invalid/log`.
pub fn test_ledger() -> crate::ledger::Ledger {
    crate::ledger::Ledger::new(crate::ledger::note::NoteSigner::generate("test.gatelog.invalid/log").expect("key"))
}

/// The outcome (`created`, `amended`, `duplicate`) of each record of a batch answer, in order.
pub fn outcomes(batch: &serde_json::Value) -> Vec<String> {
    batch["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["outcome"].as_str().expect("outcome").to_owned())
        .collect()
}

/// The real router over a fresh database.
pub struct TestApp {
    /// The application under test.
    pub router: Router,
    /// Its database, for arranging data and checking effects.
    pub db: TestDb,
    /// The state the router was built with.
    pub state: crate::AppState,
}

impl TestApp {
    /// Builds the app over a fresh database.
    pub async fn new() -> Self {
        let db = TestDb::new().await;
        let ledger = test_ledger();
        ledger.ensure_checkpoint(&db.pool).await.expect("initial checkpoint");
        // Router tests check a page right after an append: let them wait for its figures
        // (the bounded wait itself is tested in web::page_data).
        let state = crate::AppState::new(db.pool.clone(), ledger).with_fresh_wait(std::time::Duration::from_secs(120));
        let router = crate::app(state.clone(), &Path::new(env!("CARGO_MANIFEST_DIR")).join("static"));
        Self { router, db, state }
    }

    /// The app over a fresh database holding the demo world.
    pub async fn with_demo() -> Self {
        let app = Self::new().await;
        crate::demo::load(&app.db.pool, &app.ledger(), crate::demo::DEFAULT_SEED).await.expect("demo");
        app
    }

    /// The same app, serving snapshots from `dir`.
    pub fn with_snapshots_dir(mut self, dir: &Path) -> Self {
        self.state = self.state.clone().with_snapshots_dir(dir);
        self.router = crate::app(self.state.clone(), &Path::new(env!("CARGO_MANIFEST_DIR")).join("static"));
        self
    }

    /// The same app, asking these witnesses for cosignatures.
    pub fn with_witnesses(mut self, witnesses: Vec<crate::witness::client::WitnessConfig>) -> Self {
        self.state = self.state.clone().with_witnesses(witnesses);
        self.router = crate::app(self.state.clone(), &Path::new(env!("CARGO_MANIFEST_DIR")).join("static"));
        self
    }

    /// The app's ledger.
    pub fn ledger(&self) -> crate::ledger::Ledger {
        self.state.ledger.as_ref().clone()
    }

    /// Registers a provider (if new) and issues it a token.
    pub async fn provider_token(&self, slug: &str) -> String {
        let mut conn = self.db.pool.acquire().await.expect("conn");
        let slug = crate::records::Slug::parse(slug).expect("slug");
        let provider = crate::providers::NewProvider {
            slug: slug.clone(),
            display_name: format!("{slug} (test)"),
            kind: crate::providers::ProviderKind::GpuCloud,
            country: None,
            website: None,
        };
        crate::db::providers::insert_if_missing(&mut conn, &provider).await.expect("provider");
        let issued = crate::tokens::issue().expect("token");
        assert!(crate::db::tokens::insert(&mut conn, &slug, &issued, "test").await.expect("insert"));
        issued.token
    }

    /// POSTs a body with a content type and optional bearer token and extra headers.
    pub async fn post(
        &self,
        uri: &str,
        content_type: &str,
        body: impl Into<Body>,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut request = Request::post(uri).header("content-type", content_type);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(body.into()).expect("request")).await
    }

    /// Entries in the ledger now.
    pub async fn tree_size(&self) -> u64 {
        crate::db::ledger::head(&mut self.db.pool.acquire().await.expect("conn")).await.expect("head").size
    }

    /// Sends a GET.
    pub async fn get(&self, uri: &str) -> TestResponse {
        self.send(Request::get(uri).body(Body::empty()).expect("request")).await
    }

    /// Sends any request through the router.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("read body");
        TestResponse { status, headers, body: body.to_vec() }
    }
}

/// A response, fully read.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// Fails the test, showing the body, unless the status matches.
    pub fn assert_status(&self, expected: StatusCode) {
        assert_eq!(self.status, expected, "unexpected status; body:\n{}", self.text());
    }

    /// A header's value (empty if absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}):\n{}", self.text()))
    }

    /// The body parsed as HTML.
    pub fn html(&self) -> Page {
        Page(Html::parse_document(&self.text()))
    }
}

/// Parsed HTML, queried by CSS selector.
pub struct Page(pub Html);

impl Page {
    fn select(&self, selector: &str) -> Vec<scraper::ElementRef<'_>> {
        let parsed = Selector::parse(selector).unwrap_or_else(|e| panic!("bad selector {selector:?}: {e}"));
        self.0.select(&parsed).collect()
    }

    /// Whitespace-normalised text of the first match; fails the test if none.
    pub fn text_of(&self, selector: &str) -> String {
        let element = *self.select(selector).first().unwrap_or_else(|| panic!("no element matches {selector:?}"));
        normalise(element.text())
    }

    /// Whitespace-normalised text of every match.
    pub fn texts_of(&self, selector: &str) -> Vec<String> {
        self.select(selector).into_iter().map(|element| normalise(element.text())).collect()
    }

    /// An attribute of the first match; fails the test if none.
    pub fn attr_of(&self, selector: &str, attribute: &str) -> String {
        let element = *self.select(selector).first().unwrap_or_else(|| panic!("no element matches {selector:?}"));
        element.value().attr(attribute).unwrap_or_else(|| panic!("{selector:?} has no {attribute:?}")).to_owned()
    }

    /// An attribute of every match that has it.
    pub fn attrs_of(&self, selector: &str, attribute: &str) -> Vec<String> {
        self.select(selector).into_iter().filter_map(|e| e.value().attr(attribute)).map(str::to_owned).collect()
    }

    /// Whether anything matches.
    pub fn exists(&self, selector: &str) -> bool {
        !self.select(selector).is_empty()
    }
}

fn normalise<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    parts.collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An entry appended past the parser, as older rules (or a bug) could have written it: tests
/// of what the site does with entries that no longer decode.
pub fn raw_entry(
    provider: &str,
    kind: &str,
    natural_key: &str,
    record: serde_json::Value,
    supersedes: Option<u64>,
) -> crate::ledger::entry::PendingEntry {
    crate::ledger::entry::PendingEntry {
        provider: crate::records::Slug::parse(provider).expect("slug"),
        kind: kind.into(),
        natural_key: natural_key.into(),
        record,
        supersedes,
        signature: None,
    }
}

/// A plausible pending record for ledger tests: the `i`-th capacity disclosure of a demo provider.
pub fn sample_pending(i: u64) -> crate::ledger::entry::PendingEntry {
    let providers = ["nimbus-gpu", "rhine-ai-factory", "nordic-hpc"];
    crate::ledger::entry::PendingEntry {
        provider: crate::records::Slug::parse(providers[(i % 3) as usize]).expect("slug"),
        kind: "capacity".into(),
        natural_key: format!("2026-{:02}-01|nvidia-h100-80gb|eu-de", 1 + i % 12),
        record: serde_json::json!({"as_of": "2026-11-01", "resource": "nvidia-h100-80gb", "region": "eu-de", "total": 100 + i}),
        supersedes: None,
        signature: None,
    }
}

/// `count` sample records starting at `start`.
pub fn sample_batch(start: u64, count: u64) -> Vec<crate::ledger::entry::PendingEntry> {
    (start..start + count).map(sample_pending).collect()
}
