//! Tamper evidence for a service's `events` table: each committed event's hash,
//! chained to the previous one's, in the `event_chain` side table.
//!
//! The chain is sealed after the fact, in the store's commit-safe order (see
//! [`crate::store`]), by one [`Sealer`] per service (leadership through an advisory
//! lock, like the relay). Computing it at insert time, in a trigger, would need the
//! previous hash, so every writer would wait on one lock: appends would stop being
//! concurrent, and postgres-es's insert would no longer be the plain insert it is.
//!
//! [`verify`] walks the chain and names the first link that no longer matches its
//! event: altered, missing, a chain row removed, or an event slipped in behind the head.
//! It cannot see a consistent rewrite of both tables from the altered event onwards;
//! anchoring the head hash outside the database is the remedy for that.

mod hash;
mod sealer;
mod verify;

pub use hash::{canonical_json, event_hash, GENESIS};
pub use sealer::{Sealer, SEAL_IDLE_POLL};
pub use verify::{verify, verify_in_pages, Broken, Verification};

use sqlx::{PgPool, Row};

use crate::store::{Cursor, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("event chain unavailable: {0}")]
    Database(#[from] sqlx::Error),
    /// Reading the events: the database, or an event that cannot be decoded.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("chain link {0} holds a hash that is not 32 bytes")]
    MalformedHash(i64),
}

/// The last sealed link: where sealing resumes and what it chains to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    seq: i64,
    hash: [u8; 32],
    cursor: Cursor,
}

impl Default for Head {
    fn default() -> Self {
        Self {
            seq: 0,
            hash: GENESIS,
            cursor: Cursor::default(),
        }
    }
}

/// The link with the highest `chain_seq`, or the genesis head of an empty chain.
async fn load_head(pool: &PgPool) -> Result<Head, ChainError> {
    let row = sqlx::query(
        "SELECT chain_seq, hash, tx_id::text::bigint AS tx_id, global_position \
         FROM event_chain ORDER BY chain_seq DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(Head::default());
    };
    let seq: i64 = row.try_get("chain_seq")?;
    let hash: Vec<u8> = row.try_get("hash")?;
    Ok(Head {
        seq,
        hash: hash
            .try_into()
            .map_err(|_| ChainError::MalformedHash(seq))?,
        cursor: Cursor {
            tx_id: row.try_get("tx_id")?,
            position: row.try_get("global_position")?,
        },
    })
}
