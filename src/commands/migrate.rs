//! `gatelog migrate`: apply pending migrations and fold the ledger into the projection.

use super::{DatabaseError, Schema, with_database};
use crate::config::GlobalArgs;
use crate::db::projection::ProjectionError;

/// Why `gatelog migrate` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened, migrated or closed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// The projection could not be brought up to date.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

/// Migrates, then folds an upgraded ledger's projection here rather than in the first `serve`.
pub async fn run(global: &GlobalArgs) -> Result<(), Error> {
    let folded = with_database(global, Schema::Migrate, |pool| async move {
        Ok::<_, Error>(crate::db::projection::catch_up(&pool).await?)
    })
    .await?;
    let applied = crate::db::MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).count();
    println!("database is up to date ({applied} migrations, {folded} entries folded into the projection)");
    Ok(())
}
