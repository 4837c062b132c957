//! The `gatelog` binary: parse the command line, set up logging, run the command,
//! and turn any failure into one line on stderr and a non-zero exit.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use gatelog::cli::{self, Cli};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match EnvFilter::try_new(&cli.global.log) {
        Ok(filter) => filter,
        Err(error) => {
            eprintln!("error: invalid GATELOG_LOG (--log) value {:?}: {error}", cli.global.log);
            return ExitCode::from(2);
        }
    };
    if cli.global.log_format == "json" {
        // One JSON object per line (timestamp, level, target, fields, span) for log collectors.
        tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).init();
    } else {
        // Colour only for people at a terminal; logs captured by systemd or CI stay plain.
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init();
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
