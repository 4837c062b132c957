//! `gatelog reporter add|list|distrust|trust` (issue 19).

use clap::Subcommand;
use sqlx::PgPool;

use super::{DatabaseError, InvalidFlag, Schema, slug, with_database};
use crate::config::GlobalArgs;
use crate::db;

/// `gatelog reporter ...`: journalists, researchers and civic groups that file
/// sourced reports about providers. Their tokens come from `gatelog token issue --provider SLUG`.
#[derive(Debug, Clone, Subcommand)]
pub enum ReporterCommand {
    /// Register a reporter (its slug shares the providers' namespace)
    Add {
        /// Stable public identifier, e.g. `tech-desk` (lower case, digits, hyphens)
        #[arg(long)]
        slug: String,
        /// Name shown beside its reports
        #[arg(long)]
        name: String,
        /// Public website (http:// or https://)
        #[arg(long)]
        website: Option<String>,
    },
    /// List reporters, with whether they are distrusted and why
    List,
    /// Mark a reporter untrusted: its reports filed from now on are still logged, but hidden
    /// from figures and counts, shown with the reason
    Distrust {
        /// The reporter's slug
        slug: String,
        /// Why, shown beside its hidden reports (1 to 500 characters)
        #[arg(long)]
        reason: String,
    },
    /// Trust a distrusted reporter again (reports filed while it was distrusted stay hidden)
    Trust {
        /// The reporter's slug
        slug: String,
    },
}

/// Why a `gatelog reporter` command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag's value is refused.
    #[error(transparent)]
    Invalid(#[from] InvalidFlag),
    /// No such reporter.
    #[error("{0}")]
    NotFound(String),
    /// A query failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The database could not be opened, migrated or closed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
}

fn invalid(flag: &'static str, reason: String) -> Error {
    Error::Invalid(InvalidFlag::new(flag, reason))
}

/// Runs a reporter command on the migrated database.
pub async fn run(global: &GlobalArgs, command: &ReporterCommand) -> Result<(), Error> {
    with_database(global, Schema::Migrate, |pool| async move { reporter(&pool, command).await }).await
}

async fn reporter(pool: &PgPool, command: &ReporterCommand) -> Result<(), Error> {
    let mut conn = pool.acquire().await?;
    match command {
        ReporterCommand::Add { slug: text, name, website } => {
            let slug = slug("--slug", text)?;
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                return Err(invalid("--name", "must be 1 to 200 characters".into()));
            }
            if let Some(url) = website
                && let Some(problem) = crate::records::reports::source_url_problem(url)
            {
                return Err(invalid("--website", problem));
            }
            if db::providers::insert_reporter(&mut conn, &slug, name, website.as_deref()).await? {
                println!("registered reporter {slug}; issue it a token with `gatelog token issue --provider {slug}`");
            } else {
                return Err(invalid("--slug", format!("{slug} is already registered")));
            }
        }
        ReporterCommand::List => {
            for reporter in db::providers::reporters(&mut conn).await? {
                match &reporter.distrust_reason {
                    None => println!("{}\t{}", reporter.slug, reporter.display_name),
                    Some(reason) => println!("{}\t{}\tdistrusted: {reason}", reporter.slug, reporter.display_name),
                }
            }
        }
        ReporterCommand::Distrust { slug: text, reason } => {
            let slug = slug("slug", text)?;
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > 500 {
                return Err(invalid("--reason", "must be 1 to 500 characters".into()));
            }
            if !db::providers::set_distrust(&mut conn, &slug, Some(reason)).await? {
                return Err(Error::NotFound(format!("no reporter {slug}")));
            }
            println!("{slug} is distrusted: its reports filed from now on are hidden from figures");
        }
        ReporterCommand::Trust { slug: text } => {
            let slug = slug("slug", text)?;
            if !db::providers::set_distrust(&mut conn, &slug, None).await? {
                return Err(Error::NotFound(format!("no reporter {slug}")));
            }
            println!("{slug} is trusted again");
        }
    }
    Ok(())
}
