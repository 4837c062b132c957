//! Typed configuration from flags and `GATELOG_*` environment variables.
//! clap reads both into the flag structs defined here ([`GlobalArgs`], [`ServeArgs`], which
//! `crate::cli` flattens into its schema); this module turns the raw strings into domain
//! values and, when one is wrong, says which flag or variable to fix.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use nix::unistd::Uid;

use crate::db::{DatabaseConfig, parse_database_url};

/// Settings shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Use this PostgreSQL server instead of the embedded cluster
    /// (postgres://user:password@host:port/database)
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Gatelog's data directory, holding the embedded cluster
    /// [default: ~/.local/share/gatelog; /var/lib/gatelog when run as root]
    #[arg(long, env = "GATELOG_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Directory with PostgreSQL's initdb, pg_ctl and postgres
    /// [default: searched in PATH, `pg_config --bindir`, /usr/lib/postgresql/*/bin]
    #[arg(long, env = "GATELOG_PG_BINDIR", global = true, value_name = "DIR")]
    pub pg_bindir: Option<PathBuf>,

    /// The log's signing key file (created on first `serve` if this is left at its default)
    /// [default: <data-dir>/signing.key]
    #[arg(long, env = "GATELOG_SIGNING_KEY", global = true, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,

    /// The log's origin line (the signing key's name), used when a key is created
    #[arg(long, env = "GATELOG_ORIGIN", global = true, default_value = "localhost/gatelog", value_name = "ORIGIN")]
    pub origin: String,

    /// Log filter, e.g. `info` or `gatelog=debug,tower_http=debug`
    #[arg(long, env = "GATELOG_LOG", global = true, default_value = "info", value_name = "FILTER")]
    pub log: String,

    /// Log lines as `text` (for people) or `json` (one object per line, for log collectors)
    #[arg(long, env = "GATELOG_LOG_FORMAT", global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// Flags of `gatelog serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "GATELOG_ADDR", default_value = "127.0.0.1:8080", value_name = "IP:PORT")]
    pub addr: String,

    /// Load the demo data set (idempotent) before serving
    #[arg(long, env = "GATELOG_DEMO")]
    pub demo: bool,

    /// Directory served under /static [default: the static/ folder of the source tree]
    #[arg(long, env = "GATELOG_STATIC_DIR", value_name = "DIR", hide = true)]
    pub static_dir: Option<PathBuf>,

    /// Write-API requests per second each token may sustain (429 with Retry-After beyond)
    #[arg(long, env = "GATELOG_INGEST_RATE", default_value = "10", value_name = "N")]
    pub ingest_rate: String,

    /// Write-API requests a token may send at once before the rate applies
    #[arg(long, env = "GATELOG_INGEST_BURST", default_value = "30", value_name = "N")]
    pub ingest_burst: String,

    /// The site's public address, used in permalinks and citations [default: http://ADDR]
    #[arg(long, env = "GATELOG_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Requests per second each client address may sustain, every route (0: no per-address limit,
    /// e.g. behind a reverse proxy, where every request comes from the proxy)
    #[arg(long, env = "GATELOG_PER_IP_RATE", default_value_t = 50, value_name = "N")]
    pub per_ip_rate: u32,

    /// Requests a client address may send at once before its rate applies
    #[arg(long, env = "GATELOG_PER_IP_BURST", default_value_t = 200, value_name = "N")]
    pub per_ip_burst: u32,

    /// Requests served at once; beyond it the server answers 503 with Retry-After at once
    #[arg(long, env = "GATELOG_MAX_CONCURRENT", default_value_t = crate::DEFAULT_MAX_CONCURRENT, value_name = "N")]
    pub max_concurrent: usize,

    /// Hours between checkpoint-pinned snapshots of every dataset, served under /data/snapshots/ (0: off)
    #[arg(long, env = "GATELOG_SNAPSHOT_EVERY", default_value = "24", value_name = "HOURS")]
    pub snapshot_every: String,

    /// A witness to ask for cosignatures: '<vkey> <url>' (repeat the flag; in the variable, one per line)
    #[arg(long = "witness", env = "GATELOG_WITNESSES", value_delimiter = '\n', value_name = "VKEY URL")]
    pub witnesses: Vec<String>,

    /// Milliseconds a page view waits for a new checkpoint's figures before it is served the
    /// previous checkpoint's (each page names its checkpoint)
    #[arg(long, env = "GATELOG_FRESH_WAIT_MS", default_value_t = 250, value_name = "MS")]
    pub fresh_wait_ms: u64,

    /// Seconds between rounds of asking the witnesses to cosign the newest checkpoint
    #[arg(long, env = "GATELOG_WITNESS_EVERY", default_value_t = 10, value_name = "SECONDS")]
    pub witness_every: u64,

    /// Days an Idempotency-Key of the write API is remembered; after that it counts as unused
    /// and is deleted
    #[arg(long, env = "GATELOG_IDEMPOTENCY_DAYS", default_value = "30", value_name = "DAYS")]
    pub idempotency_days: String,

    /// Write-API requests per second each reporter token may sustain (reporters have their own,
    /// lower limit than providers)
    #[arg(long, env = "GATELOG_REPORT_RATE", default_value = "1", value_name = "N")]
    pub report_rate: String,

    /// Write-API requests a reporter token may send at once before its rate applies
    #[arg(long, env = "GATELOG_REPORT_BURST", default_value = "5", value_name = "N")]
    pub report_burst: String,

    /// Days after which a report without the provider's answer is shown as unanswered and
    /// counted in the compliance report
    #[arg(long, env = "GATELOG_UNANSWERED_DAYS", default_value = "30", value_name = "DAYS")]
    pub unanswered_days: String,
}

/// A setting that could not be used, naming where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value did not parse.
    #[error("invalid {setting} value {value:?}: {reason}")]
    Invalid {
        /// The variable and flag that carry it, e.g. `GATELOG_ADDR (--addr)`.
        setting: &'static str,
        /// What was given (never a secret: URLs are shown without password).
        value: String,
        /// What is wrong and what would be right.
        reason: String,
    },
    /// No data directory given and none can be derived.
    #[error(
        "no data directory: set GATELOG_DATA_DIR or pass --data-dir (HOME is not set, so the default ~/.local/share/gatelog is unknown)"
    )]
    NoDataDir,
}

/// Longest `GATELOG_IDEMPOTENCY_DAYS`: ten years.
const MAX_IDEMPOTENCY_DAYS: u32 = 3650;

/// Everything `gatelog serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address the HTTP server listens on.
    pub addr: SocketAddr,
    /// Where the database is.
    pub database: DatabaseConfig,
    /// Whether to load the demo data set at start-up.
    pub demo: bool,
    /// Directory served under `/static`.
    pub static_dir: PathBuf,
    /// Where the signing key is, and whether to create it if absent.
    pub signing_key: SigningKeyConfig,
    /// Per-token rate of the write API.
    pub ingest_rate: crate::api::auth::IngestRate,
    /// The site's public address (no trailing slash), for permalinks.
    pub public_url: String,
    /// Where snapshots are written and served from.
    pub snapshots_dir: PathBuf,
    /// Requests served at once.
    pub max_concurrent: usize,
    /// Per-address rate limit (`None`: off).
    pub per_ip_rate: Option<crate::api::per_ip::PerIpRate>,
    /// How often a snapshot of the latest checkpoint is written (`None`: never).
    pub snapshot_every: Option<std::time::Duration>,
    /// Witnesses asked for cosignatures.
    pub witnesses: Vec<crate::witness::client::WitnessConfig>,
    /// Time between cosignature rounds.
    pub witness_every: std::time::Duration,
    /// How long a page view waits for a new checkpoint's figures.
    pub fresh_wait: std::time::Duration,
    /// Days an `Idempotency-Key` is remembered.
    pub idempotency_days: std::num::NonZeroU32,
    /// Per-token rate of the write API for reporters.
    pub report_rate: crate::api::auth::IngestRate,
    /// Days after which a report without an answer counts as unanswered.
    pub unanswered_days: std::num::NonZeroU32,
}

/// Where the log's signing key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyConfig {
    /// The key file.
    pub path: PathBuf,
    /// Origin for a key created at the default path; `None` when the path was given explicitly
    /// (a missing explicit key is an error, never silently replaced).
    pub create_with_origin: Option<String>,
}

impl ServeConfig {
    /// Builds the serve configuration from parsed flags and environment.
    pub fn from_args(global: &GlobalArgs, serve: &ServeArgs) -> Result<Self, ConfigError> {
        let addr = serve.addr.parse().map_err(|_| ConfigError::Invalid {
            setting: "GATELOG_ADDR (--addr)",
            value: serve.addr.clone(),
            reason: "expected an IP address and port such as 127.0.0.1:8080 or [::1]:8080".into(),
        })?;
        let public_url = match serve.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => format!("http://{addr}"),
            Some(url) if (url.starts_with("https://") || url.starts_with("http://")) && url.len() > 8 => {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => {
                return Err(ConfigError::Invalid {
                    setting: "GATELOG_PUBLIC_URL (--public-url)",
                    value: url.to_owned(),
                    reason: "expected an http:// or https:// address such as https://gatelog.example.org".into(),
                });
            }
        };
        let hours: u64 = serve.snapshot_every.trim().parse().map_err(|_| ConfigError::Invalid {
            setting: "GATELOG_SNAPSHOT_EVERY (--snapshot-every)",
            value: serve.snapshot_every.clone(),
            reason: "expected a whole number of hours (0 turns periodic snapshots off)".into(),
        })?;
        let mut witnesses = Vec::new();
        for text in serve.witnesses.iter().filter(|w| !w.trim().is_empty()) {
            let witness = crate::witness::client::WitnessConfig::parse(text).map_err(|e| ConfigError::Invalid {
                setting: "GATELOG_WITNESSES (--witness)",
                value: text.clone(),
                reason: format!("expected '<witness vkey> <url>': {e}"),
            })?;
            witnesses.push(witness);
        }
        let idempotency_days = positive("GATELOG_IDEMPOTENCY_DAYS (--idempotency-days)", &serve.idempotency_days)?;
        if idempotency_days.get() > MAX_IDEMPOTENCY_DAYS {
            return Err(ConfigError::Invalid {
                setting: "GATELOG_IDEMPOTENCY_DAYS (--idempotency-days)",
                value: serve.idempotency_days.clone(),
                reason: format!("expected a whole number of days from 1 to {MAX_IDEMPOTENCY_DAYS}"),
            });
        }
        Ok(Self {
            idempotency_days,
            witnesses,
            witness_every: std::time::Duration::from_secs(serve.witness_every.max(1)),
            fresh_wait: std::time::Duration::from_millis(serve.fresh_wait_ms),
            snapshots_dir: data_dir(global)?.join("snapshots"),
            max_concurrent: serve.max_concurrent.max(1),
            per_ip_rate: std::num::NonZeroU32::new(serve.per_ip_rate).map(|per_second| crate::api::per_ip::PerIpRate {
                per_second,
                burst: std::num::NonZeroU32::new(serve.per_ip_burst).unwrap_or(per_second),
            }),
            snapshot_every: (hours > 0).then(|| std::time::Duration::from_secs(hours * 3600)),
            public_url,
            addr,
            database: database_config(global)?,
            demo: serve.demo,
            static_dir: serve
                .static_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static"))),
            signing_key: signing_key_config(global)?,
            ingest_rate: crate::api::auth::IngestRate {
                per_second: positive("GATELOG_INGEST_RATE (--ingest-rate)", &serve.ingest_rate)?,
                burst: positive("GATELOG_INGEST_BURST (--ingest-burst)", &serve.ingest_burst)?,
            },
            report_rate: crate::api::auth::IngestRate {
                per_second: positive("GATELOG_REPORT_RATE (--report-rate)", &serve.report_rate)?,
                burst: positive("GATELOG_REPORT_BURST (--report-burst)", &serve.report_burst)?,
            },
            unanswered_days: positive("GATELOG_UNANSWERED_DAYS (--unanswered-days)", &serve.unanswered_days)?,
        })
    }
}

/// Where the database is: `DATABASE_URL` if given, else the embedded cluster.
pub fn database_config(global: &GlobalArgs) -> Result<DatabaseConfig, ConfigError> {
    if let Some(url) = global.database_url.as_deref().filter(|url| !url.is_empty()) {
        let invalid = |reason: String| ConfigError::Invalid {
            setting: "DATABASE_URL (--database-url)",
            value: redact_password(url),
            reason: format!("{reason}; expected postgres://user:password@host:port/database"),
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid("not a PostgreSQL URL".into()));
        }
        let options = parse_database_url(url).map_err(|error| invalid(error.to_string()))?;
        return Ok(DatabaseConfig::External(Box::new(options)));
    }
    Ok(DatabaseConfig::Embedded { data_dir: data_dir(global)?, pg_bindir: global.pg_bindir.clone() })
}

/// The data directory: the flag/variable, else `$XDG_DATA_HOME/gatelog` or
/// `~/.local/share/gatelog`; as root `/var/lib/gatelog`, since the cluster then
/// runs as the `postgres` user, which cannot enter root's home.
pub fn data_dir(global: &GlobalArgs) -> Result<PathBuf, ConfigError> {
    if let Some(dir) = &global.data_dir {
        return Ok(dir.clone());
    }
    if Uid::effective().is_root() {
        return Ok(PathBuf::from("/var/lib/gatelog"));
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("gatelog"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| PathBuf::from(home).join(".local/share/gatelog"))
        .ok_or(ConfigError::NoDataDir)
}

/// Where the signing key is: an explicit file must exist; the default one is created on first use.
pub fn signing_key_config(global: &GlobalArgs) -> Result<SigningKeyConfig, ConfigError> {
    Ok(SigningKeyConfig {
        path: signing_key_path(global)?,
        create_with_origin: if global.signing_key.is_some() { None } else { Some(origin(global)?) },
    })
}

fn positive(setting: &'static str, value: &str) -> Result<std::num::NonZeroU32, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Invalid {
        setting,
        value: value.to_owned(),
        reason: "expected a whole number of at least 1".into(),
    })
}

/// The signing key file: the flag/variable, else `<data-dir>/signing.key`.
pub fn signing_key_path(global: &GlobalArgs) -> Result<PathBuf, ConfigError> {
    match &global.signing_key {
        Some(path) => Ok(path.clone()),
        None => Ok(data_dir(global)?.join("signing.key")),
    }
}

/// The log's origin line: a key name (no spaces, no `+`), conventionally a schemaless URL.
pub fn origin(global: &GlobalArgs) -> Result<String, ConfigError> {
    let origin = global.origin.trim();
    if origin.is_empty() || origin.contains('+') || origin.chars().any(char::is_whitespace) {
        return Err(ConfigError::Invalid {
            setting: "GATELOG_ORIGIN (--origin)",
            value: global.origin.clone(),
            reason: "must be non-empty, without spaces or '+', e.g. transparency.example.org/gatelog".into(),
        });
    }
    Ok(origin.to_owned())
}

/// Replaces the password in a URL with `***` so it can be shown in errors.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global() -> GlobalArgs {
        GlobalArgs {
            database_url: None,
            data_dir: Some("/tmp/x".into()),
            pg_bindir: None,
            signing_key: None,
            origin: "localhost/gatelog".into(),
            log: "info".into(),
            log_format: "text".into(),
        }
    }

    fn serve(addr: &str) -> ServeArgs {
        ServeArgs {
            addr: addr.into(),
            demo: false,
            static_dir: None,
            ingest_rate: "10".into(),
            ingest_burst: "30".into(),
            public_url: None,
            snapshot_every: "24".into(),
            witnesses: Vec::new(),
            witness_every: 10,
            fresh_wait_ms: 250,
            max_concurrent: crate::DEFAULT_MAX_CONCURRENT,
            per_ip_rate: 50,
            per_ip_burst: 200,
            idempotency_days: "30".into(),
            report_rate: "1".into(),
            report_burst: "5".into(),
            unanswered_days: "30".into(),
        }
    }

    #[test]
    fn the_public_url_defaults_to_the_listen_address_and_must_be_http() {
        let config = ServeConfig::from_args(&global(), &serve("127.0.0.1:9000")).expect("config");
        assert_eq!(config.public_url, "http://127.0.0.1:9000");
        let args = ServeArgs { public_url: Some("https://gatelog.example.org/".into()), ..serve("127.0.0.1:8080") };
        assert_eq!(ServeConfig::from_args(&global(), &args).expect("config").public_url, "https://gatelog.example.org");
        let args = ServeArgs { public_url: Some("gatelog.example.org".into()), ..serve("127.0.0.1:8080") };
        let message = ServeConfig::from_args(&global(), &args).expect_err("no scheme").to_string();
        assert!(message.contains("GATELOG_PUBLIC_URL") && message.contains("https://"), "{message}");
    }

    #[test]
    fn witnesses_are_a_cosigner_vkey_and_a_url_and_a_bad_one_is_named() {
        let key = crate::witness::cosignature::CosignerKey::generate("w.example/1").expect("key");
        let good = format!("{} https://w.example/1/", key.verifier());
        let args = ServeArgs { witnesses: vec![good, " ".into()], ..serve("127.0.0.1:8080") };
        let config = ServeConfig::from_args(&global(), &args).expect("config");
        assert_eq!(config.witnesses.len(), 1, "blank lines of the variable are skipped");
        assert_eq!(config.witnesses[0].url, "https://w.example/1");
        let log_key = crate::ledger::note::NoteSigner::generate("log.example").expect("key").verifier();
        for bad in
            [key.verifier().to_string(), format!("{log_key} https://w.example"), format!("{} ftp://x", key.verifier())]
        {
            let args = ServeArgs { witnesses: vec![bad.clone()], ..serve("127.0.0.1:8080") };
            let message = ServeConfig::from_args(&global(), &args).expect_err("refused").to_string();
            assert!(message.contains("GATELOG_WITNESSES") && message.contains("--witness"), "{bad}: {message}");
        }
    }

    #[test]
    fn a_bad_address_names_the_variable_and_flag() {
        let error = ServeConfig::from_args(&global(), &serve("localhost")).expect_err("not a socket address");
        let message = error.to_string();
        assert!(message.contains("GATELOG_ADDR") && message.contains("--addr"), "{message}");
        assert!(message.contains("127.0.0.1:8080"), "{message}");
    }

    #[test]
    fn idempotency_keys_are_kept_30_days_unless_set_and_a_bad_value_is_named() {
        let config = ServeConfig::from_args(&global(), &serve("127.0.0.1:8080")).expect("config");
        assert_eq!(config.idempotency_days.get(), 30);
        let args = ServeArgs { idempotency_days: "7".into(), ..serve("127.0.0.1:8080") };
        assert_eq!(ServeConfig::from_args(&global(), &args).expect("config").idempotency_days.get(), 7);
        for bad in ["0", "-1", "a week", "3651"] {
            let args = ServeArgs { idempotency_days: bad.into(), ..serve("127.0.0.1:8080") };
            let message = ServeConfig::from_args(&global(), &args).expect_err(bad).to_string();
            assert!(
                message.contains("GATELOG_IDEMPOTENCY_DAYS") && message.contains("--idempotency-days"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_zero_ingest_rate_names_its_variable() {
        let args = ServeArgs { ingest_rate: "0".into(), ..serve("127.0.0.1:8080") };
        let message = ServeConfig::from_args(&global(), &args).expect_err("zero").to_string();
        assert!(message.contains("GATELOG_INGEST_RATE"), "{message}");
    }

    #[test]
    fn a_bad_database_url_names_the_variable_and_hides_the_password() {
        let args = GlobalArgs { database_url: Some("mysql://me:secret@db/x".into()), ..global() };
        let message = database_config(&args).expect_err("wrong scheme").to_string();
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn no_url_means_the_embedded_cluster_in_the_data_dir() {
        match database_config(&global()).expect("valid") {
            DatabaseConfig::Embedded { data_dir, .. } => {
                assert_eq!(data_dir, PathBuf::from("/tmp/x"))
            }
            other => panic!("expected embedded, got {other:?}"),
        }
    }

    #[test]
    fn redaction_keeps_user_and_host() {
        assert_eq!(redact_password("postgres://u:p@h:5432/d"), "postgres://u:***@h:5432/d");
        assert_eq!(redact_password("postgres://h/d"), "postgres://h/d");
    }
}
