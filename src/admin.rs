//! Operator commands: `gatelog provider add|list|show|oblige|key|keygen` and `gatelog token issue|list|revoke`.
//! They print for people; tokens are printed once, at issue, and never again.

use clap::{Args, Subcommand};
use sqlx::PgPool;

use crate::db;
use crate::providers::{NewProvider, ProviderKind};
use crate::records::Slug;
use crate::tokens;

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

/// A bad operator request.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Invalid flag value.
    #[error("invalid {flag}: {reason}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// Why.
        reason: String,
    },
    /// No such provider or token.
    #[error("{0}")]
    NotFound(String),
    /// Database failure.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// No randomness for a token.
    #[error("cannot generate a token: {0}")]
    Random(String),
}

fn slug(flag: &'static str, text: &str) -> Result<Slug, AdminError> {
    Slug::parse(text).map_err(|e| AdminError::Invalid { flag, reason: format!("{text:?} {e}") })
}

/// Runs a provider command.
pub async fn provider(pool: &PgPool, command: &ProviderCommand) -> Result<(), AdminError> {
    let mut conn = pool.acquire().await?;
    match command {
        ProviderCommand::Add(args) => {
            let country = args.country.as_deref().map(str::trim).map(str::to_owned);
            if let Some(code) = &country
                && !(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
            {
                return Err(AdminError::Invalid {
                    flag: "--country",
                    reason: format!("{code:?} is not an ISO 3166-1 alpha-2 code such as DE"),
                });
            }
            if let Some(site) = &args.website
                && !(site.starts_with("https://") || site.starts_with("http://"))
            {
                return Err(AdminError::Invalid {
                    flag: "--website",
                    reason: format!("{site:?} must start with https:// or http://"),
                });
            }
            let name = args.name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                return Err(AdminError::Invalid { flag: "--name", reason: "must be 1 to 200 characters".into() });
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
                return Err(AdminError::Invalid {
                    flag: "--slug",
                    reason: format!("provider {} already exists", new.slug),
                });
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
                .ok_or_else(|| AdminError::NotFound(format!("no provider {slug}")))?;
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
        ProviderCommand::Keygen { .. } => {
            return Err(AdminError::Invalid {
                flag: "keygen",
                reason: "needs no database; run through `gatelog provider keygen`".into(),
            });
        }
        ProviderCommand::Oblige(args) => {
            let obligation = obligation(args)?;
            if !db::obligations::set(&mut conn, &obligation).await? {
                return Err(AdminError::NotFound(format!("no provider {}", obligation.provider)));
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
async fn provider_key(conn: &mut sqlx::PgConnection, command: &ProviderKeyCommand) -> Result<(), AdminError> {
    use crate::records::signature::ProviderKey;
    match command {
        ProviderKeyCommand::Add { slug: text, vkey } => {
            let slug = slug("slug", text)?;
            let key = ProviderKey::for_provider(vkey, &slug)
                .map_err(|e| AdminError::Invalid { flag: "--vkey", reason: e.to_string() })?;
            match db::provider_keys::add(conn, &slug, &key).await? {
                db::provider_keys::Added::New => {
                    println!(
                        "registered key {} for {slug}; records it signs are accepted and marked signed",
                        key.label()
                    )
                }
                db::provider_keys::Added::AlreadyRegistered => {
                    return Err(AdminError::Invalid {
                        flag: "--vkey",
                        reason: format!("key {} is already registered (a revoked key stays revoked)", key.label()),
                    });
                }
                db::provider_keys::Added::NoProvider => {
                    return Err(AdminError::NotFound(format!(
                        "no provider {slug}; register it with `gatelog provider add`"
                    )));
                }
            }
        }
        ProviderKeyCommand::List { slug: text } => {
            let slug = slug("slug", text)?;
            if db::providers::get(conn, &slug).await?.is_none() {
                return Err(AdminError::NotFound(format!("no provider {slug}")));
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
                return Err(AdminError::NotFound(format!("{slug} has no active key {}", vkey.trim())));
            }
            println!("revoked the key; records signed with it are refused from now on (existing entries stay valid)");
        }
    }
    Ok(())
}

/// Checks the flags of `provider oblige`.
fn obligation(args: &ObligeArgs) -> Result<crate::analytics::compliance::Obligation, AdminError> {
    use crate::analytics::compliance::{Cadence, Obligation};
    let kind = crate::records::RecordKind::OPTIONS
        .iter()
        .find(|(name, _)| *name == args.kind && *name != "lockup")
        .map(|(_, k)| *k)
        .ok_or_else(|| AdminError::Invalid {
            flag: "--kind",
            reason: format!(
                "{:?}: use queue_time, acceptance, price or capacity (lock-ups are filed per deal)",
                args.kind
            ),
        })?;
    let cadence = Cadence::parse(&args.cadence).ok_or_else(|| AdminError::Invalid {
        flag: "--cadence",
        reason: format!("{:?}: use monthly or quarterly", args.cadence),
    })?;
    if args.deadline_days > 366 {
        return Err(AdminError::Invalid { flag: "--deadline-days", reason: "at most 366".into() });
    }
    let since = args.since.parse().map_err(|_| AdminError::Invalid {
        flag: "--since",
        reason: format!("{:?} is not a date written YYYY-MM-DD", args.since),
    })?;
    Ok(Obligation {
        provider: slug("slug", &args.slug)?.to_string(),
        kind,
        cadence,
        deadline_days: args.deadline_days,
        since,
    })
}

/// Runs a token command.
pub async fn token(pool: &PgPool, command: &TokenCommand) -> Result<(), AdminError> {
    let mut conn = pool.acquire().await?;
    match command {
        TokenCommand::Issue { provider, label } => {
            let provider = slug("--provider", provider)?;
            let issued = tokens::issue().map_err(|e| AdminError::Random(e.to_string()))?;
            if !db::tokens::insert(&mut conn, &provider, &issued, label).await? {
                return Err(AdminError::NotFound(format!(
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
                return Err(AdminError::NotFound(format!("no active token {public}")));
            }
            println!("revoked {public}; it is refused from now on");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::note::NoteSigner;
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
        assert!(matches!(provider(pool, &add("nobody", &stranger)).await, Err(AdminError::NotFound(_))));

        let revoke = ProviderCommand::Key(ProviderKeyCommand::Revoke { slug: "nordic-hpc".into(), vkey: vkey.clone() });
        provider(pool, &revoke).await.expect("revoked");
        assert!(matches!(provider(pool, &revoke).await, Err(AdminError::NotFound(_))), "revoked only once");
        let mut conn = pool.acquire().await.expect("conn");
        let keys = db::provider_keys::list(&mut conn, &Slug::parse("nordic-hpc").expect("slug")).await.expect("list");
        assert_eq!(keys.len(), 1);
        assert!(keys[0].vkey == vkey && keys[0].revoked_at.is_some());
        provider(pool, &ProviderCommand::Key(ProviderKeyCommand::List { slug: "nordic-hpc".into() }))
            .await
            .expect("list");
    }
}

/// `gatelog reporter ...` (issue 19): journalists, researchers and civic groups that file
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

/// Runs a `gatelog reporter` command.
pub async fn reporter(pool: &PgPool, command: &ReporterCommand) -> Result<(), AdminError> {
    let mut conn = pool.acquire().await?;
    match command {
        ReporterCommand::Add { slug: text, name, website } => {
            let slug = slug("--slug", text)?;
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                return Err(AdminError::Invalid { flag: "--name", reason: "must be 1 to 200 characters".into() });
            }
            if let Some(url) = website
                && let Some(problem) = crate::records::reports::source_url_problem(url)
            {
                return Err(AdminError::Invalid { flag: "--website", reason: problem });
            }
            if db::providers::insert_reporter(&mut conn, &slug, name, website.as_deref()).await? {
                println!("registered reporter {slug}; issue it a token with `gatelog token issue --provider {slug}`");
            } else {
                return Err(AdminError::Invalid { flag: "--slug", reason: format!("{slug} is already registered") });
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
                return Err(AdminError::Invalid { flag: "--reason", reason: "must be 1 to 500 characters".into() });
            }
            if !db::providers::set_distrust(&mut conn, &slug, Some(reason)).await? {
                return Err(AdminError::NotFound(format!("no reporter {slug}")));
            }
            println!("{slug} is distrusted: its reports filed from now on are hidden from figures");
        }
        ReporterCommand::Trust { slug: text } => {
            let slug = slug("slug", text)?;
            if !db::providers::set_distrust(&mut conn, &slug, None).await? {
                return Err(AdminError::NotFound(format!("no reporter {slug}")));
            }
            println!("{slug} is trusted again");
        }
    }
    Ok(())
}
