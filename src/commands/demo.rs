//! `gatelog demo load`: the synthetic demo world, through the ingest path.

use clap::Subcommand;

use super::{DatabaseError, Schema, with_database};
use crate::config::{self, ConfigError, GlobalArgs};
use crate::demo::DemoError;
use crate::ledger::keys::KeyFileError;
use crate::ledger::{Ledger, LedgerError};

/// `gatelog demo ...`
#[derive(Debug, Clone, Subcommand)]
pub enum DemoCommand {
    /// Register the demo providers and submit two years of their disclosures
    Load {
        /// Seed of the generator (same seed, same world)
        #[arg(long, default_value_t = crate::demo::DEFAULT_SEED)]
        seed: u64,
    },
}

/// Why `gatelog demo` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The signing key's settings are wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The signing key could not be read or created.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The database could not be opened, migrated or closed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// The ledger could not be checkpointed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The demo data could not be loaded.
    #[error(transparent)]
    Demo(#[from] DemoError),
}

/// Loads the demo world (idempotent: a second load changes nothing).
pub async fn run(global: &GlobalArgs, command: &DemoCommand) -> Result<(), Error> {
    let DemoCommand::Load { seed } = *command;
    let key = config::signing_key_config(global)?;
    let ledger = Ledger::new(crate::server::load_signer(&key)?);
    let summary = with_database(global, Schema::Migrate, |pool| async move {
        ledger.ensure_checkpoint(&pool).await?;
        Ok::<_, Error>(crate::demo::load(&pool, &ledger, seed).await?)
    })
    .await?;
    if summary.already_loaded {
        println!("the demo data is already loaded; nothing changed");
    } else {
        println!(
            "loaded the demo: {} providers, {} records, {} entries appended",
            summary.new_providers, summary.records, summary.appended
        );
    }
    Ok(())
}
