//! `gatelog witness keygen|serve`: a C2SP tlog-witness for Gatelog logs
//! (the protocol is [`crate::witness`]).

use std::path::PathBuf;

use clap::Subcommand;

use crate::ledger::keys::{self, KeyFileError};
use crate::ledger::note::NoteVerifier;
use crate::witness::cosignature::CosignerKey;

/// `gatelog witness ...`
#[derive(Debug, Clone, Subcommand)]
pub enum WitnessCommand {
    /// Write a new witness (cosigner, type 0x04) key, mode 0600, and print its vkey
    Keygen {
        /// The witness's name, a schema-less URL such as witness.example.org/w1
        name: String,
        /// Where to write the key (never overwritten)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Serve POST /add-checkpoint: cosign each log's checkpoints only if they extend the last one cosigned
    Serve {
        /// The witness's private key (from `gatelog witness keygen`)
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// A log to witness, by its checkpoint verifier key (repeatable)
        #[arg(long = "log-vkey", value_name = "VKEY", required = true)]
        logs: Vec<String>,
        /// Where to keep the latest cosigned checkpoint of each log (survives restarts; required)
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:8090", value_name = "IP:PORT")]
        listen: String,
    },
}

/// Why `gatelog witness` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key file could not be read or written.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The witness name or key is not usable.
    #[error("witness: {0}")]
    Key(String),
    /// A `--log-vkey` is malformed.
    #[error("witness: --log-vkey {value:?}: {reason}")]
    LogVkey {
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The state file could not be opened.
    #[error("witness: {0}")]
    State(String),
    /// The address could not be bound.
    #[error("witness: cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("witness: {0}")]
    Http(std::io::Error),
}

/// Runs a witness command; `serve` until SIGINT or SIGTERM.
pub async fn run(command: WitnessCommand) -> Result<(), Error> {
    match command {
        WitnessCommand::Keygen { name, out } => {
            let key = CosignerKey::generate(&name).map_err(|e| Error::Key(e.to_string()))?;
            keys::write_private(&out, &key.to_private_text())?;
            println!("wrote {} (mode 0600)", out.display());
            println!("vkey: {}", key.verifier());
        }
        WitnessCommand::Serve { key, logs, state, listen } => {
            let key = CosignerKey::parse(&keys::read_private(&key)?).map_err(|e| Error::Key(e.to_string()))?;
            let logs = logs
                .iter()
                .map(|l| NoteVerifier::parse(l).map_err(|e| Error::LogVkey { value: l.clone(), reason: e.to_string() }))
                .collect::<Result<Vec<_>, _>>()?;
            let witness = crate::witness::server::Witness::new(key.clone(), logs, Some(state))
                .map_err(|e| Error::State(e.to_string()))?;
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .map_err(|source| Error::Bind { addr: listen.clone(), source })?;
            let local = listener.local_addr().map_err(Error::Http)?;
            println!("witness {} is serving on http://{local}/add-checkpoint", key.verifier());
            let app = crate::witness::server::router(std::sync::Arc::new(witness));
            axum::serve(listener, app).with_graceful_shutdown(crate::shutdown::signal()).await.map_err(Error::Http)?;
        }
    }
    Ok(())
}
