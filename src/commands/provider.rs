//! `gatelog provider add|list|show|oblige|key|keygen`: register and inspect providers, their
//! reporting obligations and their record-signing keys. Output is for people.

use std::path::Path;

use clap::{Args, Subcommand};
use sqlx::PgPool;

use super::{DatabaseError, InvalidFlag, Schema, slug, with_database};
use crate::config::GlobalArgs;
use crate::db;
use crate::ledger::keys::{self, KeyFileError};
use crate::providers::{NewProvider, ProviderKind};

/// `gatelog provider ...`
#[derive(Debug, Clone, Subcommand)]
pub enum ProviderCommand {
    /// Register a provider
    Add(ProviderAddArgs),
    /// List registered providers
    List,
    /// Show one provider, its reporting obligations and its tokens
    Show {
        /// The provider's slug
        slug: String,
    },
    /// Set what a provider must file, how often, and by when (replaces that kind's obligation)
    Oblige(ObligeArgs),
    /// Register, list and revoke a provider's record-signing keys
    #[command(subcommand)]
    Key(ProviderKeyCommand),
    /// Write a new Ed25519 record-signing key for a provider (mode 0600) and print its vkey
    /// (run by the provider; register the vkey with `gatelog provider key add`)
    Keygen {
        /// The provider's slug (the key's name)
        slug: String,
        /// Where to write the private key (never overwritten)
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
}

/// `gatelog provider key ...`
#[derive(Debug, Clone, Subcommand)]
pub enum ProviderKeyCommand {
    /// Register a provider's public key: records signed with it are then accepted and marked signed
    Add {
        /// The provider's slug
        slug: String,
        /// The verifier key, `<slug>+<hex id>+<base64 key>` (as `gatelog provider keygen` prints it)
        #[arg(long, value_name = "VKEY")]
        vkey: String,
    },
    /// List a provider's keys, revoked ones too
    List {
        /// The provider's slug
        slug: String,
    },
    /// Revoke a key: records signed with it are refused from now on (entries already signed stay valid)
    Revoke {
        /// The provider's slug
        slug: String,
        /// The verifier key to revoke
        #[arg(long, value_name = "VKEY")]
        vkey: String,
    },
}

/// Flags of `gatelog provider oblige`.
#[derive(Debug, Clone, Args)]
pub struct ObligeArgs {
    /// The provider's slug
    pub slug: String,
    /// What must be filed: queue_time, acceptance, price or capacity
    #[arg(long)]
    pub kind: String,
    /// How often: monthly or quarterly
    #[arg(long)]
    pub cadence: String,
    /// Days after a period's last day by which its filing is due
    #[arg(long, value_name = "DAYS")]
    pub deadline_days: u32,
    /// First period assessed: the one holding this date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub since: String,
}

/// Flags of `gatelog provider add`.
#[derive(Debug, Clone, Args)]
pub struct ProviderAddArgs {
    /// Stable public identifier, e.g. `nordic-hpc` (lower case, digits, hyphens)
    #[arg(long)]
    pub slug: String,
    /// Name shown on the site
    #[arg(long)]
    pub name: String,
    /// What sort of provider
    #[arg(long, value_enum)]
    pub kind: ProviderKind,
    /// ISO 3166-1 alpha-2 country code, e.g. DE
    #[arg(long)]
    pub country: Option<String>,
    /// Public website (http:// or https://)
    #[arg(long)]
    pub website: Option<String>,
}

/// Why a `gatelog provider` command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag's value is refused.
    #[error(transparent)]
    Invalid(#[from] InvalidFlag),
    /// No such provider or key.
    #[error("{0}")]
    NotFound(String),
    /// A query failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The database could not be opened, migrated or closed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// `keygen` could not write the key.
    #[error(transparent)]
    Key(#[from] KeyFileError),
}

fn invalid(flag: &'static str, reason: String) -> Error {
    Error::Invalid(InvalidFlag::new(flag, reason))
}

/// Runs a provider command: `keygen` without a database (the provider runs it wherever it
/// signs records), the others on the migrated database.
pub async fn run(global: &GlobalArgs, command: &ProviderCommand) -> Result<(), Error> {
    match command {
        ProviderCommand::Keygen { slug, out } => keygen(slug, out),
        command => with_database(global, Schema::Migrate, |pool| async move { provider(&pool, command).await }).await,
    }
}

/// Writes a provider's record-signing key and says how to register it.
fn keygen(text: &str, out: &Path) -> Result<(), Error> {
    let slug = slug("slug", text)?;
    let signer = keys::create(out, slug.as_str())?;
    println!("wrote {} (mode 0600); keep it with the systems that sign {slug}'s records", out.display());
    println!("vkey: {}", signer.verifier());
    println!("register it: gatelog provider key add {slug} --vkey {}", signer.verifier());
    Ok(())
}

/// Runs a provider command that needs the database.
async fn provider(pool: &PgPool, command: &ProviderCommand) -> Result<(), Error> {
    let mut conn = pool.acquire().await?;
    match command {
        ProviderCommand::Add(args) => {
            let country = args.country.as_deref().map(str::trim).map(str::to_owned);
            if let Some(code) = &country
                && !(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
            {
                return Err(invalid("--country", format!("{code:?} is not an ISO 3166-1 alpha-2 code such as DE")));
            }
            if let Some(site) = &args.website
                && !(site.starts_with("https://") || site.starts_with("http://"))
            {
                return Err(invalid("--website", format!("{site:?} must start with https:// or http://")));
            }
            let name = args.name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                return Err(invalid("--name", "must be 1 to 200 characters".into()));
            }
            let new = NewProvider {
                slug: slug("--slug", &args.slug)?,
                display_name: name.to_owned(),
                kind: args.kind,
                country,
                website: args.website.clone(),
            };
            if db::providers::insert_if_missing(&mut conn, &new).await? {
                println!("registered provider {} ({})", new.slug, new.display_name);
            } else {
                return Err(invalid("--slug", format!("provider {} already exists", new.slug)));
            }
        }
        ProviderCommand::List => {
            let providers = db::providers::list(&mut conn).await?;
            println!("{:<28} {:<12} {:<7} NAME", "SLUG", "KIND", "COUNTRY");
            for p in providers {
                println!(
                    "{:<28} {:<12} {:<7} {}",
                    p.slug,
                    p.kind.as_str(),
                    p.country.as_deref().unwrap_or("-"),
                    p.display_name
                );
            }
        }
        ProviderCommand::Show { slug: text } => {
            let slug = slug("slug", text)?;
            let provider = db::providers::get(&mut conn, &slug)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no provider {slug}")))?;
            println!("slug:     {}", provider.slug);
            println!("name:     {}", provider.display_name);
            println!("kind:     {}", provider.kind.label());
            println!("country:  {}", provider.country.as_deref().unwrap_or("-"));
            println!("website:  {}", provider.website.as_deref().unwrap_or("-"));
            println!("since:    {}", provider.created_at.format("%Y-%m-%d"));
            for o in db::obligations::list(&mut conn, Some(slug.as_str())).await? {
                println!(
                    "obliged:  {} {}, due {} days after each period, since {}",
                    o.kind.as_str(),
                    o.cadence.as_str(),
                    o.deadline_days,
                    o.since
                );
            }
            for token in db::tokens::list(&mut conn, Some(&slug)).await? {
                let state = token
                    .revoked_at
                    .map_or("active".to_owned(), |at| format!("revoked {}", at.format("%Y-%m-%d %H:%M")));
                println!("token:    {} ({state}) {}", token.public_id, token.label);
            }
            for key in db::provider_keys::list(&mut conn, &slug).await? {
                println!("key:      {} ({})", key.vkey, key_state(&key));
            }
        }
        ProviderCommand::Key(command) => provider_key(&mut conn, command).await?,
        ProviderCommand::Keygen { slug, out } => keygen(slug, out)?,
        ProviderCommand::Oblige(args) => {
            let obligation = obligation(args)?;
            if !db::obligations::set(&mut conn, &obligation).await? {
                return Err(Error::NotFound(format!("no provider {}", obligation.provider)));
            }
            println!(
                "{} must file {} {}, due {} days after each period, from the period holding {}",
                obligation.provider,
                obligation.kind.as_str(),
                obligation.cadence.as_str(),
                obligation.deadline_days,
                obligation.since
            );
        }
    }
    Ok(())
}

fn key_state(key: &db::provider_keys::KeyInfo) -> String {
    let added = key.added_at.format("%Y-%m-%d %H:%M");
    key.revoked_at
        .map_or(format!("active since {added}"), |at| format!("added {added}, revoked {}", at.format("%Y-%m-%d %H:%M")))
}

/// Runs a `provider key` command.
async fn provider_key(conn: &mut sqlx::PgConnection, command: &ProviderKeyCommand) -> Result<(), Error> {
    use crate::records::signature::ProviderKey;
    match command {
        ProviderKeyCommand::Add { slug: text, vkey } => {
            let slug = slug("slug", text)?;
            let key = ProviderKey::for_provider(vkey, &slug).map_err(|e| invalid("--vkey", e.to_string()))?;
            match db::provider_keys::add(conn, &slug, &key).await? {
                db::provider_keys::Added::New => {
                    println!(
                        "registered key {} for {slug}; records it signs are accepted and marked signed",
                        key.label()
                    )
                }
                db::provider_keys::Added::AlreadyRegistered => {
                    return Err(invalid(
                        "--vkey",
                        format!("key {} is already registered (a revoked key stays revoked)", key.label()),
                    ));
                }
                db::provider_keys::Added::NoProvider => {
                    return Err(Error::NotFound(format!(
                        "no provider {slug}; register it with `gatelog provider add`"
                    )));
                }
            }
        }
        ProviderKeyCommand::List { slug: text } => {
            let slug = slug("slug", text)?;
            if db::providers::get(conn, &slug).await?.is_none() {
                return Err(Error::NotFound(format!("no provider {slug}")));
            }
            let keys = db::provider_keys::list(conn, &slug).await?;
            if keys.is_empty() {
                eprintln!("{slug} has no record-signing keys; its records are submitted with a token only");
            }
            for key in keys {
                println!("{}  {}", key.vkey, key_state(&key));
            }
        }
        ProviderKeyCommand::Revoke { slug: text, vkey } => {
            let slug = slug("slug", text)?;
            if !db::provider_keys::revoke(conn, &slug, vkey.trim()).await? {
                return Err(Error::NotFound(format!("{slug} has no active key {}", vkey.trim())));
            }
            println!("revoked the key; records signed with it are refused from now on (existing entries stay valid)");
        }
    }
    Ok(())
}

/// Checks the flags of `provider oblige`.
fn obligation(args: &ObligeArgs) -> Result<crate::analytics::compliance::Obligation, Error> {
    use crate::analytics::compliance::{Cadence, Obligation};
    let kind = crate::records::RecordKind::OPTIONS
        .iter()
        .find(|(name, _)| *name == args.kind && *name != "lockup")
        .map(|(_, k)| *k)
        .ok_or_else(|| {
            invalid(
                "--kind",
                format!("{:?}: use queue_time, acceptance, price or capacity (lock-ups are filed per deal)", args.kind),
            )
        })?;
    let cadence = Cadence::parse(&args.cadence)
        .ok_or_else(|| invalid("--cadence", format!("{:?}: use monthly or quarterly", args.cadence)))?;
    if args.deadline_days > 366 {
        return Err(invalid("--deadline-days", "at most 366".into()));
    }
    let since = args
        .since
        .parse()
        .map_err(|_| invalid("--since", format!("{:?} is not a date written YYYY-MM-DD", args.since)))?;
    Ok(Obligation {
        provider: slug("slug", &args.slug)?.to_string(),
        kind,
        cadence,
        deadline_days: args.deadline_days,
        since,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::note::NoteSigner;
    use crate::records::Slug;
    use crate::testing::TestApp;

    #[tokio::test]
    async fn provider_keys_are_added_by_name_listed_and_revoked_once() {
        let app = TestApp::new().await;
        app.provider_token("nordic-hpc").await;
        let pool = &app.db.pool;
        let vkey = NoteSigner::generate("nordic-hpc").expect("key").verifier().to_string();
        let add = |slug: &str, vkey: &str| {
            ProviderCommand::Key(ProviderKeyCommand::Add { slug: slug.into(), vkey: vkey.into() })
        };
        provider(pool, &add("nordic-hpc", &vkey)).await.expect("registered");
        let again = provider(pool, &add("nordic-hpc", &vkey)).await.expect_err("already registered");
        assert!(again.to_string().contains("already registered"), "{again}");
        let misnamed = NoteSigner::generate("nimbus-gpu").expect("key").verifier().to_string();
        let refused = provider(pool, &add("nordic-hpc", &misnamed)).await.expect_err("named for another provider");
        assert!(refused.to_string().contains("must be named by its slug"), "{refused}");
        let stranger = NoteSigner::generate("nobody").expect("key").verifier().to_string();
        assert!(matches!(provider(pool, &add("nobody", &stranger)).await, Err(Error::NotFound(_))));

        let revoke = ProviderCommand::Key(ProviderKeyCommand::Revoke { slug: "nordic-hpc".into(), vkey: vkey.clone() });
        provider(pool, &revoke).await.expect("revoked");
        assert!(matches!(provider(pool, &revoke).await, Err(Error::NotFound(_))), "revoked only once");
        let mut conn = pool.acquire().await.expect("conn");
        let keys = db::provider_keys::list(&mut conn, &Slug::parse("nordic-hpc").expect("slug")).await.expect("list");
        assert_eq!(keys.len(), 1);
        assert!(keys[0].vkey == vkey && keys[0].revoked_at.is_some());
        provider(pool, &ProviderCommand::Key(ProviderKeyCommand::List { slug: "nordic-hpc".into() }))
            .await
            .expect("list");
    }
}
