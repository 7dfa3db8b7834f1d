//! Appending events through a command path: events per second and latency of N
//! concurrent writers, each running one command after another (load the aggregate or
//! state, decide, append one event), for our command path and two peers doing the
//! same work against the same PostgreSQL.
//!
//! Every implementation at every concurrency gets a fresh database and a pool of
//! exactly N connections, opened before timing. Writer `w` works on skus `w<w>-s<k>`,
//! moving to the next `k` every `--stream-length` commands, so writers never contend
//! for an aggregate and every command loads the same number of earlier events (0 to
//! stream length − 1) in every implementation. Implementations take turns at each
//! concurrency, so background load spreads over all of them alike, right after the
//! PostgreSQL commit ceiling at that concurrency (as in [`super::ceilings`]), which
//! their ratio is taken to: measured minutes apart on a shared machine, the two would
//! not be comparable.

pub mod cqrs_es;
pub mod disintegrate;
pub mod ours;

use std::future::Future;
use std::sync::Arc;

use sqlx::PgPool;

use super::ceilings::fill_pool;
use super::latency::{drive, Cell, Workload};
use super::scratch::Scratch;
use super::{Options, SuiteError};

/// One way of appending, set up in its own database.
pub trait Implementation: Workload + Sized {
    /// As printed in the table.
    const NAME: &'static str;
    /// In database names and errors: letters, digits and `_`.
    const KEY: &'static str;

    /// Creates its schema in the empty database behind `pool`.
    fn prepare(
        pool: &PgPool,
        stream_length: u64,
    ) -> impl Future<Output = Result<Arc<Self>, SuiteError>> + Send;
}

/// One implementation at one concurrency.
#[derive(Debug, Clone)]
pub struct AppendRow {
    pub implementation: &'static str,
    pub writers: usize,
    pub cell: Cell,
}

/// The aggregate (sku) of writer `writer`'s operation `op`.
pub fn sku(writer: usize, op: u64, stream_length: u64) -> String {
    format!("w{writer}-s{}", op / stream_length.max(1))
}

/// The section's figures: each implementation at each concurrency, and the commit
/// ceiling measured right before them at that concurrency.
#[derive(Debug, Clone, Default)]
pub struct AppendSection {
    pub ceilings: Vec<(usize, Cell)>,
    pub rows: Vec<AppendRow>,
}

impl AppendSection {
    pub fn ceiling_at(&self, writers: usize) -> Option<&Cell> {
        self.ceilings
            .iter()
            .find(|(w, _)| *w == writers)
            .map(|(_, c)| c)
    }
}

pub async fn measure(options: &Options, scratch: &Scratch) -> Result<AppendSection, SuiteError> {
    let mut section = AppendSection::default();
    for writers in options.writer_counts() {
        let (ceiling, _) = super::ceilings::postgres_ceiling(options, scratch, writers).await?;
        section.ceilings.push((writers, ceiling));
        let rows = &mut section.rows;
        rows.push(cell::<ours::Ours>(options, scratch, writers).await?);
        rows.push(cell::<cqrs_es::CqrsEs>(options, scratch, writers).await?);
        rows.push(cell::<disintegrate::Disintegrate>(options, scratch, writers).await?);
    }
    Ok(section)
}

/// Times `I` with `writers` writers, in a database dropped afterwards.
pub async fn cell<I: Implementation>(
    options: &Options,
    scratch: &Scratch,
    writers: usize,
) -> Result<AppendRow, SuiteError> {
    let what = format!("append_{}_{writers}", I::KEY);
    let (pool, name) = scratch.database(&what, writers as u32).await?;
    let measured = async {
        let workload = I::prepare(&pool, options.stream_length).await?;
        fill_pool(&pool, writers).await?;
        drive(workload, writers, options.cell()).await
    }
    .await;
    scratch.drop_database(pool, &name).await?;
    Ok(AppendRow {
        implementation: I::NAME,
        writers,
        cell: measured?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_moves_to_a_fresh_aggregate_every_stream_length_commands() {
        assert_eq!(sku(3, 0, 20), "w3-s0");
        assert_eq!(sku(3, 19, 20), "w3-s0");
        assert_eq!(sku(3, 20, 20), "w3-s1");
        assert_eq!(sku(0, 5, 1), "w0-s5");
    }
}
