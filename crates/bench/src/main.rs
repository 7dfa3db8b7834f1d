//! `replay-bench`: parses the command line, logs warnings only (unless `RUST_LOG`
//! says otherwise), runs [`bench::run`] and prints its table on stdout; progress bars
//! go to stderr.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let options = bench::Options::parse();
    if std::env::var("RUST_LOG").map_or(true, |v| v.trim().is_empty()) {
        // Still single-threaded: no other thread can read the environment concurrently.
        // sqlx would warn of every slow `DROP DATABASE`.
        std::env::set_var("RUST_LOG", "warn,sqlx::query=error");
    }
    platform::telemetry::init_tracing("replay-bench");
    match execute(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("replay-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(options: &bench::Options) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(bench::run(options))?;
    println!("{report}");
    Ok(())
}
