//! `gatelog backup`: one consistent `pg_dump` of the database, with the verifier key and
//! the latest checkpoint beside it (the dump itself is [`crate::backup`]).

use std::path::PathBuf;

use clap::Args;

use super::{DatabaseError, Schema, with_database};
use crate::backup::BackupError;
use crate::config::{self, ConfigError, GlobalArgs};
use crate::db::embedded::EmbeddedError;
use crate::ledger::keys::{self, KeyFileError};

/// Flags of `gatelog backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The dump file to write (FILE.vkey and FILE.checkpoint are written beside it)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Why `gatelog backup` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The signing key's settings are wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The signing key could not be read.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// PostgreSQL's binaries were not found.
    #[error(transparent)]
    Bindir(#[from] EmbeddedError),
    /// The database could not be opened or closed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// The dump failed.
    #[error(transparent)]
    Backup(#[from] BackupError),
}

/// Dumps the database as it is (no migration: a backup copies, it does not change).
pub async fn run(global: &GlobalArgs, args: &BackupArgs) -> Result<(), Error> {
    // Never create a key here: the backup names the key that signed the log.
    let key = config::signing_key_config(global)?;
    let vkey = keys::load(&key.path)?.verifier().to_string();
    let bindir = crate::db::embedded::find_bindir(global.pg_bindir.as_deref())?;
    let out = &args.out;
    let size = with_database(global, Schema::AsIs, |pool| async move {
        let conninfo = crate::backup::conninfo(&pool, global.database_url.as_deref());
        Ok::<_, Error>(crate::backup::backup(&pool, &conninfo, &bindir, out, &vkey).await?)
    })
    .await?;
    let (vkey_file, checkpoint_file) = crate::backup::side_files(out);
    println!(
        "backed up the ledger at tree size {size} to {}; verifier key in {}, checkpoint in {}",
        out.display(),
        vkey_file.display(),
        checkpoint_file.display()
    );
    Ok(())
}
