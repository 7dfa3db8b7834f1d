//! The command line of `replay-bench`.

use std::time::Duration;

use clap::{Parser, ValueEnum};
use platform::projection::RunnerSettings;

/// Times a full replay (rebuild) of every read model from throwaway event stores, and
/// a plain bulk write of as many documents into the same servers, then prints both
/// rates per store. Everything it creates is removed at the end.
#[derive(Debug, Clone, Parser)]
#[command(name = "replay-bench", version)]
pub struct Options {
    /// Events to generate, about, over the five stores (the last order runs to its end).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub events: u64,
    /// Events per feed page, as `PROJECTION_PAGE` (at most 5000).
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(i64).range(1..=5_000))]
    pub page: i64,
    /// Documents, commands or rows per bulk write.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch: u64,
    /// Chooses the synthetic history: the same seed and count give the same events.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value = "mongodb://127.0.0.1:27017")]
    pub mongodb_url: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// The read stores to replay into (comma-separated); a view writing two of them
    /// runs when both are asked for.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Replayed::ALL)]
    pub stores: Vec<Replayed>,
    /// An administrator's URL: the bench creates and drops its databases through it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
}

/// A read store the replay section can measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Replayed {
    Mongodb,
    Redis,
    Olap,
}

impl Replayed {
    pub const ALL: [Replayed; 3] = [Replayed::Mongodb, Replayed::Redis, Replayed::Olap];
}

impl Options {
    /// Whether the run replays into `store`.
    pub fn replays(&self, store: Replayed) -> bool {
        self.stores.contains(&store)
    }

    /// The runners' settings: the service defaults, the page asked for, and no grace
    /// before the replaced version is dropped (nothing reads it here).
    pub fn runner_settings(&self) -> RunnerSettings {
        RunnerSettings {
            page: self.page,
            drop_grace: Duration::ZERO,
            ..RunnerSettings::default()
        }
    }
}
