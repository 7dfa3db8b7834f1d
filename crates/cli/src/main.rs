//! The `commerce` binary: parses the command line, sets up logging (warnings only by
//! default, so stdout stays clean for JSON) and runs [`cli::run`].

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Usage errors exit here with status 2, help and version with 0.
    let cli = cli::args::Cli::parse();
    quiet_logging_by_default();
    platform::telemetry::init_tracing("cli");
    match execute(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("commerce: {err:#}");
            ExitCode::from(cli::send::EXIT_FAILURE)
        }
    }
}

fn execute(cli: cli::args::Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => Ok(ExitCode::from(code)),
        Err(err) => {
            eprintln!("commerce: {err}");
            Ok(ExitCode::from(err.exit_code()))
        }
    }
}

/// `RUST_LOG` decides when set; otherwise only warnings and errors are logged, and
/// none of lapin's: every broker failure reaches the user as the command's own error
/// (on stderr), and the platform's log lines go to stdout, which must stay clean JSON.
fn quiet_logging_by_default() {
    let unset = std::env::var("RUST_LOG").map_or(true, |v| v.trim().is_empty());
    if unset {
        // Still single-threaded: no other thread can read the environment concurrently.
        std::env::set_var("RUST_LOG", "warn,lapin=off");
    }
}
