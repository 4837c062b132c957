//! PostgreSQL: where the connection comes from (an external server or the
//! embedded cluster), migrations, and the query functions, one module per table.

pub mod cosignatures;
pub mod embedded;
pub mod filings;
pub mod idempotency_keys;
pub mod latest_versions;
pub mod ledger;
pub mod obligations;
pub mod projection;
pub mod provider_keys;
pub mod providers;
pub mod report_export;
pub mod reports;
pub mod tokens;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};

use embedded::{EmbeddedCluster, EmbeddedError};

/// Every migration under `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Name of the database Gatelog creates inside its embedded cluster.
const EMBEDDED_DATABASE: &str = "gatelog";
/// How long to wait for a connection before reporting the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in a pool. Exports take at most half of them at once
/// ([`crate::web::data::ExportLimits::for_pool`]).
pub const POOL_CONNECTIONS: u32 = 16;
/// Longest a statement may run on the site's connections (PostgreSQL's
/// `statement_timeout`). Page views, ingest batches and each page of an export take
/// milliseconds; the longest statement `serve` runs, reading every latest record for the
/// first page snapshot, takes seconds at a million records. A statement past this is
/// cancelled rather than left holding its connection (issue 15). Migrations lift it on
/// their own connection; operator commands (`verify`, `backup`, `export`) run without it.
const STATEMENT_TIMEOUT: &str = "120s";
/// A connection left inside a transaction with nothing running for this long is closed
/// by PostgreSQL, releasing its locks (`idle_in_transaction_session_timeout`). Gatelog's
/// transactions run their statements back to back.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";

/// Which session limits a pool's connections get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    /// The site: statements and idle transactions are both bounded.
    Site,
    /// An operator command: idle transactions are bounded, statements may run long.
    Command,
}

/// Where the database lives.
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// An existing server, from `DATABASE_URL` / `--database-url`.
    External(Box<PgConnectOptions>),
    /// The private cluster under the data directory.
    Embedded {
        /// Gatelog's data directory; the cluster lives in `<data_dir>/pg`.
        data_dir: PathBuf,
        /// Where initdb/pg_ctl/postgres are, if not discovered.
        pg_bindir: Option<PathBuf>,
    },
}

/// Failures opening or preparing the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The embedded cluster could not be started.
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    /// The configured server could not be reached or refused us.
    #[error(
        "cannot connect to the database {target}: {source}; check DATABASE_URL (or --database-url) and that the server is running"
    )]
    Connect {
        /// The server, described without its password.
        target: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("applying migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The projection could not be brought up to date with the ledger.
    #[error(transparent)]
    Projection(#[from] projection::ProjectionError),
    /// Any other database error during setup.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// An open database: the pool, and the embedded cluster when we run one.
#[derive(Debug)]
pub struct Database {
    /// The connection pool handed to the web layer.
    pub pool: PgPool,
    cluster: Option<EmbeddedCluster>,
}

impl Database {
    /// Opens the database for a one-off command (`migrate`, `provider`, `token`,
    /// `verify`, `demo`): like [`Database::open`], but if a running `gatelog serve`
    /// owns the embedded cluster, connect to it through its socket instead of failing,
    /// so operators can issue tokens without stopping the site.
    pub async fn open_for_command(config: DatabaseConfig) -> Result<Self, DbError> {
        let data_dir = match &config {
            DatabaseConfig::Embedded { data_dir, .. } => Some(data_dir.clone()),
            DatabaseConfig::External(_) => None,
        };
        match Self::open_with(config, Session::Command).await {
            Err(DbError::Embedded(EmbeddedError::AlreadyRunning { path, holder })) => {
                let Some(options) = data_dir.and_then(|dir| embedded::running_cluster_options(&dir, EMBEDDED_DATABASE))
                else {
                    return Err(DbError::Embedded(EmbeddedError::AlreadyRunning { path, holder }));
                };
                tracing::info!("using the cluster of the gatelog already running on this data directory");
                Ok(Self { pool: connect_session(options, Session::Command).await?, cluster: None })
            }
            other => other,
        }
    }

    /// Connects to the configured database, starting the embedded cluster if needed; the
    /// pool's connections have the site's limits ([`connect_pool`]).
    pub async fn open(config: DatabaseConfig) -> Result<Self, DbError> {
        Self::open_with(config, Session::Site).await
    }

    async fn open_with(config: DatabaseConfig, session: Session) -> Result<Self, DbError> {
        match config {
            DatabaseConfig::External(options) => {
                let pool = connect_session(*options, session).await?;
                Ok(Self { pool, cluster: None })
            }
            DatabaseConfig::Embedded { data_dir, pg_bindir } => {
                let cluster =
                    tokio::task::spawn_blocking(move || EmbeddedCluster::start(&data_dir, pg_bindir.as_deref()))
                        .await
                        .map_err(|join| {
                            DbError::Query(sqlx::Error::Protocol(format!("embedded start-up task failed: {join}")))
                        })??;
                tracing::info!(socket = %cluster.socket_dir().display(), "embedded PostgreSQL is running");
                // If anything below fails, dropping `cluster` stops the server.
                create_database_if_missing(&cluster.connect_options("postgres"), EMBEDDED_DATABASE).await?;
                let pool = connect_session(cluster.connect_options(EMBEDDED_DATABASE), session).await?;
                Ok(Self { pool, cluster: Some(cluster) })
            }
        }
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), DbError> {
        let mut conn = self.pool.acquire().await?;
        // A migration may build an index over the whole ledger: no statement limit on this
        // connection, which is then closed rather than returned to the pool without one.
        conn.close_on_drop();
        conn.execute("SET statement_timeout = 0").await?;
        MIGRATOR.run(&mut *conn).await?;
        Ok(())
    }

    /// Closes the pool, then stops the embedded cluster (fast shutdown) if we run one.
    pub async fn close(self) -> Result<(), DbError> {
        self.pool.close().await;
        if let Some(cluster) = self.cluster {
            tokio::task::spawn_blocking(move || cluster.stop()).await.map_err(|join| {
                DbError::Query(sqlx::Error::Protocol(format!("embedded shutdown task failed: {join}")))
            })??;
            tracing::info!("embedded PostgreSQL stopped");
        }
        Ok(())
    }
}

/// Parses a `postgres://` URL, for config errors that name the variable.
pub fn parse_database_url(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    PgConnectOptions::from_str(url)
}

/// Opens a pool for the site (its connections have a statement timeout and an idle-in-transaction
/// timeout), turning failure into an error that names the server (never the password).
pub async fn connect_pool(options: PgConnectOptions) -> Result<PgPool, DbError> {
    connect_session(options, Session::Site).await
}

async fn connect_session(options: PgConnectOptions, session: Session) -> Result<PgPool, DbError> {
    let target = describe(&options);
    // Startup parameters: every connection has them from its first statement, including
    // connections the pool opens later.
    let options = options.options([("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION_TIMEOUT)]);
    let options = match session {
        Session::Site => options.options([("statement_timeout", STATEMENT_TIMEOUT)]),
        Session::Command => options,
    };
    PgPoolOptions::new()
        .max_connections(POOL_CONNECTIONS)
        .acquire_timeout(CONNECT_TIMEOUT)
        // A connection keeps the largest message it ever sent or received in its buffers
        // (a 10,000-record append binds megabytes): without this, each of the pool's
        // connections would hold its own high-water mark for the life of the process, and a
        // server that took a few large batches kept hundreds of MB. Shrinking only frees
        // buffers grown past the default 8 KiB, so a small request pays nothing.
        .after_release(|conn, _| {
            Box::pin(async move {
                sqlx::Connection::shrink_buffers(conn);
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .map_err(|source| DbError::Connect { target, source })
}

/// Creates `name` on the server behind `admin` unless it exists.
pub async fn create_database_if_missing(admin: &PgConnectOptions, name: &str) -> Result<(), DbError> {
    let target = describe(admin);
    let mut conn = PgConnection::connect_with(admin).await.map_err(|source| DbError::Connect { target, source })?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        // Identifiers cannot be bound as parameters; `quote_ident` keeps this safe.
        let quoted: String = sqlx::query_scalar("SELECT quote_ident($1)").bind(name).fetch_one(&mut conn).await?;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}"))).await?;
    }
    conn.close().await?;
    Ok(())
}

/// A read-only transaction that sees one moment: every statement in it reads the database
/// as of its first (REPEATABLE READ), whatever is appended meanwhile.
pub async fn begin_consistent_read(pool: &PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?;
    Ok(tx)
}

/// How many embedded migrations the database has applied, and how many the binary has.
pub async fn migration_status(pool: &PgPool) -> Result<(i64, usize), sqlx::Error> {
    let expected = MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).count();
    let table_exists: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(pool).await?;
    if !table_exists {
        return Ok((0, expected));
    }
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(pool).await?;
    Ok((applied, expected))
}

/// A human description of a server: `user@host:port/db` or the socket path.
pub fn describe(options: &PgConnectOptions) -> String {
    let database = options.get_database().unwrap_or("(default database)");
    match options.get_socket() {
        Some(socket) => format!("{}@{}/{database}", options.get_username(), socket.display()),
        None => format!("{}@{}:{}/{database}", options.get_username(), options.get_host(), options.get_port()),
    }
}

#[cfg(test)]
mod migration_tests;

#[cfg(test)]
mod tests {
    use sqlx::Executor;

    use super::*;

    async fn setting(pool: &PgPool, name: &str) -> String {
        let mut conn = pool.acquire().await.expect("conn");
        let query = format!("SHOW {name}");
        let row = conn.fetch_one(sqlx::AssertSqlSafe(query)).await.expect("show");
        sqlx::Row::get(&row, 0)
    }

    /// The site's connections cut off a runaway statement and an abandoned transaction;
    /// an operator command's connections bound only the latter; migrations run unbounded.
    #[tokio::test]
    async fn site_connections_have_statement_and_idle_transaction_timeouts() {
        let db = crate::testing::TestDb::new().await;
        let options = (*db.pool.connect_options()).clone();
        let site = connect_pool(options.clone()).await.expect("site pool");
        assert_eq!(setting(&site, "statement_timeout").await, "2min");
        assert_eq!(setting(&site, "idle_in_transaction_session_timeout").await, "1min");
        let command = connect_session(options, Session::Command).await.expect("command pool");
        assert_eq!(setting(&command, "statement_timeout").await, "0");
        assert_eq!(setting(&command, "idle_in_transaction_session_timeout").await, "1min");
        let database = Database { pool: site.clone(), cluster: None };
        database.migrate().await.expect("migrations apply on a site pool");
        assert_eq!(setting(&site, "statement_timeout").await, "2min", "no connection without a limit went back");
        site.close().await;
        command.close().await;
    }
}
