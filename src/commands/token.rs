//! `gatelog token issue|list|revoke`: providers' and reporters' API tokens. A token is
//! printed once, at issue, and never again.

use clap::Subcommand;
use sqlx::PgPool;

use super::{DatabaseError, InvalidFlag, Schema, slug, with_database};
use crate::config::GlobalArgs;
use crate::{db, tokens};

/// `gatelog token ...`
#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Issue a new API token for a provider (shown once)
    Issue {
        /// The provider's slug
        #[arg(long)]
        provider: String,
        /// A note for operators, e.g. where the token is used
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List tokens (never their secrets)
    List {
        /// Only this provider's tokens
        #[arg(long)]
        provider: Option<String>,
    },
    /// Revoke a token at once, by its public id (gl_...)
    Revoke {
        /// The token's public id or the whole token
        id: String,
    },
}

/// Why a `gatelog token` command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag's value is refused.
    #[error(transparent)]
    Invalid(#[from] InvalidFlag),
    /// No such provider or active token.
    #[error("{0}")]
    NotFound(String),
    /// A query failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The database could not be opened, migrated or closed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// No randomness for a token.
    #[error("cannot generate a token: {0}")]
    Random(String),
}

/// Runs a token command on the migrated database.
pub async fn run(global: &GlobalArgs, command: &TokenCommand) -> Result<(), Error> {
    with_database(global, Schema::Migrate, |pool| async move { token(&pool, command).await }).await
}

async fn token(pool: &PgPool, command: &TokenCommand) -> Result<(), Error> {
    let mut conn = pool.acquire().await?;
    match command {
        TokenCommand::Issue { provider, label } => {
            let provider = slug("--provider", provider)?;
            let issued = tokens::issue().map_err(|e| Error::Random(e.to_string()))?;
            if !db::tokens::insert(&mut conn, &provider, &issued, label).await? {
                return Err(Error::NotFound(format!(
                    "no provider {provider}; register it with `gatelog provider add`"
                )));
            }
            eprintln!("issued token {} for {provider}; it is shown once, store it now:", issued.public_id);
            println!("{}", issued.token);
        }
        TokenCommand::List { provider } => {
            let provider = provider.as_deref().map(|p| slug("--provider", p)).transpose()?;
            println!("{:<18} {:<24} {:<26} LABEL", "ID", "PROVIDER", "STATE");
            for token in db::tokens::list(&mut conn, provider.as_ref()).await? {
                let state = token
                    .revoked_at
                    .map_or("active".to_owned(), |at| format!("revoked {}", at.format("%Y-%m-%d %H:%M")));
                println!("{:<18} {:<24} {:<26} {}", token.public_id, token.provider, state, token.label);
            }
        }
        TokenCommand::Revoke { id } => {
            // Accept the whole token too, but never echo its secret.
            let public = tokens::public_id(id).unwrap_or(id.as_str());
            if !db::tokens::revoke(&mut conn, public).await? {
                return Err(Error::NotFound(format!("no active token {public}")));
            }
            println!("revoked {public}; it is refused from now on");
        }
    }
    Ok(())
}
