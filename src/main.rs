//! The `gatelog` binary: parse the command line, set up logging, run the command,
//! and turn any failure into one line on stderr and a non-zero exit.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use gatelog::cli::{self, Cli};
use tracing_subscriber::EnvFilter;

/// How long tasks still running when the command returns get before the process exits.
const ABANDON_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

fn main() -> ExitCode {
    limit_malloc_arenas();
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

    // Two workers more than cores: some work still holds a worker for seconds at a time
    // (row decoding, dataset encoding), and signals and timers are only noticed by a worker
    // that is free. With one worker per core, a Ctrl-C under load was seen 5 s late (issue 15).
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(cores + 2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli::run(cli));
    // Dropping a runtime waits for every blocking task, so a `serve` stopped while it computed
    // page figures on a blocking thread would outlive its Ctrl-C by as long as that takes
    // (issue 15). Whatever still runs once the command has returned is abandoned instead.
    runtime.shutdown_timeout(ABANDON_AFTER);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// glibc gives each thread that contends for the heap an arena of its own, up to eight per
/// core, and keeps memory freed into each arena for later. A server that parses, appends and
/// answers a 10,000-record batch (~120 MB, on several threads) kept most of it that way, in
/// a different arena each time: four batches left 228 MB resident with the default, 168 MB
/// with two arenas (`cargo bench --bench scale`, docs/PERFORMANCE.md). One arena per core is
/// as many as can contend at once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get).max(2);
    let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets an allocator parameter, and runs before any other thread
    // exists. A refusal (0) leaves glibc's default, which is also correct.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

/// Other allocators size their arenas themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
