//! The sealer: appends the next committed events to a service's chain, one batch per
//! transaction, and keeps doing so while it leads.

use std::future::Future;
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use super::{event_hash, load_head, ChainError, Head};
use crate::store::{self, StoredEvent};

/// How long the sealer sleeps when it found nothing to seal.
pub const SEAL_IDLE_POLL: Duration = Duration::from_millis(200);

/// Seals one service's store.
#[derive(Debug, Clone)]
pub struct Sealer {
    pool: PgPool,
    service: String,
    batch_size: i64,
}

/// The columns of the links of one batch, as arrays for one `UNNEST` insert.
#[derive(Default)]
struct Links {
    seqs: Vec<i64>,
    positions: Vec<i64>,
    tx_ids: Vec<i64>,
    event_ids: Vec<Uuid>,
    hashes: Vec<Vec<u8>>,
}

impl Sealer {
    pub fn new(pool: PgPool, service: impl Into<String>, batch_size: i64) -> Self {
        Self {
            pool,
            service: service.into(),
            batch_size: batch_size.max(1),
        }
    }

    /// Runs until `shutdown` resolves, starting over (leadership included) after any
    /// failure: sealing resumes from the head, so nothing is sealed twice or skipped.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                result = self.lead_and_seal() => {
                    if let Err(err) = result {
                        tracing::error!(service = %self.service, error = %err, "sealer failed, restarting");
                        metrics::counter!("chain_failures_total", "service" => self.service.clone()).increment(1);
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn lead_and_seal(&self) -> Result<(), ChainError> {
        let _leadership = self.lead().await?;
        loop {
            if self.seal_next_batch().await? == 0 {
                tokio::time::sleep(SEAL_IDLE_POLL).await;
            }
        }
    }

    /// Waits until this sealer is its service's only one ([`store::lead`]). Were two
    /// ever to seal at once, the `chain_seq` key refuses the second batch: a link is
    /// never written twice.
    async fn lead(&self) -> Result<sqlx::PgConnection, ChainError> {
        let key = format!("event-chain:{}", self.service);
        Ok(store::lead(&self.pool, &key).await?)
    }

    /// Seals the events committed after the head, up to one batch; returns how many
    /// (0 when every committed event is sealed).
    pub async fn seal_next_batch(&self) -> Result<usize, ChainError> {
        let head = load_head(&self.pool).await?;
        let batch = store::read_committed_after(&self.pool, head.cursor, self.batch_size).await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let links = link(head, &batch);
        insert(&self.pool, &links).await?;
        metrics::counter!("chain_sealed_total", "service" => self.service.clone())
            .increment(batch.len() as u64);
        tracing::debug!(service = %self.service, count = batch.len(), "sealed events");
        Ok(batch.len())
    }
}

/// The links of `batch`, chained from `head`.
fn link(head: Head, batch: &[StoredEvent]) -> Links {
    let mut links = Links::default();
    let (mut seq, mut prev) = (head.seq, head.hash);
    for event in batch {
        seq += 1;
        prev = event_hash(&prev, event);
        links.seqs.push(seq);
        links.positions.push(event.cursor.position);
        links.tx_ids.push(event.cursor.tx_id);
        links.event_ids.push(event.event_id);
        links.hashes.push(prev.to_vec());
    }
    links
}

/// One statement, so the batch is sealed whole or not at all.
async fn insert(pool: &PgPool, links: &Links) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO event_chain (chain_seq, global_position, tx_id, event_id, hash) \
         SELECT seq, pos, tx::text::xid8, id, hash \
         FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::uuid[], $5::bytea[]) \
           AS link(seq, pos, tx, id, hash)",
    )
    .bind(&links.seqs)
    .bind(&links.positions)
    .bind(&links.tx_ids)
    .bind(&links.event_ids)
    .bind(&links.hashes)
    .execute(pool)
    .await?;
    Ok(())
}
