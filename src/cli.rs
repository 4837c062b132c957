//! The `gatelog` command line: the clap schema naming every command, and [`run`], which
//! hands the parsed command to its module under [`crate::commands`]. Global and `serve`
//! settings are [`crate::config`]'s flag structs; each command's own flags live beside it.

use clap::{Parser, Subcommand};

use crate::commands::{
    self, backup::BackupArgs, demo::DemoCommand, export::ExportCommand, keygen::KeygenArgs, monitor::MonitorArgs,
    provider::ProviderCommand, reporter::ReporterCommand, restore::RestoreArgs, token::TokenCommand,
    verify::VerifyCommand, witness::WitnessCommand,
};
use crate::config::{GlobalArgs, ServeArgs};

/// Gatelog: a public, verifiable ledger of who gets access to compute, and on what terms.
///
/// Without DATABASE_URL, Gatelog runs its own private PostgreSQL cluster in the
/// data directory (PostgreSQL's server binaries must be installed).
#[derive(Debug, Parser)]
#[command(name = "gatelog", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the public site and the API (applies pending migrations first)
    Serve(ServeArgs),
    /// Apply pending database migrations, then exit
    Migrate,
    /// Register and inspect providers
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Issue, list and revoke providers' and reporters' API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Register reporters (who file sourced reports about providers), and distrust or trust them
    #[command(subcommand)]
    Reporter(ReporterCommand),
    /// Load the synthetic demo world through the ingest path (idempotent)
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Check a receipt offline: signature, leaf hash and inclusion proof
    VerifyReceipt(crate::commands::verify_receipt::VerifyReceiptArgs),
    /// Write a new Ed25519 checkpoint signing key (mode 0600) and print its verifier key
    Keygen(KeygenArgs),
    /// For provider engineers: sign NDJSON records (stdin) with a record-signing key, writing each
    /// with its `signature` added (stdout), ready for POST /api/v1/records
    SignRecords(crate::commands::sign_records::SignRecordsArgs),
    /// Check the log, a snapshot directory or the published figures; exit 0 only if all holds
    #[command(subcommand)]
    Verify(VerifyCommand),
    /// Follow a remote Gatelog's checkpoints and alert on a fork or rollback
    /// (exit 0: consistent; 1: alert; 2: could not check)
    Monitor(MonitorArgs),
    /// Export datasets
    #[command(subcommand)]
    Export(ExportCommand),
    /// Run a C2SP tlog-witness for Gatelog logs, or make its key
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Dump the database (one consistent pg_dump) with the verifier key and latest checkpoint beside it
    Backup(BackupArgs),
    /// Restore a backup into an empty database (one transaction), then check it with `gatelog verify log --vkey`
    Restore(RestoreArgs),
}

/// Why a command failed: its own error, printed as one line by `main`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `gatelog serve`.
    #[error(transparent)]
    Serve(#[from] commands::serve::Error),
    /// `gatelog migrate`.
    #[error(transparent)]
    Migrate(#[from] commands::migrate::Error),
    /// `gatelog keygen`.
    #[error(transparent)]
    Keygen(#[from] commands::keygen::Error),
    /// `gatelog provider`.
    #[error(transparent)]
    Provider(#[from] commands::provider::Error),
    /// `gatelog token`.
    #[error(transparent)]
    Token(#[from] commands::token::Error),
    /// `gatelog reporter`.
    #[error(transparent)]
    Reporter(#[from] commands::reporter::Error),
    /// `gatelog demo`.
    #[error(transparent)]
    Demo(#[from] commands::demo::Error),
    /// `gatelog verify-receipt`.
    #[error(transparent)]
    VerifyReceipt(#[from] commands::verify_receipt::Error),
    /// `gatelog sign-records`.
    #[error(transparent)]
    SignRecords(#[from] commands::sign_records::Error),
    /// `gatelog verify`.
    #[error(transparent)]
    Verify(#[from] commands::verify::Error),
    /// `gatelog monitor`.
    #[error(transparent)]
    Monitor(#[from] commands::monitor::Error),
    /// `gatelog export`.
    #[error(transparent)]
    Export(#[from] commands::export::Error),
    /// `gatelog witness`.
    #[error(transparent)]
    Witness(#[from] commands::witness::Error),
    /// `gatelog backup`.
    #[error(transparent)]
    Backup(#[from] commands::backup::Error),
    /// `gatelog restore`.
    #[error(transparent)]
    Restore(#[from] commands::restore::Error),
}

impl CliError {
    /// The process exit code: `monitor` tells an alert (1) from "could not check" (2);
    /// every other failure is 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Monitor(error) => error.exit_code(),
            _ => 1,
        }
    }
}

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let global = &cli.global;
    match cli.command {
        Command::Serve(args) => commands::serve::run(global, &args).await?,
        Command::Migrate => commands::migrate::run(global).await?,
        Command::Keygen(args) => commands::keygen::run(global, &args)?,
        Command::Provider(command) => commands::provider::run(global, &command).await?,
        Command::Token(command) => commands::token::run(global, &command).await?,
        Command::Reporter(command) => commands::reporter::run(global, &command).await?,
        Command::Demo(command) => commands::demo::run(global, &command).await?,
        Command::VerifyReceipt(args) => commands::verify_receipt::run(&args)?,
        Command::SignRecords(args) => commands::sign_records::run(&args)?,
        Command::Verify(command) => commands::verify::run(global, &command).await?,
        Command::Monitor(args) => commands::monitor::run(args).await?,
        Command::Export(command) => commands::export::run(global, &command).await?,
        Command::Witness(command) => commands::witness::run(command).await?,
        Command::Backup(args) => commands::backup::run(global, &args).await?,
        Command::Restore(args) => commands::restore::run(global, &args).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_command_and_flag_is_well_formed() {
        // clap checks names only when a command is parsed: catch clashes (a subcommand
        // flag named like a global one, say) here rather than at an operator's prompt.
        super::Cli::command().debug_assert();
    }
}
