//! `e2e-bench` (temporary, until `commerce-bench` runs it): parses the command line,
//! runs [`bench::e2e::run`] and prints its markdown report on stdout.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// Orders/s through the whole saga and publish-to-confirmed latency, every service
/// as its own process from the release binaries.
#[derive(Debug, Parser)]
#[command(name = "e2e-bench")]
struct Args {
    /// Where the service binaries are.
    #[arg(long, default_value = "target/release")]
    binaries: PathBuf,
    /// Open loop: orders/s offered.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Open loop: seconds.
    #[arg(long, default_value_t = 20)]
    steady_secs: u64,
    /// Closed loop: orders in flight (customers each waiting for their last order);
    /// a comma-separated list runs one phase per level.
    #[arg(long, value_delimiter = ',', default_value = "32,64")]
    concurrency: Vec<usize>,
    /// Closed loop: seconds of each phase.
    #[arg(long, default_value_t = 20)]
    saturation_secs: u64,
    /// Orders placed before measuring.
    #[arg(long, default_value_t = 20)]
    warmup: u64,
    /// How often each pending order's status is polled, in ms (the latency resolution).
    #[arg(long, default_value_t = 20)]
    poll_ms: u64,
    /// Seconds after which an unfinished order counts as timed out.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// The simulated payment gateway's delay (PROVIDER_DELAY_MS).
    #[arg(long, default_value_t = 200)]
    provider_delay_ms: u64,
    /// Each service's database pool size.
    #[arg(long, default_value_t = 5)]
    db_pool_size: u32,
    /// More environment for every service, KEY=VALUE, repeatable.
    #[arg(long = "env", value_parser = key_value)]
    service_env: Vec<(String, String)>,
    /// PostgreSQL as a superuser, without a database.
    #[arg(
        long,
        env = "E2E_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres_url: String,
    /// RabbitMQ without a vhost (guest must be allowed to use new vhosts).
    #[arg(
        long,
        env = "E2E_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672",
        hide_default_value = true
    )]
    amqp_url: String,
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    #[arg(long, default_value = "mongodb://127.0.0.1:27017")]
    mongodb_url: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    Ok((key.trim().to_string(), value.to_string()))
}

impl Args {
    fn options(self) -> bench::e2e::E2eOptions {
        bench::e2e::E2eOptions {
            binaries: self.binaries,
            postgres_url: self.postgres_url,
            amqp_url: self.amqp_url,
            nats_url: self.nats_url,
            mongodb_url: self.mongodb_url,
            redis_url: self.redis_url,
            steady_rate: self.rate,
            steady_duration: Duration::from_secs(self.steady_secs),
            saturation_concurrency: self.concurrency,
            saturation_duration: Duration::from_secs(self.saturation_secs),
            warmup_orders: self.warmup,
            poll_interval: Duration::from_millis(self.poll_ms.max(1)),
            completion_timeout: Duration::from_secs(self.timeout_secs),
            provider_delay: Duration::from_millis(self.provider_delay_ms),
            db_pool_size: self.db_pool_size,
            service_env: self.service_env,
            ..bench::e2e::E2eOptions::default()
        }
    }
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let options = Args::parse().options();
    if std::env::var("RUST_LOG").map_or(true, |v| v.trim().is_empty()) {
        // Still single-threaded: no other thread can read the environment concurrently.
        std::env::set_var("RUST_LOG", "warn,sqlx::query=error");
    }
    platform::telemetry::init_tracing("e2e-bench");
    match execute(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("e2e-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(options: &bench::e2e::E2eOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(bench::e2e::run(options))?;
    println!("{report}");
    Ok(())
}
