//! The command line of `commerce-bench`.

use std::time::Duration;

use clap::{Parser, ValueEnum};

/// The parts of the table, in the order they are run and printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Section {
    /// Plain write rates of the servers: PostgreSQL commits, RabbitMQ confirmed
    /// publishes, Redis SETs, MongoDB inserts.
    Ceilings,
    /// Events appended per second (and latency) through our command path and two peers.
    Append,
    /// Events per second from a store to the broker through the outbox relay.
    Relay,
    /// Events per second rebuilding each read model (the `replay-bench` store table).
    Replay,
}

/// Measures, in one run on this machine, the servers' plain write rates and how much of
/// them the platform reaches: appending events, relaying them to RabbitMQ, replaying
/// them into the read models. Prints one markdown table per section. Every database,
/// vhost, collection and key it creates is removed at the end.
#[derive(Debug, Clone, Parser)]
#[command(name = "commerce-bench", version)]
pub struct Options {
    /// Concurrent writers for the PostgreSQL ceiling and the append section; each holds
    /// a connection, so the server needs that many free under `max_connections`.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub writers: Vec<u32>,
    /// How long each cell (one implementation at one concurrency) runs, in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Sections to run (all by default).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub only: Vec<Section>,
    /// Commands per aggregate before a writer moves on to a fresh one: each command
    /// loads every earlier event of its aggregate, so this sets the load's size.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub stream_length: u64,
    /// Events preloaded into the store the relay publishes.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub relay_events: u64,
    /// The relay's batch (`RELAY_BATCH_SIZE`), also the pipelined ceiling's.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub relay_batch: i64,
    /// Events of the synthetic history the replay section rebuilds the Redis views and
    /// the OLAP schema from. Large enough that a Redis view's feed (the order store,
    /// about a sixth of it) runs to some fifteen pages: with a handful, a rebuild's
    /// fixed costs (the first page read before any write, the count, the swap) would
    /// be most of what is timed.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub replay_events: u64,
    /// Events of the (smaller) history the MongoDB views are rebuilt from: the MongoDB
    /// stand-in takes a few dozen writes a second, so a large history would take hours.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub replay_mongodb_events: u64,
    /// An administrator's URL: the bench creates and drops its databases through it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
    /// The broker, without a vhost: the bench adds its own with `rabbitmqctl` (so it
    /// runs on the broker's machine) and removes it at the end.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672")]
    pub amqp_url: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    #[arg(long, default_value = "mongodb://127.0.0.1:27017")]
    pub mongodb_url: String,
}

impl Options {
    /// Whether `section` is to run.
    pub fn runs(&self, section: Section) -> bool {
        self.only.is_empty() || self.only.contains(&section)
    }

    /// One cell's duration.
    pub fn cell(&self) -> Duration {
        Duration::from_secs_f64(self.seconds.clamp(0.01, 3_600.0))
    }

    /// The writer counts, sorted and without repeats.
    pub fn writer_counts(&self) -> Vec<usize> {
        let mut counts: Vec<usize> = self.writers.iter().map(|w| *w as usize).collect();
        counts.sort_unstable();
        counts.dedup();
        counts
    }

    /// The options `replay-bench` would take for `events` of history into `stores`.
    pub fn replay(&self, events: u64, stores: &[crate::args::Replayed]) -> crate::Options {
        crate::Options {
            events,
            page: 2_000,
            batch: 1_000,
            seed: 42,
            stores: stores.to_vec(),
            mongodb_url: self.mongodb_url.clone(),
            redis_url: self.redis_url.clone(),
            postgres_url: self.postgres_url.clone(),
        }
    }
}
