//! The end-to-end bench: orders per second completed through the whole fulfilment
//! saga, and the latency from `order.PlaceOrder` published to the order shown
//! `confirmed` by the query service over HTTP, at a steady offered load and at
//! saturation; and the peak memory of every service under that load.
//!
//! Every service runs as its own OS process from the release binaries
//! ([`processes`]), wired by [`topology`] to resources of the run's own
//! ([`resources`]: PostgreSQL databases, a RabbitMQ vhost, a JetStream stream and
//! subject prefix, a MongoDB database, a Redis key prefix), removed at the end. The
//! workload ([`load`]) goes over the broker like the demo; the [`tracker`] polls the
//! query service until each order is seen finished, once the bus announced its end
//! ([`ends`]); [`stats`] and [`report`] sum up.

pub mod breakdown;
pub mod ends;
pub mod load;
pub mod processes;
pub mod report;
pub mod resources;
pub mod stats;
pub mod topology;
pub mod tracker;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use report::{E2eReport, PhaseReport, ServiceUsage};
pub use stats::{Latency, Offered, PhaseStats};

use load::Workload;
use processes::Services;
use resources::Resources;
use tracker::{Tracker, TrackerSettings};

/// What to run, and against which servers (loopback by default).
#[derive(Debug, Clone)]
pub struct E2eOptions {
    /// Where the service binaries are (`target/release`).
    pub binaries: PathBuf,
    /// PostgreSQL as a superuser, without a database: `postgres://postgres@127.0.0.1:5432`.
    pub postgres_url: String,
    /// RabbitMQ without a vhost: `amqp://guest:guest@127.0.0.1:5672`. Never printed.
    pub amqp_url: String,
    pub nats_url: String,
    pub mongodb_url: String,
    pub redis_url: String,
    /// Open loop: orders/s offered, and for how long.
    pub steady_rate: f64,
    pub steady_duration: Duration,
    /// Closed loop: customers each with one order in flight, one phase per level (the
    /// throughput grows with it until the system saturates), and how long each runs.
    pub saturation_concurrency: Vec<usize>,
    pub saturation_duration: Duration,
    /// Orders placed (closed loop, 4 at a time) before measuring, not counted.
    pub warmup_orders: u64,
    /// How often the tracker asks for the status of each pending order.
    pub poll_interval: Duration,
    /// An order not seen finished this long after its publish counts as timed out.
    pub completion_timeout: Duration,
    pub products: usize,
    pub customers: usize,
    /// `PROVIDER_DELAY_MS` of the simulated gateway.
    pub provider_delay: Duration,
    /// `<SERVICE>_DB_POOL_SIZE` of each service with a database.
    pub db_pool_size: u32,
    /// More environment for every service (`RELAY_IDLE_POLL_MS=10`, ...), applied last.
    pub service_env: Vec<(String, String)>,
    /// Where the services' logs go; removed after a successful run.
    pub log_dir: Option<PathBuf>,
}

impl Default for E2eOptions {
    fn default() -> Self {
        Self {
            binaries: PathBuf::from("target/release"),
            postgres_url: "postgres://postgres@127.0.0.1:5432".into(),
            amqp_url: "amqp://guest:guest@127.0.0.1:5672".into(),
            nats_url: "nats://127.0.0.1:4222".into(),
            mongodb_url: "mongodb://127.0.0.1:27017".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            steady_rate: 20.0,
            steady_duration: Duration::from_secs(20),
            saturation_concurrency: vec![32, 64],
            saturation_duration: Duration::from_secs(20),
            warmup_orders: 20,
            poll_interval: Duration::from_millis(20),
            completion_timeout: Duration::from_secs(30),
            products: 50,
            customers: 64,
            provider_delay: Duration::from_millis(200),
            db_pool_size: 5,
            service_env: Vec::new(),
            log_dir: None,
        }
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    #[error("PostgreSQL ({what}): {source}")]
    Postgres {
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("RabbitMQ: {0}")]
    RabbitMq(String),
    #[error("NATS: {0}")]
    Nats(String),
    #[error("MongoDB: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no binary at {0} (cargo build --release --bins first)")]
    MissingBinary(PathBuf),
    #[error("{service} did not become healthy; its log ends with:\n{log_tail}")]
    Unhealthy {
        service: &'static str,
        log_tail: String,
    },
    #[error("{service} exited ({status}); its log ends with:\n{log_tail}")]
    Exited {
        service: &'static str,
        status: String,
        log_tail: String,
    },
    #[error("command bus: {0}")]
    Client(#[from] cli::client::ClientError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{command} refused: {reason}")]
    Refused { command: String, reason: String },
    #[error("set-up: {0}")]
    Setup(String),
    #[error("the status poller failed")]
    PollerFailed,
    #[error("interrupted")]
    Interrupted,
}

impl E2eError {
    fn postgres(what: impl Into<String>, source: sqlx::Error) -> Self {
        Self::Postgres {
            what: what.into(),
            source,
        }
    }

    fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// One whole run: create the resources, start every service, seed, warm up, run the
/// steady and the saturation phases, read each service's peak memory, stop them all
/// and remove the resources (after a failure or Ctrl-C too).
pub async fn run(options: &E2eOptions) -> Result<E2eReport, E2eError> {
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let log_dir = options
        .log_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("e2e-bench-{run_id}")));
    std::fs::create_dir_all(&log_dir)
        .map_err(|source| E2eError::io(format!("create {}", log_dir.display()), source))?;
    let resources = Resources::create(options, &run_id).await?;
    let result = tokio::select! {
        result = measure(options, &resources, &log_dir) => result,
        _ = tokio::signal::ctrl_c() => Err(E2eError::Interrupted),
    };
    // The services were stopped when `measure` returned (or was dropped).
    resources.remove().await;
    let incomplete = result.as_ref().map_or(true, |report| {
        report.phases.iter().any(|p| p.stats.incomplete() > 0)
    });
    if incomplete {
        eprintln!("the services' logs are kept in {}", log_dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&log_dir);
    }
    result
}

async fn measure(
    options: &E2eOptions,
    resources: &Resources,
    log_dir: &std::path::Path,
) -> Result<E2eReport, E2eError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(64)
        .build()?;
    let specs = topology::plan(options, resources)?;
    let mut services = Services::default();
    for spec in &specs {
        services.start(&options.binaries, log_dir, spec)?;
    }
    let booting = Instant::now();
    services.wait_healthy(&http).await?;
    let boot = booting.elapsed();
    let query_port = specs
        .iter()
        .find(|s| s.name == "query")
        .map(|s| s.port)
        .unwrap_or_default();
    let query_url = format!("http://127.0.0.1:{query_port}");
    let tracking = TrackerSettings {
        query_url,
        amqp_url: resources.amqp_url(),
        interval: options.poll_interval,
        timeout: options.completion_timeout,
    };
    let tracker = || async {
        Tracker::start(http.clone(), &tracking)
            .await
            .map_err(|err| E2eError::RabbitMq(format!("listening for orders' ends: {err}")))
    };

    let client = cli::client::CommandClient::connect(&resources.amqp_url()).await?;
    let workload = std::sync::Arc::new(
        Workload::seed(
            client,
            &resources.run_id,
            options.products,
            options.customers,
            &resources.database_url("order"),
        )
        .await?,
    );
    if options.warmup_orders > 0 {
        let duration = options.completion_timeout * 4;
        let limit = Some(options.warmup_orders);
        workload
            .closed_loop("warmup", 4, duration, limit, tracker().await?)
            .await?;
    }
    services.check_alive()?;

    let usage = Usage::start(&services);
    let steady = workload
        .open_loop(
            "steady",
            options.steady_rate,
            options.steady_duration,
            tracker().await?,
        )
        .await?;
    let usage = usage.finish(&services);
    let segments = split(resources, &steady).await;
    let steady = PhaseReport::new(steady, usage, segments);
    services.check_alive()?;

    let mut phases = vec![steady];
    for &concurrency in &options.saturation_concurrency {
        let usage = Usage::start(&services);
        let saturation = workload
            .closed_loop(
                "saturation",
                concurrency,
                options.saturation_duration,
                None,
                tracker().await?,
            )
            .await?;
        let usage = usage.finish(&services);
        let segments = split(resources, &saturation).await;
        phases.push(PhaseReport::new(saturation, usage, segments));
        services.check_alive()?;
    }

    let memory = services
        .iter()
        .map(|s| (s.name, processes::peak_rss(s.pid())))
        .collect();
    let harness_peak = processes::peak_rss(std::process::id());
    let log_lines = services.log_counts();
    services.stop();
    if let Ok(client) = std::sync::Arc::try_unwrap(workload).map(|w| w.client) {
        if let Ok(client) = std::sync::Arc::try_unwrap(client) {
            client.close().await;
        }
    }
    Ok(E2eReport {
        boot,
        poll_interval: options.poll_interval,
        completion_timeout: options.completion_timeout,
        provider_delay: options.provider_delay,
        service_env: options.service_env.clone(),
        phases,
        memory,
        harness_peak,
        log_lines,
    })
}

/// The phase's latency split at the order's events (none, with a warning, if the
/// order database cannot be read).
async fn split(resources: &Resources, phase: &PhaseStats) -> Vec<(&'static str, Latency)> {
    let url = resources.database_url("order");
    breakdown::segments(&url, &phase.samples)
        .await
        .unwrap_or_else(|err| {
            tracing::warn!(error = %err, "no latency breakdown");
            Vec::new()
        })
}

/// CPU time of each service (and of the harness) over one phase.
struct Usage {
    started: Instant,
    ticks: Vec<(&'static str, Option<u64>)>,
    harness: Option<u64>,
}

impl Usage {
    fn start(services: &Services) -> Self {
        Self {
            started: Instant::now(),
            ticks: services
                .iter()
                .map(|s| (s.name, processes::cpu_ticks(s.pid())))
                .collect(),
            harness: processes::cpu_ticks(std::process::id()),
        }
    }

    fn finish(self, services: &Services) -> Vec<ServiceUsage> {
        let per_second = processes::ticks_per_second() as f64;
        let seconds = |before: Option<u64>, after: Option<u64>| match (before, after) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 / per_second),
            _ => None,
        };
        let wall = self.started.elapsed();
        let mut usage: Vec<ServiceUsage> = services
            .iter()
            .zip(self.ticks)
            .map(|(s, (name, before))| ServiceUsage {
                name,
                cpu_seconds: seconds(before, processes::cpu_ticks(s.pid())),
                wall,
            })
            .collect();
        usage.push(ServiceUsage {
            name: "(bench harness)",
            cpu_seconds: seconds(self.harness, processes::cpu_ticks(std::process::id())),
            wall,
        });
        usage
    }
}
