//! Scale benchmark (issue 16): the real `gatelog serve` binary, driven over HTTP as a black
//! box, on worlds far larger than the demo:
//!
//! - (a) 1,000 providers × 1,000 records (1M entries);
//! - (b) one provider with 300,000 records, imported in 10,000-record batches;
//! - (c) 1,000 providers × 5,000 records (5M entries): memory and start-up only.
//!
//! The bulk of each world is appended through the library before the server starts (as fast as
//! the ledger appends); the measured batches go through `POST /api/v1/records` with the
//! provider's token, as a provider sends them (in world b they are the import's last batches).
//! Measured per world: the server's resident memory (VmRSS once it serves the loaded world, after
//! a first view of a few pages, at the end; VmHWM over the run); start and restart until `/`
//! answers 200 naming the current checkpoint; from a 10,000-record batch's 201 until the home
//! page, the provider's scorecard, a dashboard and a chart SVG each name that batch's checkpoint;
//! the first scorecard view after a one-record append; dashboards with a filter asked for the
//! first time; cached pages per second against a static file served by the same process. Pages
//! are read as a visitor reads them: a page's checkpoint is the tree size its citation line names
//! (see [`named_checkpoint`]).
//!
//! Run: `cargo bench --bench scale` (every world at a tenth of its size; about 6 minutes on 2
//! cores). Full size, the figures issue 16 asks for (about 20 minutes, most of it appending c's
//! 5M entries): `GATELOG_SCALE_FACTOR=1 cargo bench --bench scale`; one world: add
//! `GATELOG_SCALE_WORLD=a` (or `b`, `c`, `a,b`).
//!
//! Settings (environment):
//! - `GATELOG_SCALE_WORLD`: `a`, `b`, `c`, a comma list, or `all` (default);
//! - `GATELOG_SCALE_FACTOR`: 0 < f ≤ 1, shrinks every world (providers in a and c, records in b;
//!   default 0.1);
//! - `GATELOG_SCALE_BATCHES`: measured 10,000-record batches per world (default 3);
//! - `GATELOG_SCALE_ROUNDS`: cold views per measure (default 10);
//! - `GATELOG_SCALE_SECONDS`: seconds of load per cached page (default 3);
//! - `GATELOG_SCALE_CLIENTS`: concurrent clients for the cached pages (default 4);
//! - `GATELOG_SCALE_TIMEOUT`: seconds a page may take to name a checkpoint (default 900).
//!
//! Needs the embedded cluster (the server reaches it through its socket): leave DATABASE_URL unset.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Datelike, Days, Months, NaiveDate};
use common::BenchDatabase;
use gatelog::ledger::Ledger;
use gatelog::ledger::entry::PendingEntry;
use gatelog::providers::{NewProvider, ProviderKind};
use gatelog::records::{Record, Slug};
use serde_json::{Value, json};

/// Records per measured batch: the API's largest request.
const BATCH: usize = 10_000;
const ORIGIN: &str = "bench.gatelog.invalid/scale";
/// The newest month any world files for: fixed, so every run files the same records.
const LAST_MONTH: NaiveDate = match NaiveDate::from_ymd_opt(2026, 9, 1) {
    Some(date) => date,
    None => panic!("a calendar date"),
};
const TIERS: [&str; 5] = ["on_demand", "spot", "reserved", "allocation", "newcomer"];
const RESOURCES: [&str; 8] = [
    "nvidia-h100-80gb",
    "nvidia-a100-80gb",
    "nvidia-h200-141gb",
    "nvidia-b200-192gb",
    "nvidia-l40s-48gb",
    "amd-mi300x-192gb",
    "amd-mi250x-128gb",
    "intel-gaudi3-128gb",
];
const REGIONS: usize = 25;
/// Pause between two polls of a page that does not yet name the checkpoint. A poll of a page
/// whose figures are being computed already waits (up to the server's GATELOG_FRESH_WAIT_MS).
const POLL: Duration = Duration::from_millis(20);

fn region(j: usize) -> String {
    format!("region-{j:02}")
}

/// SplitMix64: cheap, deterministic figures.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// What one provider files each month, month after month from `first`: a queue time per
/// resource, region and tier, and (`extras`) a capacity and an on-demand price per resource and
/// region. Record `i` is a distinct natural key for every `i`.
#[derive(Debug, Clone)]
struct Filings {
    resources: Vec<String>,
    regions: Vec<String>,
    extras: bool,
    first: NaiveDate,
    seed: u64,
}

impl Filings {
    /// The filings of `count` records whose last month is [`LAST_MONTH`].
    fn ending(resources: Vec<String>, regions: Vec<String>, extras: bool, count: usize, seed: u64) -> Self {
        let mut filings = Self { resources, regions, extras, first: LAST_MONTH, seed };
        let months = count.div_ceil(filings.per_month()).max(1);
        filings.first = LAST_MONTH - Months::new(months as u32 - 1);
        filings
    }

    fn cells(&self) -> usize {
        self.resources.len() * self.regions.len()
    }

    fn per_month(&self) -> usize {
        self.cells() * if self.extras { 7 } else { 5 }
    }

    fn months(&self) -> usize {
        let index = |d: NaiveDate| d.year() as usize * 12 + d.month0() as usize;
        index(LAST_MONTH) - index(self.first) + 1
    }

    /// Record `i` as a provider submits it (with `kind`), within today's value domains.
    fn record(&self, i: usize) -> Value {
        let (month, slot) = (i / self.per_month(), i % self.per_month());
        let start = self.first + Months::new(month as u32);
        let end = start + Months::new(1);
        let h = mix(self.seed.wrapping_mul(1_000_003) ^ i as u64);
        let cells = self.cells();
        let cell = if slot < cells * 5 { slot / 5 } else { (slot - cells * 5) % cells };
        let (resource, region) = (&self.resources[cell / self.regions.len()], &self.regions[cell % self.regions.len()]);
        if slot < cells * 5 {
            let p50 = 60 + h % 7_200;
            let p90 = p50 + (h >> 16) % 20_000;
            let p99 = p90 + (h >> 32) % 80_000;
            json!({"kind": "queue_time", "period_start": start.to_string(), "period_end": end.to_string(),
                "resource": resource, "region": region, "tier": TIERS[slot % 5], "jobs": 1 + h % 50_000,
                "p50_seconds": p50, "p90_seconds": p90, "p99_seconds": p99})
        } else if slot < cells * 6 {
            let total = 64 + h % 4_096;
            json!({"kind": "capacity", "as_of": start.to_string(), "resource": resource, "region": region,
                "total_accelerators": total, "newcomer_set_aside": total / 16})
        } else {
            json!({"kind": "price", "effective_date": start.to_string(), "resource": resource, "region": region,
                "pricing_model": "on_demand", "price_per_accelerator_hour": format!("{}.{:02}", 1 + h % 6, (h >> 8) % 100),
                "currency": "EUR"})
        }
    }
}

/// A world to build and measure.
#[derive(Debug, Clone)]
struct World {
    name: char,
    providers: usize,
    /// Records each provider holds once the world is built (world b: with its measured batches).
    per_provider: usize,
    /// Measured 10,000-record batches; none for a memory-only world.
    batches: usize,
}

impl World {
    fn slug(p: usize) -> String {
        format!("scale-{p:04}")
    }

    fn entries(&self) -> usize {
        self.providers * self.per_provider + if self.name == 'a' { self.batches * BATCH } else { 0 }
    }

    /// What provider `p` files. In a and c: 2 of 8 resources in 4 of 25 regions, all three kinds
    /// (56 records a month); in b: 40 resources × 25 regions × 5 tiers of queue times (5,000 a month).
    fn filings(&self, p: usize) -> Filings {
        if self.name == 'b' {
            let resources = (0..40).map(|r| format!("accel-{r:02}")).collect();
            return Filings::ending(resources, (0..REGIONS).map(region).collect(), false, self.per_provider, p as u64);
        }
        let resources = vec![RESOURCES[p % 8].to_owned(), RESOURCES[(p + 1 + (p / 8) % 7) % 8].to_owned()];
        let regions = (0..4).map(|j| region((4 * p + j) % REGIONS)).collect();
        Filings::ending(resources, regions, true, self.per_provider, p as u64)
    }

    /// Records per provider appended through the library before the server starts.
    fn bulk(&self) -> usize {
        if self.name == 'b' { self.per_provider - self.batches * BATCH } else { self.per_provider }
    }

    /// Measured batch `k`: who files it and its records. In b, the import's next 10,000; in a, a
    /// provider's backfill of 20 months of queue times for 4 resources it had not reported.
    fn batch(&self, k: usize) -> (usize, Vec<Value>) {
        if self.name == 'b' {
            let filings = self.filings(0);
            let from = self.bulk() + k * BATCH;
            return (0, (from..from + BATCH).map(|i| filings.record(i)).collect());
        }
        let p = self.filer(k);
        let resources = (0..4).map(|r| format!("backfill-{k}-accel-{r}")).collect();
        let filings = Filings::ending(resources, (0..REGIONS).map(region).collect(), false, BATCH, 7_777 + k as u64);
        (p, (0..BATCH).map(|i| filings.record(i)).collect())
    }

    /// The provider that files measured batch `k`: spread over the providers in world a.
    fn filer(&self, k: usize) -> usize {
        k * self.providers.div_ceil(self.batches.max(1)) % self.providers
    }

    /// A one-record filing of provider 0 for round `round`, never filed before: capacity on a
    /// day of the last month other than the first.
    fn small(&self, round: usize) -> Value {
        let filings = self.filings(0);
        let as_of = LAST_MONTH + Days::new(1 + (round % 27) as u64);
        json!({"kind": "capacity", "as_of": as_of.to_string(), "resource": filings.resources[0],
            "region": filings.regions[(round / 27) % filings.regions.len()], "total_accelerators": 512 + round,
            "newcomer_set_aside": 32})
    }

    /// A queue-time filter (resource, region) nobody has asked for, for round `k` (< 200): each
    /// pair names a resource and region some provider files for.
    fn filter(&self, k: usize) -> (String, String) {
        if self.name == 'b' {
            let filings = self.filings(0);
            return (filings.resources[k % 40].clone(), filings.regions[k % REGIONS].clone());
        }
        let filings = self.filings(k % self.providers);
        (filings.resources[0].clone(), filings.regions[0].clone())
    }

    /// A `from` date for the price dashboard, distinct per round while rounds < months.
    fn from(&self, k: usize) -> NaiveDate {
        let months = self.filings(0).months();
        LAST_MONTH - Months::new((k % months) as u32)
    }

    fn describe(&self) -> String {
        let what = match self.name {
            'b' => format!(
                "1 provider × {} records ({} appended through the library, then {} batches over HTTP)",
                thousands(self.per_provider),
                thousands(self.bulk()),
                self.batches
            ),
            'a' => format!(
                "{} providers × {} records, then {} batches of 10,000 over HTTP",
                thousands(self.providers),
                thousands(self.per_provider),
                self.batches
            ),
            _ => format!("{} providers × {} records", thousands(self.providers), thousands(self.per_provider)),
        };
        format!("{}: {what} = {} entries", self.name, thousands(self.entries()))
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Every tree size a text names after the word "checkpoint" (skipping spaces, `&nbsp;` and tags
/// between them; digit groups may be separated by commas or thin spaces).
fn checkpoints_named(text: &str) -> Vec<u64> {
    let lower = text.to_ascii_lowercase();
    lower
        .match_indices("checkpoint")
        .filter_map(|(at, word)| {
            let mut rest = &lower[at + word.len()..];
            loop {
                let trimmed = rest.trim_start().trim_start_matches("&nbsp;").trim_start_matches('\u{a0}');
                match trimmed.strip_prefix('<').and_then(|tag| tag.split_once('>')) {
                    Some((_, after)) => rest = after,
                    None if trimmed.len() != rest.len() => rest = trimmed,
                    None => break,
                }
            }
            let digits: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || matches!(c, ',' | '\u{202f}' | '\u{2009}'))
                .filter(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

/// The checkpoint a page says it was computed from: the one its citation line (`id="cite"`)
/// names, else the oldest one it names anywhere (a chart SVG names it in its caption). Pages
/// may name several (a scorecard's figure captions); the citation is the page's own.
fn named_checkpoint(body: &str) -> Option<u64> {
    if let Some(start) = body.find("id=\"cite\"") {
        let end = body[start..].find("</p>").map_or(body.len(), |e| start + e);
        if let Some(size) = checkpoints_named(&body[start..end]).into_iter().min() {
            return Some(size);
        }
    }
    checkpoints_named(body).into_iter().min()
}

fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(900)))
        .build();
    ureq::Agent::new_with_config(config)
}

/// GET: the status (0 when no answer came) and the body.
fn get(agent: &ureq::Agent, url: &str) -> (u16, String) {
    match agent.get(url).call() {
        Ok(mut response) => {
            let status = response.status().as_u16();
            (status, response.body_mut().with_config().limit(1 << 30).read_to_string().unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

fn post(agent: &ureq::Agent, base: &str, token: &str, records: &[Value]) -> ureq::http::Response<ureq::Body> {
    let body = serde_json::to_vec(records).expect("json");
    agent
        .post(&format!("{base}/api/v1/records"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(&body[..])
        .expect("POST /api/v1/records")
}

/// Reads a batch's answer; the tree size after it.
fn accepted(mut response: ureq::http::Response<ureq::Body>) -> u64 {
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(1 << 30).read_to_vec().expect("batch answer");
    assert_eq!(status, 201, "batch refused: {}", String::from_utf8_lossy(&body[..body.len().min(2_000)]));
    let json: Value = serde_json::from_slice(&body).expect("batch answer JSON");
    json["tree_size"].as_u64().expect("tree_size in the batch answer")
}

/// Polls `url` until it answers 200 naming checkpoint `target` or later; the time from `since`.
/// `None` on timeout, or at once if the page names no checkpoint at all (it never will).
fn until_current(url: &str, target: u64, since: Instant, timeout: Duration) -> Option<Duration> {
    let agent = agent();
    loop {
        let (status, body) = get(&agent, url);
        if status == 200 {
            match named_checkpoint(&body) {
                Some(size) if size >= target => return Some(since.elapsed()),
                Some(_) => {}
                None => {
                    eprintln!("scale: {url} names no checkpoint; its freshness cannot be read");
                    return None;
                }
            }
        }
        if since.elapsed() > timeout {
            eprintln!("scale: {url} did not name checkpoint {target} within {} s", timeout.as_secs());
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// Requests per second from `clients` closed-loop clients for `seconds`, counting 200s only.
fn throughput(url: &str, clients: usize, seconds: f64) -> f64 {
    let _ = get(&agent(), url);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let ok: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| {
                    let agent = agent();
                    let mut ok = 0u64;
                    while Instant::now() < deadline {
                        if get(&agent, url).0 == 200 {
                            ok += 1;
                        }
                    }
                    ok
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("client")).sum()
    });
    ok as f64 / seconds
}

/// `gatelog serve` in a child process, on a port of its choosing.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(binary: &Path, env: &[(&str, String)], log: &Path) -> Self {
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("server log file");
        let mut child = Command::new(binary)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("start gatelog serve");
        // `serve` prints its address to stdout once it has bound, migrated and opened the ledger.
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the server's stdout");
        let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) else {
            let _ = child.kill();
            // The log goes with the temporary directory when this panic unwinds: show its end.
            let said = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = said.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!("gatelog serve did not start (stdout {line:?}); its log ends:\n{}", tail.join("\n"));
        };
        let base = url.trim_end_matches('/').to_owned();
        // Keep draining stdout, so that a later write never meets a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Self { child, base }
    }

    /// A `/proc/<pid>/status` memory field (VmRSS, VmHWM) in MB.
    fn memory_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    }

    /// SIGTERM and wait; how long it took to exit.
    fn stop(&mut self) -> Duration {
        let started = Instant::now();
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
        started.elapsed()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The results: one column per world, rows in the order first measured.
#[derive(Default)]
struct Table {
    rows: Vec<String>,
    cells: HashMap<(String, char), String>,
}

impl Table {
    fn set(&mut self, row: &str, world: char, value: String) {
        if !self.rows.iter().any(|r| r == row) {
            self.rows.push(row.to_owned());
        }
        eprintln!("scale: world {world}: {row}: {value}");
        self.cells.insert((row.to_owned(), world), value);
    }

    fn print(&self, worlds: &[World]) {
        print!("| measure |");
        for w in worlds {
            print!(" {} |", w.name);
        }
        print!("\n|---|");
        for _ in worlds {
            print!("---:|");
        }
        println!();
        for row in &self.rows {
            print!("| {row} |");
            for w in worlds {
                print!(" {} |", self.cells.get(&(row.clone(), w.name)).map_or("—", String::as_str));
            }
            println!();
        }
    }
}

fn median(mut times: Vec<Duration>) -> Option<Duration> {
    times.sort();
    times.get(times.len() / 2).copied()
}

fn secs(time: Option<Duration>) -> String {
    time.map_or("not within timeout".into(), |t| format!("{:.2}", t.as_secs_f64()))
}

fn ms(time: Option<Duration>) -> String {
    time.map_or("—".into(), |t| format!("{:.1}", t.as_secs_f64() * 1000.0))
}

struct Settings {
    /// The `gatelog` binary built with this bench.
    binary: PathBuf,
    factor: f64,
    batches: usize,
    rounds: usize,
    seconds: f64,
    clients: usize,
    timeout: Duration,
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().unwrap_or_else(|_| panic!("{name}={value:?} does not parse"))
        }
        _ => default,
    }
}

/// Appends provider `p`'s bulk records and the others', 10,000 entries a transaction; registers
/// every provider and a token for each of `filers`. Returns the tree size and the tokens.
async fn build(
    pool: &sqlx::PgPool,
    ledger: &Ledger,
    world: &World,
    filers: &BTreeSet<usize>,
) -> (u64, HashMap<usize, String>) {
    ledger.ensure_checkpoint(pool).await.expect("checkpoint");
    let mut conn = pool.acquire().await.expect("connection");
    let mut tokens = HashMap::new();
    for p in 0..world.providers {
        let slug = Slug::parse(&World::slug(p)).expect("slug");
        let provider = NewProvider {
            slug: slug.clone(),
            display_name: format!("Scale provider {p}"),
            kind: ProviderKind::GpuCloud,
            country: None,
            website: None,
        };
        gatelog::db::providers::insert_if_missing(&mut conn, &provider).await.expect("provider");
        if filers.contains(&p) {
            let issued = gatelog::tokens::issue().expect("token");
            gatelog::db::tokens::insert(&mut conn, &slug, &issued, "scale bench").await.expect("token");
            tokens.insert(p, issued.token);
        }
    }
    drop(conn);
    let (started, mut size) = (Instant::now(), 0u64);
    let mut pending = Vec::with_capacity(BATCH);
    for p in 0..world.providers {
        let (slug, filings) = (Slug::parse(&World::slug(p)).expect("slug"), world.filings(p));
        for i in 0..world.bulk() {
            // Parsed as the ingest API parses it, so every entry decodes under today's rules.
            let record = Record::parse(filings.record(i)).expect("a valid record");
            pending.push(PendingEntry {
                provider: slug.clone(),
                kind: record.kind().as_str().to_owned(),
                natural_key: record.natural_key(),
                record: record.to_json(),
                supersedes: None,
                signature: None,
            });
            if pending.len() == BATCH {
                ledger.append(pool, &pending).await.expect("append");
                size += BATCH as u64;
                pending.clear();
                if size % 500_000 == 0 {
                    eprintln!(
                        "scale: world {}: {size} entries in {:.0} s",
                        world.name,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        }
    }
    if !pending.is_empty() {
        ledger.append(pool, &pending).await.expect("append");
        size += pending.len() as u64;
    }
    (size, tokens)
}

fn run(runtime: &tokio::runtime::Runtime, world: &World, settings: &Settings, table: &mut Table) {
    let binary = settings.binary.as_path();
    let name = world.name;
    table.set("entries", name, thousands(world.entries()));
    let database = BenchDatabase::create(runtime, &format!("scale_{name}"));
    let dir = tempfile::Builder::new().prefix("gl-scale-").tempdir_in("/tmp").expect("tempdir");
    let key = dir.path().join("signing.key");
    let ledger = Ledger::new(gatelog::ledger::keys::create(&key, ORIGIN).expect("signing key"));
    let mut filers: BTreeSet<usize> = (0..world.batches).map(|k| world.filer(k)).collect();
    filers.insert(0);
    let started = Instant::now();
    let (mut tree, tokens) = runtime.block_on(build(&database.pool, &ledger, world, &filers));
    table.set("bulk append through the library (s)", name, format!("{:.0}", started.elapsed().as_secs_f64()));

    let env = [
        ("DATABASE_URL", database.database_url().expect("embedded cluster")),
        ("GATELOG_DATA_DIR", dir.path().display().to_string()),
        ("GATELOG_SIGNING_KEY", key.display().to_string()),
        ("GATELOG_LOG", "warn".to_owned()),
        // Every client is on loopback: one address, which the per-address limit would throttle.
        ("GATELOG_PER_IP_RATE", "0".to_owned()),
        ("GATELOG_INGEST_RATE", "100000".to_owned()),
        ("GATELOG_INGEST_BURST", "100000".to_owned()),
        ("GATELOG_SNAPSHOT_EVERY", "0".to_owned()),
    ];
    let log: PathBuf = dir.path().join("serve.log");
    let started = Instant::now();
    let mut server = Server::start(binary, &env, &log);
    let base = server.base.clone();
    let home = format!("{base}/");
    let ready = until_current(&home, tree, started, settings.timeout);
    table.set("start to `/` naming the checkpoint (s)", name, secs(ready));
    table.set("server RSS once serving the loaded world (MB)", name, format!("{:.0}", server.memory_mb("VmRSS:")));
    // What the server holds once the pages have been asked for (figures may be loaded lazily).
    let slug = World::slug(0);
    let visits = [
        "/providers".to_owned(),
        format!("/providers/{slug}"),
        format!("/providers/{slug}/charts/queue-times.svg"),
        "/metrics/queue-times".to_owned(),
        "/metrics/prices".to_owned(),
        "/metrics/capacity".to_owned(),
    ];
    let (agent, began) = (agent(), Instant::now());
    let answered = visits.iter().filter(|path| get(&agent, &format!("{base}{path}")).0 == 200).count();
    table.set(
        &format!("first views of {} pages after start (s, total; 200s)", visits.len()),
        name,
        format!("{:.2} ({answered})", began.elapsed().as_secs_f64()),
    );
    table.set("server RSS after those views (MB)", name, format!("{:.0}", server.memory_mb("VmRSS:")));
    if world.batches == 0 {
        table.set("server RSS peak (MB)", name, format!("{:.0}", server.memory_mb("VmHWM:")));
        server.stop();
        drop(server);
        database.finish(runtime);
        return;
    }

    // 1. 10,000-record batches: from the 201 until each page names the batch's checkpoint.
    let labels = ["home", "scorecard", "dashboard", "chart SVG"];
    let mut fresh: Vec<Vec<Duration>> = vec![Vec::new(); labels.len() + 1];
    let mut answers = Vec::new();
    let mut missed = 0;
    for k in 0..world.batches {
        let (p, records) = world.batch(k);
        let slug = World::slug(p);
        let pages = [
            home.clone(),
            format!("{base}/providers/{slug}"),
            format!("{base}/metrics/queue-times"),
            format!("{base}/providers/{slug}/charts/queue-times.svg"),
        ];
        let target = tree + records.len() as u64;
        let sent = Instant::now();
        let response = post(&agent, &base, &tokens[&p], &records);
        let answered = Instant::now();
        answers.push(answered - sent);
        let times: Vec<Option<Duration>> = std::thread::scope(|s| {
            // Polling starts at the 201, while the receipts are still being read.
            let polls: Vec<_> = pages
                .iter()
                .map(|url| s.spawn(move || until_current(url, target, answered, settings.timeout)))
                .collect();
            assert_eq!(accepted(response), target, "a batch of new records grows the tree by its size");
            polls.into_iter().map(|poll| poll.join().expect("poll")).collect()
        });
        tree = target;
        for (i, time) in times.iter().enumerate() {
            match time {
                Some(t) => fresh[i].push(*t),
                None => missed += 1,
            }
        }
        if times.iter().all(Option::is_some) {
            fresh[labels.len()].push(times.iter().flatten().copied().max().unwrap_or_default());
        }
    }
    let n = world.batches;
    table.set("server RSS after the batches (MB)", name, format!("{:.0}", server.memory_mb("VmRSS:")));
    table.set(&format!("10k batch: POST to 201 (s, median of {n})"), name, secs(median(answers)));
    for (label, times) in labels.iter().chain(&["all four"]).zip(fresh) {
        let complete = times.len() == n;
        let value = if complete { secs(median(times)) } else { format!("{} of {n} in time", times.len()) };
        table.set(&format!("10k batch: 201 to {label} naming it (s)"), name, value);
    }
    if missed > 0 {
        // The log would go with the temporary directory: keep a copy to read.
        let kept = std::env::temp_dir().join(format!("gatelog-scale-{name}-serve.log"));
        let _ = std::fs::copy(&log, &kept);
        eprintln!("scale: world {name}: {missed} page polls gave up; server log: {}", kept.display());
    }

    // 2. One-record appends: the first scorecard view after each, then until it is current.
    let scorecard = format!("{base}/providers/{slug}");
    let (mut cold, mut settled, mut current) = (Vec::new(), Vec::new(), 0);
    // The market and the unfiltered energy dashboard are computed once per checkpoint: their
    // first view after each append (the scorecard has loaded the checkpoint's state by then).
    let market_wide = [format!("{base}/counterparties"), format!("{base}/metrics/energy")];
    let mut market_cold: Vec<Vec<Duration>> = vec![Vec::new(); market_wide.len()];
    for round in 0..settings.rounds {
        tree = accepted(post(&agent, &base, &tokens[&0], &[world.small(round)]));
        let began = Instant::now();
        let (status, body) = get(&agent, &scorecard);
        cold.push(began.elapsed());
        assert_eq!(status, 200, "{scorecard}");
        if named_checkpoint(&body).is_some_and(|size| size >= tree) {
            current += 1;
        }
        if let Some(t) = until_current(&scorecard, tree, began, settings.timeout) {
            settled.push(t);
        }
        for (url, times) in market_wide.iter().zip(&mut market_cold) {
            let began = Instant::now();
            let (status, _) = get(&agent, url);
            times.push(began.elapsed());
            assert_eq!(status, 200, "{url}");
        }
    }
    let rounds = settings.rounds;
    table.set(
        &format!("scorecard, first view after a 1-record append, p50 (ms; views naming it, of {rounds})"),
        name,
        format!("{} ({current})", ms(median(cold))),
    );
    table.set("1-record append: until the scorecard names it, p50 (ms)", name, ms(median(settled)));
    for (page, times) in ["/counterparties", "/metrics/energy"].iter().zip(market_cold) {
        table.set(&format!("{page}, first view after a 1-record append, p50 (ms)"), name, ms(median(times)));
    }
    table.set("server RSS after the 1-record appends (MB)", name, format!("{:.0}", server.memory_mb("VmRSS:")));

    // 3. Dashboards with a filter nobody has asked for yet at this checkpoint.
    until_current(&home, tree, Instant::now(), settings.timeout);
    let (mut by_place, mut by_date) = (Vec::new(), Vec::new());
    for k in 0..rounds {
        let (resource, region) = world.filter(k);
        let began = Instant::now();
        let (status, _) = get(&agent, &format!("{base}/metrics/queue-times?resource={resource}&region={region}"));
        by_place.push(began.elapsed());
        assert_eq!(status, 200);
        let began = Instant::now();
        let (status, _) = get(&agent, &format!("{base}/metrics/prices?from={}", world.from(k)));
        by_date.push(began.elapsed());
        assert_eq!(status, 200);
    }
    table.set("cold /metrics/queue-times?resource=…&region=… p50 (ms)", name, ms(median(by_place)));
    table.set("cold /metrics/prices?from=… p50 (ms)", name, ms(median(by_date)));
    table.set("server RSS after the filtered dashboards (MB)", name, format!("{:.0}", server.memory_mb("VmRSS:")));

    // 4. Cached pages against a static file from the same process.
    let clients = settings.clients;
    let targets = [
        ("static file", format!("{base}/static/css/gatelog.css")),
        ("home", home.clone()),
        ("scorecard", scorecard.clone()),
        ("dashboard", format!("{base}/metrics/queue-times")),
        ("chart SVG", format!("{base}/providers/{slug}/charts/queue-times.svg")),
    ];
    let mut static_rate = 0.0;
    for (label, url) in &targets {
        let rate = throughput(url, clients, settings.seconds);
        if *label == "static file" {
            static_rate = rate;
            table.set(&format!("cached req/s, {clients} clients: static file"), name, format!("{rate:.0}"));
        } else {
            let share = if static_rate > 0.0 { rate / static_rate * 100.0 } else { 0.0 };
            table.set(
                &format!("cached req/s, {clients} clients: {label} (% of static)"),
                name,
                format!("{rate:.0} ({share:.0} %)"),
            );
        }
    }
    table.set("server RSS after the run (MB)", name, format!("{:.0}", server.memory_mb("VmRSS:")));
    table.set("server RSS peak (MB)", name, format!("{:.0}", server.memory_mb("VmHWM:")));

    // 5. Restart: SIGTERM, start again, until `/` names the current checkpoint.
    let stopped = server.stop();
    drop(server);
    table.set("stop on SIGTERM (s)", name, secs(Some(stopped)));
    let started = Instant::now();
    let mut server = Server::start(binary, &env, &log);
    let ready = until_current(&format!("{}/", server.base), tree, started, settings.timeout);
    table.set("restart to `/` naming the checkpoint (s)", name, secs(ready));
    table.set("server RSS after restart (MB)", name, format!("{:.0}", server.memory_mb("VmRSS:")));
    server.stop();
    drop(server);
    database.finish(runtime);
}

fn main() {
    assert!(
        std::env::var("DATABASE_URL").unwrap_or_default().is_empty(),
        "run this benchmark on the embedded cluster (unset DATABASE_URL)"
    );
    let factor: f64 = setting("GATELOG_SCALE_FACTOR", 0.1);
    assert!(factor > 0.0 && factor <= 1.0, "GATELOG_SCALE_FACTOR must be in (0, 1]");
    // A copy of the server built with this bench: a concurrent build in the shared target
    // directory cannot swap it (and its migrations) in the middle of a run.
    let bin_dir = tempfile::Builder::new().prefix("gl-scale-bin-").tempdir_in("/tmp").expect("tempdir");
    let binary = bin_dir.path().join("gatelog");
    std::fs::copy(env!("CARGO_BIN_EXE_gatelog"), &binary).expect("copy the gatelog binary");
    let settings = Settings {
        binary,
        factor,
        batches: setting("GATELOG_SCALE_BATCHES", 3usize).max(1),
        rounds: setting("GATELOG_SCALE_ROUNDS", 10usize).clamp(1, 200),
        seconds: setting("GATELOG_SCALE_SECONDS", 3.0f64),
        clients: setting("GATELOG_SCALE_CLIENTS", 4usize).max(1),
        timeout: Duration::from_secs(setting("GATELOG_SCALE_TIMEOUT", 900u64)),
    };
    let chosen: String = setting("GATELOG_SCALE_WORLD", "all".to_owned());
    let scaled = |n: f64| ((n * settings.factor).round() as usize).max(1);
    let batches = settings.batches;
    let all = [
        World { name: 'a', providers: scaled(1_000.0), per_provider: 1_000, batches },
        World { name: 'b', providers: 1, per_provider: scaled(30.0).max(batches) * BATCH, batches },
        World { name: 'c', providers: scaled(1_000.0), per_provider: 5_000, batches: 0 },
    ];
    let worlds: Vec<World> = all
        .into_iter()
        .filter(|w| chosen == "all" || chosen.split(',').any(|c| c.trim().starts_with(w.name)))
        .collect();
    assert!(!worlds.is_empty(), "GATELOG_SCALE_WORLD={chosen:?}: expected a, b, c, a comma list or all");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut table = Table::default();
    for world in &worlds {
        eprintln!("scale: building world {}", world.describe());
        run(&runtime, world, &settings, &mut table);
    }
    println!("## scale (issue 16): `gatelog serve` over HTTP, factor {}", settings.factor);
    for world in &worlds {
        println!("- world {}", world.describe());
    }
    println!(
        "- {} measured 10,000-record batches per world, {} rounds of cold views, cached pages {} s each; medians",
        settings.batches, settings.rounds, settings.seconds
    );
    println!();
    table.print(&worlds);
}
