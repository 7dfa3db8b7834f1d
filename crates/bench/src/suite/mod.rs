//! `commerce-bench`: in one run on one machine, the servers' plain write rates
//! ([`ceilings`]) and how much of them the platform reaches — appending events through
//! the command path beside two peers ([`append`]), relaying them to RabbitMQ
//! ([`relay`]), replaying them into the read models (the `replay-bench` library,
//! [`crate::run`]). [`report`] prints one markdown table per section under a line
//! describing the machine.
//!
//! Sections run one after another, never concurrently, so none competes with another
//! for the machine. Everything created on the servers is registered in a
//! [`scratch::Scratch`] and removed as each measurement ends, and whatever is left after
//! an error or Ctrl-C by [`scratch::Scratch::cleanup`].

pub mod append;
pub mod ceilings;
pub mod latency;
pub mod machine;
pub mod options;
pub mod relay;
pub mod report;
pub mod scratch;
pub mod table;

pub use options::{Options, Section};
pub use report::SuiteReport;

use crate::BenchError;

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("RabbitMQ refused a publish")]
    Nacked,
    #[error("{0}")]
    Rabbitmqctl(String),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("MongoDB: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("event store: {0}")]
    Store(#[from] platform::store::StoreError),
    #[error("relay: {0}")]
    Relay(#[from] platform::relay::RelayError),
    #[error("serialization: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0} append failed: {1}")]
    Append(&'static str, String),
    #[error("the store shows {seen} of {expected} events: a transaction open elsewhere holds its horizon back")]
    Unsettled { expected: u64, seen: i64 },
    #[error("a writer task failed: {0}")]
    Task(String),
    #[error("interrupted")]
    Interrupted,
    #[error("replay: {0}")]
    Replay(#[from] BenchError),
}

/// Runs the chosen sections, then removes whatever they left on the servers.
pub async fn run(options: &Options) -> Result<SuiteReport, SuiteError> {
    let scratch = scratch::Scratch::new(
        &options.postgres_url,
        &options.amqp_url,
        &options.mongodb_url,
    )?;
    let mut report = SuiteReport {
        run_id: scratch.run_id().to_string(),
        machine: machine::Machine::detect(),
        options: options.clone(),
        ceilings: None,
        append: None,
        relay: None,
        replay: None,
    };
    let measured = tokio::select! {
        result = sections(options, &scratch, &mut report) => result,
        _ = tokio::signal::ctrl_c() => Err(SuiteError::Interrupted),
    };
    scratch.cleanup().await;
    measured.map(|()| report)
}

async fn sections(
    options: &Options,
    scratch: &scratch::Scratch,
    report: &mut SuiteReport,
) -> Result<(), SuiteError> {
    if options.runs(Section::Ceilings) {
        eprintln!("commerce-bench: ceilings");
        report.ceilings = Some(ceilings::measure(options, scratch).await?);
    }
    if options.runs(Section::Append) {
        eprintln!("commerce-bench: append");
        report.append = Some(append::measure(options, scratch).await?);
    }
    if options.runs(Section::Relay) {
        eprintln!("commerce-bench: relay");
        report.relay = Some(relay::measure(options, scratch).await?);
    }
    if options.runs(Section::Replay) {
        eprintln!("commerce-bench: replay");
        report.replay = Some(replay(options).await?);
    }
    Ok(())
}

/// The replay section: the MongoDB views (and `stock_levels`, MongoDB and Redis) from a
/// history of `--replay-mongodb-events`, the Redis views and the OLAP schema from one of
/// `--replay-events`; one report per history.
async fn replay(options: &Options) -> Result<Vec<crate::Report>, BenchError> {
    use crate::args::Replayed;
    use crate::report::Backend;

    let small = &[Replayed::Mongodb, Replayed::Redis];
    let mut mongodb = crate::run(&options.replay(options.replay_mongodb_events, small)).await?;
    mongodb.measurements.retain(|m| m.backend != Backend::Redis);
    let large = &[Replayed::Redis, Replayed::Olap];
    let rest = crate::run(&options.replay(options.replay_events, large)).await?;
    Ok(vec![mongodb, rest])
}
