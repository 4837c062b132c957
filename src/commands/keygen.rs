//! `gatelog keygen`: a new checkpoint signing key for the log.

use std::path::PathBuf;

use clap::Args;

use crate::config::{self, ConfigError, GlobalArgs};
use crate::ledger::keys::{self, KeyFileError};

/// Flags of `gatelog keygen`.
#[derive(Debug, Clone, Args)]
pub struct KeygenArgs {
    /// Where to write the key (never overwritten)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Why `gatelog keygen` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--origin` is not a usable key name.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The key file could not be written.
    #[error(transparent)]
    Key(#[from] KeyFileError),
}

/// Writes the key (mode 0600) named after `--origin` and prints its verifier key.
pub fn run(global: &GlobalArgs, args: &KeygenArgs) -> Result<(), Error> {
    let origin = config::origin(global)?;
    let signer = keys::create(&args.out, &origin)?;
    println!("wrote {} (mode 0600)", args.out.display());
    println!("vkey: {}", signer.verifier());
    Ok(())
}
