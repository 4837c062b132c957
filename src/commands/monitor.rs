//! `gatelog monitor`: follow a remote Gatelog's checkpoints and alert on a fork or a
//! rollback (the checks are [`crate::monitor`]). Exit 0: consistent; 1: alert (the log
//! contradicted itself); 2: could not check (try again).

use std::path::PathBuf;

use clap::Args;

use super::InvalidFlag;
use crate::monitor::{MonitorError, MonitorOptions};
use crate::witness::cosignature::CosignerVerifier;

/// Flags of `gatelog monitor`.
#[derive(Debug, Clone, Args)]
pub struct MonitorArgs {
    /// The log's public address, e.g. https://gatelog.example
    #[arg(long, value_name = "URL")]
    pub url: String,

    /// JSON file holding every checkpoint accepted so far (created on the first run)
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,

    /// The log's verifier key (C2SP vkey), obtained out of band; required on the first run,
    /// then read from the state file (a different one is refused)
    #[arg(long, value_name = "VKEY")]
    pub vkey: Option<String>,

    /// Check again every SECONDS until an alert or an error [default: check once]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub every: Option<u64>,

    /// A witness whose cosignature counts (its cosigner vkey; repeatable): the log's
    /// /checkpoint/witnessed must carry --quorum of them and extend what was accepted
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,

    /// How many of the --witness keys must have cosigned [default: all of them]
    #[arg(long, value_name = "K", requires = "witnesses")]
    pub quorum: Option<usize>,
}

/// Why `gatelog monitor` stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag's value is refused.
    #[error(transparent)]
    Invalid(#[from] InvalidFlag),
    /// The monitor raised an alert (evidence already printed) or could not check the log.
    #[error(transparent)]
    Monitor(#[from] MonitorError),
    /// The monitor's thread failed.
    #[error("the monitor's thread failed: {0}")]
    Thread(String),
}

impl Error {
    /// The process exit code: 1 for an alert, 2 when the log could not be checked, so
    /// scripts can tell "the log lied" from "try again".
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Monitor(error) => error.exit_code(),
            Self::Invalid(_) | Self::Thread(_) => 2,
        }
    }
}

/// Checks once, or with `--every` until an alert, an error or SIGINT/SIGTERM (which ends it
/// successfully between or during checks: every accepted checkpoint is already saved).
pub async fn run(args: MonitorArgs) -> Result<(), Error> {
    let vkey =
        args.vkey.as_deref().map(|v| super::vkeys(&[v.to_owned()]).map(|mut keys| keys.remove(0))).transpose()?;
    let witnesses = args
        .witnesses
        .iter()
        .map(|w| CosignerVerifier::parse(w))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| InvalidFlag::new("--witness", e.to_string()))?;
    let quorum = args.quorum.unwrap_or(witnesses.len());
    if quorum > witnesses.len() {
        return Err(InvalidFlag::new(
            "--quorum",
            format!("{quorum} is more than the {} --witness keys given", witnesses.len()),
        )
        .into());
    }
    let follow = args.every.is_some();
    let options = MonitorOptions {
        url: args.url,
        state: args.state,
        vkey,
        every: args.every.map(std::time::Duration::from_secs),
        witnesses,
        quorum,
    };
    let checks = tokio::task::spawn_blocking(move || {
        crate::monitor::run(&options, |line| {
            println!("{line}");
        })
    });
    let result = if follow {
        tokio::select! {
            result = checks => result,
            () = crate::shutdown::signal() => return Ok(()),
        }
    } else {
        checks.await
    };
    match result.map_err(|join| Error::Thread(join.to_string()))? {
        Ok(()) => Ok(()),
        Err(MonitorError::Alert(evidence)) => {
            println!("{evidence}");
            Err(MonitorError::Alert(evidence).into())
        }
        Err(error) => Err(error.into()),
    }
}
