//! One module per `gatelog` command: its flags, its typed error and what it does.
//! `crate::cli` holds the schema that names them and turns a parsed command line into a
//! call here. Every command that needs the database goes through [`with_database`], except
//! `serve`, whose server holds it open with the site's connection limits until it stops
//! ([`crate::server::serve`]).

pub mod backup;
pub mod demo;
pub mod export;
pub mod keygen;
pub mod migrate;
pub mod monitor;
pub mod provider;
pub mod reporter;
pub mod restore;
pub mod serve;
pub mod sign_records;
pub mod token;
pub mod verify;
pub mod verify_receipt;
pub mod witness;

use std::future::Future;

use sqlx::PgPool;

use crate::config::{self, ConfigError, GlobalArgs};
use crate::db::{Database, DbError};
use crate::records::Slug;

/// Why the database could not be opened, migrated or closed for a command.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// `DATABASE_URL`, the data directory or the PostgreSQL binaries are misconfigured.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be reached, started, migrated or stopped.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Whether a command applies pending migrations before its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Migrate first: the command writes, or reads what a migration may add.
    Migrate,
    /// Leave the schema as it is: the command only reads (`verify`, `export dataset`,
    /// `backup`), and must not change a database it is checking or copying.
    AsIs,
}

/// Opens the database of `global` for a command (the embedded cluster, or `DATABASE_URL`),
/// migrates it if asked, runs `job` on its pool, and closes it (stopping an embedded
/// cluster) whatever `job` returned. A failure to close wins over the job's result, since
/// a cluster left running is the operator's next problem.
pub async fn with_database<T, E, F, Fut>(global: &GlobalArgs, schema: Schema, job: F) -> Result<T, E>
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: From<DatabaseError>,
{
    let config = config::database_config(global).map_err(DatabaseError::from)?;
    let database = Database::open_for_command(config).await.map_err(DatabaseError::from)?;
    let migrated = match schema {
        Schema::Migrate => database.migrate().await,
        Schema::AsIs => Ok(()),
    };
    let result = match migrated {
        Ok(()) => job(database.pool.clone()).await,
        Err(error) => Err(DatabaseError::from(error).into()),
    };
    database.close().await.map_err(DatabaseError::from)?;
    result
}

/// A flag whose value cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid {flag}: {reason}")]
pub struct InvalidFlag {
    /// The flag (or argument), e.g. `--slug`.
    pub flag: &'static str,
    /// What is wrong with the value.
    pub reason: String,
}

impl InvalidFlag {
    /// The flag `flag` and why its value is refused.
    pub fn new(flag: &'static str, reason: impl Into<String>) -> Self {
        Self { flag, reason: reason.into() }
    }
}

/// A slug given as `flag`, or the error naming it.
fn slug(flag: &'static str, text: &str) -> Result<Slug, InvalidFlag> {
    Slug::parse(text).map_err(|e| InvalidFlag::new(flag, format!("{text:?} {e}")))
}

/// Parses `--vkey` values (C2SP note verifier keys).
fn vkeys(values: &[String]) -> Result<Vec<crate::ledger::note::NoteVerifier>, InvalidFlag> {
    values
        .iter()
        .map(|v| crate::ledger::note::NoteVerifier::parse(v))
        .collect::<Result<_, _>>()
        .map_err(|e| InvalidFlag::new("--vkey", e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test]
    async fn every_command_error_type_takes_a_database_failure_and_the_job_never_runs() {
        let global = GlobalArgs {
            database_url: Some("mysql://root@localhost/x".into()),
            data_dir: None,
            pg_bindir: None,
            signing_key: None,
            origin: "localhost/gatelog".into(),
            log: "info".into(),
            log_format: "text".into(),
        };
        let ran = AtomicBool::new(false);
        let ran = &ran;
        let error = with_database(&global, Schema::Migrate, |_| async move {
            ran.store(true, Ordering::SeqCst);
            Ok::<(), export::Error>(())
        })
        .await
        .expect_err("no database");
        assert!(matches!(error, export::Error::Database(DatabaseError::Config(_))), "{error:?}");
        let error = with_database(&global, Schema::AsIs, |_| async move {
            ran.store(true, Ordering::SeqCst);
            Ok::<(), verify::Error>(())
        })
        .await
        .expect_err("no database");
        assert!(matches!(error, verify::Error::Database(DatabaseError::Config(_))), "{error:?}");
        assert!(error.to_string().contains("DATABASE_URL"), "{error}");
        assert!(!ran.load(Ordering::SeqCst), "a job must not run without its database");
    }
}
