//! `gatelog serve`: bind, open the database, migrate, serve until SIGINT/SIGTERM,
//! then drain requests and stop the embedded cluster.

use std::future::IntoFuture;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::{ServeConfig, SigningKeyConfig};
use crate::db::{Database, DbError};
use crate::ledger::keys::{self, KeyFileError};
use crate::ledger::note::NoteSigner;
use crate::ledger::{Ledger, LedgerError};
use crate::net::{NoDelayListener, PeerAddr};
use crate::{AppState, demo, routes};

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {reason}; choose another address with --addr or GATELOG_ADDR")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        reason: String,
    },
    /// The database could not be opened, migrated or seeded.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The signing key is missing, unreadable or too widely readable.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The ledger refused to start (for example, stored hashes disagree with the head).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The demo data could not be loaded.
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    /// The HTTP server stopped with an error.
    #[error("the HTTP server failed: {0}")]
    Http(std::io::Error),
}

/// Runs the server until a shutdown signal, then shuts everything down cleanly.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    // Bind first: a busy port should fail in milliseconds, before any initdb.
    let listener = TcpListener::bind(config.addr).await.map_err(|error| ServeError::Bind {
        addr: config.addr,
        reason: match error.kind() {
            std::io::ErrorKind::AddrInUse => "the address is already in use by another program".into(),
            std::io::ErrorKind::PermissionDenied => "permission denied (ports below 1024 need privileges)".into(),
            _ => error.to_string(),
        },
    })?;
    let local = listener.local_addr().map_err(ServeError::Http)?;
    // Check the key before starting a database, so a bad key costs nothing.
    let ledger = Ledger::new(load_signer(&config.signing_key)?);

    let database = Database::open(config.database.clone()).await?;
    let result = serve_with(&database, &config, ledger, listener, local).await;
    // Whatever happened, stop the embedded cluster before returning. Closing the pool waits for
    // connections still checked out (a request or a computation cut short holds one): not
    // past CLOSE_WAIT. Dropping the handle then stops the cluster all the same.
    let closed = match tokio::time::timeout(CLOSE_WAIT, database.pool.close()).await {
        Ok(()) => database.close().await,
        Err(_) => {
            tracing::warn!(
                seconds = CLOSE_WAIT.as_secs_f64(),
                "database connections still in use; closing without them"
            );
            tokio::task::spawn_blocking(move || drop(database))
                .await
                .map_err(|join| DbError::Query(sqlx::Error::Protocol(format!("embedded shutdown task failed: {join}"))))
        }
    };
    result?;
    closed?;
    Ok(())
}

/// How long requests in flight get to finish after SIGINT/SIGTERM. Past it the server stops
/// whatever they are doing: a stop must take seconds (issue 15: under 10 s), not as long as
/// the slowest export or a first computation of the page figures.
const DRAIN: Duration = Duration::from_secs(4);

/// How long closing the database may wait for connections to come back (PostgreSQL's
/// fast shutdown ends the sessions of those that do not).
const CLOSE_WAIT: Duration = Duration::from_secs(1);

async fn serve_with(
    database: &Database,
    config: &ServeConfig,
    ledger: Ledger,
    listener: TcpListener,
    local: SocketAddr,
) -> Result<(), ServeError> {
    database.migrate().await?;
    let pool = database.pool.clone();
    // Before listening: pages read the projection, which must have folded the whole ledger
    // (a no-op unless the ledger predates it or its rules changed; appends keep it current).
    crate::db::projection::catch_up(&pool).await.map_err(DbError::from)?;
    let checkpoint = ledger.ensure_checkpoint(&pool).await?;
    tracing::info!(origin = ledger.origin(), size = checkpoint.checkpoint.size, vkey = %ledger.verifier(), "ledger ready");
    if config.demo {
        let started = std::time::Instant::now();
        let summary = demo::load(&pool, &ledger, demo::DEFAULT_SEED).await?;
        tracing::info!(
            new_providers = summary.new_providers,
            records = summary.records,
            appended = summary.appended,
            already_loaded = summary.already_loaded,
            seconds = started.elapsed().as_secs_f64(),
            "demo data"
        );
    }
    let state = AppState::with_ingest_rate(pool, ledger, config.ingest_rate)
        .with_public_url(&config.public_url)
        .with_snapshots_dir(&config.snapshots_dir)
        .with_max_concurrent(config.max_concurrent)
        .with_per_ip_rate(config.per_ip_rate)
        .with_witnesses(config.witnesses.clone())
        .with_fresh_wait(config.fresh_wait)
        .with_idempotency_days(config.idempotency_days)
        .with_reporters(config.report_rate, config.unanswered_days);
    if !state.witnesses.configured.is_empty() {
        tokio::spawn(witness_job(state.clone(), config.witness_every));
    }
    tokio::spawn(idempotency_prune_job(state.pool.clone(), config.idempotency_days.get()));
    if let Some(every) = config.snapshot_every {
        tokio::spawn(snapshot_job(state.pool.clone(), config.snapshots_dir.clone(), every));
    }
    // Computing the first snapshot takes seconds at scale: start it now, not on the first visitor's request.
    let warm = state.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match crate::web::page_data::current(&warm).await {
            Ok(snapshot) => tracing::info!(
                tree_size = snapshot.tree_size,
                seconds = started.elapsed().as_secs_f64(),
                "page snapshot ready"
            ),
            Err(error) => tracing::warn!(%error, "page snapshot not computed at start-up"),
        }
    });
    let snapshots = state.snapshots.clone();
    let app = routes::app(state, &config.static_dir);

    // The URL goes to stdout (tests and scripts read it); logs go to stderr.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "Gatelog is serving on http://{local}/ (press Ctrl-C to stop)");
    let _ = stdout.flush();

    // The peer address feeds the per-address rate limit.
    let app = app.into_make_service_with_connect_info::<PeerAddr>();
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(NoDelayListener(listener), app).with_graceful_shutdown(async move {
        crate::shutdown::signal().await;
        // Requests waiting for page figures answer now instead of holding up the drain.
        snapshots.stop();
        let _ = signalled.send(());
    });
    // The drain is bounded: requests still running DRAIN after the signal are abandoned (their
    // tasks end with the runtime, which `main` does not wait for either).
    let drain_over = async move {
        match on_signal.await {
            Ok(()) => tokio::time::sleep(DRAIN).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        served = server.into_future() => served.map_err(ServeError::Http)?,
        () = drain_over => tracing::warn!(seconds = DRAIN.as_secs(), "requests still running after the drain; stopping anyway"),
    }
    tracing::info!("HTTP server stopped; shutting down");
    Ok(())
}

/// Loads the signing key, creating it at the default path on first start.
pub fn load_signer(config: &SigningKeyConfig) -> Result<NoteSigner, KeyFileError> {
    match (keys::load(&config.path), &config.create_with_origin) {
        (Err(KeyFileError::Missing { .. }), Some(origin)) => {
            let signer = keys::create(&config.path, origin)?;
            tracing::warn!(path = %config.path.display(), vkey = %signer.verifier(), "created a new checkpoint signing key; back it up");
            Ok(signer)
        }
        (result, _) => result,
    }
}

/// Asks the witnesses to cosign the newest checkpoint every `every` (a round with
/// nothing new to cosign costs one query).
async fn witness_job(state: AppState, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = state.witnesses.collect(&state.pool).await {
            tracing::warn!(%error, "witness round failed");
        }
    }
}

/// Deletes expired idempotency keys now and then hourly, so the table holds at most
/// `days` of keys (a claim also takes over an expired row it meets).
async fn idempotency_prune_job(pool: sqlx::PgPool, days: u32) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        ticks.tick().await;
        let pruned = match pool.acquire().await {
            Ok(mut conn) => crate::db::idempotency_keys::prune(&mut conn, days).await,
            Err(error) => Err(error),
        };
        match pruned {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, days, "expired idempotency keys deleted"),
            Err(error) => tracing::warn!(%error, "idempotency key pruning failed"),
        }
    }
}

/// Writes a snapshot of the latest checkpoint (if there is none of it yet) now and
/// then every `every`, into `dir/<tree size>/`.
async fn snapshot_job(pool: sqlx::PgPool, dir: std::path::PathBuf, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let size = match pool.acquire().await {
            Ok(mut conn) => match crate::db::ledger::latest_checkpoint(&mut conn).await {
                Ok(Some(checkpoint)) => checkpoint.size,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(%error, "snapshot job: cannot read the checkpoint");
                    continue;
                }
            },
            Err(error) => {
                tracing::warn!(%error, "snapshot job: no database connection");
                continue;
            }
        };
        let out = dir.join(size.to_string());
        if size == 0 || out.exists() {
            continue;
        }
        let started = std::time::Instant::now();
        match crate::datasets::snapshot::write(&pool, &out, Some(size)).await {
            Ok(_) => tracing::info!(tree_size = size, seconds = started.elapsed().as_secs_f64(), "snapshot written"),
            Err(error) => tracing::error!(%error, tree_size = size, "snapshot failed"),
        }
    }
}
