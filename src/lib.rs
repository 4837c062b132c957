//! Gatelog: a public, verifiable ledger of who gets access to compute, and on what terms.
//!
//! Data flows one way: input is parsed once at the edge into domain types
//! ([`records`]), stored once ([`db`]), and everything published ([`web`]) is
//! derived from what is stored.

pub mod analytics;
pub mod api;
pub mod backup;
pub mod charts;
pub mod cli;
pub mod commands;
pub mod config;
pub mod datasets;
pub mod db;
pub mod demo;
pub mod error;
pub mod figures;
pub mod ledger;
pub mod monitor;
pub mod net;
pub mod projection;
pub mod providers;
pub mod routes;
pub mod server;
pub mod shutdown;
pub mod submission;
pub mod telemetry;
pub mod tokens;
pub mod web;
pub mod witness;

#[cfg(test)]
pub mod testing;

pub use gatelog_core::{fsutil, records};

use std::sync::Arc;

use sqlx::PgPool;

pub use routes::app;

/// Requests served at once by default (2 cores; the database pool is the real bound).
pub const DEFAULT_MAX_CONCURRENT: usize = 256;

/// Days an `Idempotency-Key` is remembered by default.
pub const DEFAULT_IDEMPOTENCY_DAYS: std::num::NonZeroU32 = std::num::NonZeroU32::new(30).expect("non-zero");

/// Days after which a report without the provider's answer counts as unanswered, by default.
pub const DEFAULT_UNANSWERED_DAYS: std::num::NonZeroU32 = std::num::NonZeroU32::new(30).expect("non-zero");

/// Shared state handed to every handler; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database pool.
    pub pool: PgPool,
    /// The log: its origin and signing key.
    pub ledger: Arc<ledger::Ledger>,
    /// Per-token rate limit of the write API.
    pub ingest_limiter: api::auth::TokenRateLimiter,
    /// Page data computed once per checkpoint.
    pub snapshots: web::page_data::PageDataCache,
    /// The site's public address (no trailing slash), for permalinks and citations.
    pub public_url: Arc<str>,
    /// Where checkpoint-pinned snapshots are written and served from, if anywhere.
    pub snapshots_dir: Option<Arc<std::path::Path>>,
    /// Operational metrics, served at `/metrics`.
    pub metrics: Arc<telemetry::Metrics>,
    /// Requests served at once; beyond it, 503 with Retry-After.
    pub max_concurrent: usize,
    /// Per-client-address rate limit, if any.
    pub per_ip: Option<api::per_ip::PerIpLimiter>,
    /// Witnesses asked to cosign checkpoints, and how each last answered.
    pub witnesses: witness::Witnesses,
    /// Days an `Idempotency-Key` is remembered; older keys count as unused.
    pub idempotency_days: std::num::NonZeroU32,
    /// Exports at once, and how long one waits on its first page and on a stalled client.
    pub exports: web::data::ExportLimits,
    /// Per-token rate limit of the write API for reporters (apart from providers').
    pub report_limiter: api::auth::TokenRateLimiter,
    /// Days after which a report without the provider's answer counts as unanswered.
    pub unanswered_days: std::num::NonZeroU32,
}

impl AppState {
    /// State over an open pool and the log's key, with the default ingest rate.
    pub fn new(pool: PgPool, ledger: ledger::Ledger) -> Self {
        Self::with_ingest_rate(pool, ledger, api::auth::IngestRate::default())
    }

    /// State with a chosen per-token ingest rate.
    pub fn with_ingest_rate(pool: PgPool, ledger: ledger::Ledger, rate: api::auth::IngestRate) -> Self {
        Self {
            exports: web::data::ExportLimits::for_pool(&pool),
            pool,
            ledger: Arc::new(ledger),
            ingest_limiter: api::auth::TokenRateLimiter::new(rate),
            snapshots: web::page_data::PageDataCache::default(),
            public_url: Arc::from("http://localhost:8080"),
            snapshots_dir: None,
            metrics: Arc::new(telemetry::Metrics::default()),
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            per_ip: None,
            witnesses: witness::Witnesses::default(),
            idempotency_days: DEFAULT_IDEMPOTENCY_DAYS,
            report_limiter: api::auth::TokenRateLimiter::new(api::auth::IngestRate::REPORTERS),
            unanswered_days: DEFAULT_UNANSWERED_DAYS,
        }
    }

    /// The same state with reporters' own write rate and the days after which a report counts as unanswered.
    pub fn with_reporters(mut self, rate: api::auth::IngestRate, unanswered_days: std::num::NonZeroU32) -> Self {
        self.report_limiter = api::auth::TokenRateLimiter::new(rate);
        self.unanswered_days = unanswered_days;
        self
    }

    /// The same state limiting each client address to `rate` (`None`: no per-address limit).
    pub fn with_per_ip_rate(mut self, rate: Option<api::per_ip::PerIpRate>) -> Self {
        self.per_ip = rate.map(api::per_ip::PerIpLimiter::new);
        self
    }

    /// The same state, with page views waiting up to `wait` for a new checkpoint's figures.
    pub fn with_fresh_wait(mut self, wait: std::time::Duration) -> Self {
        self.snapshots = web::page_data::PageDataCache::with_fresh_wait(wait);
        self
    }

    /// The same state asking these witnesses for cosignatures.
    pub fn with_witnesses(mut self, witnesses: Vec<witness::client::WitnessConfig>) -> Self {
        self.witnesses = witness::Witnesses::new(witnesses);
        self
    }

    /// The same state with other export limits (by default, half the pool's connections).
    pub fn with_export_limits(mut self, limits: web::data::ExportLimits) -> Self {
        self.exports = limits;
        self
    }

    /// The same state, remembering idempotency keys for `days`.
    pub fn with_idempotency_days(mut self, days: std::num::NonZeroU32) -> Self {
        self.idempotency_days = days;
        self
    }

    /// The same state with another concurrency limit.
    pub fn with_max_concurrent(mut self, limit: usize) -> Self {
        self.max_concurrent = limit.max(1);
        self
    }

    /// The same state, serving snapshots from `dir` (one subdirectory per tree size).
    pub fn with_snapshots_dir(mut self, dir: &std::path::Path) -> Self {
        self.snapshots_dir = Some(Arc::from(dir));
        self
    }

    /// The same state with the site's public address (no trailing slash).
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = Arc::from(url.trim_end_matches('/'));
        self
    }
}
