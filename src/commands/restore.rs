//! `gatelog restore`: a backup into an empty database, in one transaction.

use std::path::PathBuf;

use clap::Args;

use super::{DatabaseError, Schema, with_database};
use crate::backup::BackupError;
use crate::config::GlobalArgs;
use crate::db::embedded::EmbeddedError;

/// Flags of `gatelog restore`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The dump written by `gatelog backup`
    pub file: PathBuf,
}

/// Why `gatelog restore` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// PostgreSQL's binaries were not found.
    #[error(transparent)]
    Bindir(#[from] EmbeddedError),
    /// The database could not be opened, migrated or closed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// The restore failed (and changed nothing).
    #[error(transparent)]
    Backup(#[from] BackupError),
}

/// Restores into the migrated, empty database and says how to check the result.
pub async fn run(global: &GlobalArgs, args: &RestoreArgs) -> Result<(), Error> {
    let bindir = crate::db::embedded::find_bindir(global.pg_bindir.as_deref())?;
    let file = &args.file;
    let size = with_database(global, Schema::Migrate, |pool| async move {
        let conninfo = crate::backup::conninfo(&pool, global.database_url.as_deref());
        Ok::<_, Error>(crate::backup::restore(&pool, &conninfo, &bindir, file).await?)
    })
    .await?;
    println!(
        "restored {size} entries from {}; check them: gatelog verify log --vkey \"$(cat {})\"",
        file.display(),
        crate::backup::side_files(file).0.display()
    );
    Ok(())
}
