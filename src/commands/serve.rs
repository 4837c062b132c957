//! `gatelog serve`: the public site and the API, until SIGINT or SIGTERM
//! (the server itself is [`crate::server`]).

use crate::config::{ConfigError, GlobalArgs, ServeArgs, ServeConfig};
use crate::server::{self, ServeError};

/// Why `gatelog serve` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or variable is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server could not start or failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Serves until a shutdown signal.
pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<(), Error> {
    let config = ServeConfig::from_args(global, args)?;
    server::serve(config).await?;
    Ok(())
}
