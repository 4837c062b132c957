//! The `gatelog` command line: one binary, one subcommand per job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, ConfigError, ServeConfig};
use crate::db::{Database, DbError};
use crate::server::{self, ServeError};

/// Gatelog: a public, verifiable ledger of who gets access to compute, and on what terms.
///
/// Without DATABASE_URL, Gatelog runs its own private PostgreSQL cluster in the
/// data directory (PostgreSQL's server binaries must be installed).
#[derive(Debug, Parser)]
#[command(name = "gatelog", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Settings shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Use this PostgreSQL server instead of the embedded cluster
    /// (postgres://user:password@host:port/database)
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Gatelog's data directory, holding the embedded cluster
    /// [default: ~/.local/share/gatelog; /var/lib/gatelog when run as root]
    #[arg(long, env = "GATELOG_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Directory with PostgreSQL's initdb, pg_ctl and postgres
    /// [default: searched in PATH, `pg_config --bindir`, /usr/lib/postgresql/*/bin]
    #[arg(long, env = "GATELOG_PG_BINDIR", global = true, value_name = "DIR")]
    pub pg_bindir: Option<PathBuf>,

    /// Log filter, e.g. `info` or `gatelog=debug,tower_http=debug`
    #[arg(long, env = "GATELOG_LOG", global = true, default_value = "info", value_name = "FILTER")]
    pub log: String,
}

/// The subcommands. Later issues add `provider`, `token`, `keygen`, `verify`, `export` and `collect` here.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the public site and the API (applies pending migrations first)
    Serve(ServeArgs),
    /// Apply pending database migrations, then exit
    Migrate,
}

/// Flags of `gatelog serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "GATELOG_ADDR", default_value = "127.0.0.1:8080", value_name = "IP:PORT")]
    pub addr: String,

    /// Load the demo data set (idempotent) before serving
    #[arg(long, env = "GATELOG_DEMO")]
    pub demo: bool,

    /// Directory served under /static [default: the static/ folder of the source tree]
    #[arg(long, env = "GATELOG_STATIC_DIR", value_name = "DIR", hide = true)]
    pub static_dir: Option<PathBuf>,
}

/// Why a command failed; printed as one line by `main`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flag or variable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Database could not be opened or migrated.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => {
            let config = ServeConfig::from_args(&cli.global, &args)?;
            server::serve(config).await?;
        }
        Command::Migrate => {
            let database = Database::open(config::database_config(&cli.global)?).await?;
            let result = database.migrate().await;
            database.close().await?;
            result?;
            let applied = crate::db::MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).count();
            println!("database is up to date ({applied} migrations)");
        }
    }
    Ok(())
}
