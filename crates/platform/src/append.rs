//! Group commit of appends: the events of concurrent commands written to a service's
//! `events` table by one statement, so they share one transaction and one WAL flush.
//!
//! Each append joins a queue; a flush takes everything queued and writes it with a
//! single `INSERT … SELECT FROM unnest(…)`. At most [`Appender::new`]'s `flushers`
//! flushes run at once, so batches form by themselves under load (while the flushers
//! wait on the disk, commands queue up) and a lone command is written at once, with no
//! timer to wait for.
//!
//! Correctness does not depend on batching: a statement is atomic, so a batch commits
//! whole or not at all. When it fails — a conflict on the `(aggregate_type,
//! aggregate_id, sequence)` key, or anything else — each append of the batch is written
//! again on its own, so one command's conflict never fails another and each gets its
//! own exact answer. Rows are written exactly as postgres-es writes them (the columns'
//! defaults fill the rest), so cqrs-es loads them back.
//!
//! A flush runs in its own task: a caller dropped mid-append (shutdown, a timeout)
//! cannot cancel a write other commands wait on.

use std::sync::{Arc, Mutex, PoisonError};

use cqrs_es::persist::SerializedEvent;
use tokio::sync::{oneshot, Semaphore};

use crate::store::{insert_rows, AggregateAppend, StoreError};

/// Concurrent flushes by default: one can fill while another waits on the disk.
pub const DEFAULT_FLUSHERS: usize = 2;

/// The group-committing writer of one service's event store. Cheap to clone.
#[derive(Clone)]
pub struct Appender {
    inner: Arc<Inner>,
}

struct Inner {
    pool: sqlx::PgPool,
    queue: Mutex<Vec<Pending>>,
    flushers: Semaphore,
}

struct Pending {
    rows: Vec<SerializedEvent>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

impl Appender {
    /// An appender writing through `pool` with at most `flushers` flushes at once.
    pub fn new(pool: sqlx::PgPool, flushers: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                queue: Mutex::new(Vec::new()),
                flushers: Semaphore::new(flushers.max(1)),
            }),
        }
    }

    /// Appends `rows` (the events of one command, each with its aggregate and
    /// sequence) atomically: all or none. A row whose key is taken fails the whole
    /// append with [`StoreError::Conflict`].
    pub async fn append(&self, rows: Vec<SerializedEvent>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.inner.queue().push(Pending { rows, reply });
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move { flush(&inner).await });
        answer
            .await
            .unwrap_or(Err(StoreError::Database(sqlx::Error::WorkerCrashed)))
    }

    /// Appends the events of several aggregates atomically: one business rule spanning
    /// them (a reservation over several products) commits whole or not at all.
    pub async fn append_all(&self, appends: &[AggregateAppend]) -> Result<(), StoreError> {
        let rows = appends.iter().flat_map(|a| a.events.iter().cloned());
        self.append(rows.collect()).await
    }
}

impl Inner {
    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Writes whatever is queued once a flusher is free; an earlier flush may already
/// have taken this task's append, and then there is nothing left to do.
async fn flush(inner: &Inner) {
    let Ok(_permit) = inner.flushers.acquire().await else {
        return;
    };
    let batch = std::mem::take(&mut *inner.queue());
    if batch.is_empty() {
        return;
    }
    metrics::histogram!("append_batch_commands").record(batch.len() as f64);
    if batch.len() > 1 {
        let rows: Vec<&SerializedEvent> = batch.iter().flat_map(|p| &p.rows).collect();
        if insert_rows(&inner.pool, &rows).await.is_ok() {
            for pending in batch {
                let _ = pending.reply.send(Ok(()));
            }
            return;
        }
    }
    for pending in batch {
        let rows: Vec<&SerializedEvent> = pending.rows.iter().collect();
        let _ = pending.reply.send(insert_rows(&inner.pool, &rows).await);
    }
}
