//! Verifying a store's chain: walks the links in `chain_seq` order, a page of links and
//! their events at a time, and stops at the first link its event no longer matches.

use std::collections::HashMap;
use std::fmt;

use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{event_hash, ChainError, Head};
use crate::store::{self, Cursor, StoredEvent};

/// How many links one page of the walk reads.
const PAGE: i64 = 1000;

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every link matches its event; `unsealed` committed events follow the head.
    Intact { sealed: i64, unsealed: i64 },
    /// The first problem found, in chain order.
    Broken(Broken),
}

/// What is wrong at the first broken link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// The event is there but no longer hashes to its link: it was changed.
    Altered {
        chain_seq: i64,
        global_position: i64,
        event_id: Uuid,
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
    },
    /// The sealed event is gone from its position (deleted, or replaced by another).
    Missing {
        chain_seq: i64,
        global_position: i64,
        event_id: Uuid,
    },
    /// The link after `after_seq` was itself removed from the chain.
    ChainGap { after_seq: i64 },
    /// `count` events sit in commit order behind the head yet were never sealed:
    /// inserted with a forged transaction id.
    Inserted { head_seq: i64, count: i64 },
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Altered {
                chain_seq,
                global_position,
                event_id,
                aggregate_type,
                aggregate_id,
                sequence,
            } => write!(
                f,
                "altered: chain seq {chain_seq}, position {global_position}, event {event_id} \
                 ({aggregate_type} {aggregate_id} #{sequence})"
            ),
            Self::Missing {
                chain_seq,
                global_position,
                event_id,
            } => write!(
                f,
                "missing: chain seq {chain_seq}, position {global_position}, event {event_id}"
            ),
            Self::ChainGap { after_seq } => {
                write!(f, "chain gap: the link after chain seq {after_seq} was removed")
            }
            Self::Inserted { head_seq, count } => write!(
                f,
                "inserted: {count} event(s) behind the head (chain seq {head_seq}) were never sealed"
            ),
        }
    }
}

/// One row of `event_chain`.
struct Link {
    seq: i64,
    cursor: Cursor,
    event_id: Uuid,
    hash: Vec<u8>,
}

/// Verifies the chain of the store at `pool`.
pub async fn verify(pool: &PgPool) -> Result<Verification, ChainError> {
    verify_in_pages(pool, PAGE).await
}

/// [`verify`], reading `page` links at a time.
pub async fn verify_in_pages(pool: &PgPool, page: i64) -> Result<Verification, ChainError> {
    let mut walked = Head::default();
    loop {
        let links = load_links(pool, walked.seq, page.max(1)).await?;
        if links.is_empty() {
            break;
        }
        let positions: Vec<i64> = links.iter().map(|link| link.cursor.position).collect();
        let events: HashMap<i64, StoredEvent> = store::read_at_positions(pool, &positions)
            .await?
            .into_iter()
            .map(|event| (event.cursor.position, event))
            .collect();
        for link in links {
            let event = events.get(&link.cursor.position);
            match check(&walked, &link, event) {
                Ok(hash) => {
                    walked = Head {
                        seq: link.seq,
                        hash,
                        cursor: link.cursor,
                    }
                }
                Err(broken) => return Ok(Verification::Broken(broken)),
            }
        }
    }
    let behind = count_through(pool, walked.cursor).await?;
    if behind > walked.seq {
        let (head_seq, count) = (walked.seq, behind - walked.seq);
        return Ok(Verification::Broken(Broken::Inserted { head_seq, count }));
    }
    let unsealed = store::count_committed_after(pool, walked.cursor).await?;
    Ok(Verification::Intact {
        sealed: walked.seq,
        unsealed,
    })
}

/// The hash of `link` if it follows `walked` and matches its event.
fn check(walked: &Head, link: &Link, event: Option<&StoredEvent>) -> Result<[u8; 32], Broken> {
    if link.seq != walked.seq + 1 {
        return Err(Broken::ChainGap {
            after_seq: walked.seq,
        });
    }
    let Some(event) = event.filter(|event| event.event_id == link.event_id) else {
        return Err(Broken::Missing {
            chain_seq: link.seq,
            global_position: link.cursor.position,
            event_id: link.event_id,
        });
    };
    let hash = event_hash(&walked.hash, event);
    if link.hash != hash {
        return Err(Broken::Altered {
            chain_seq: link.seq,
            global_position: link.cursor.position,
            event_id: event.event_id,
            aggregate_type: event.aggregate_type.clone(),
            aggregate_id: event.aggregate_id.clone(),
            sequence: event.sequence,
        });
    }
    Ok(hash)
}

async fn load_links(pool: &PgPool, after_seq: i64, page: i64) -> Result<Vec<Link>, ChainError> {
    let rows = sqlx::query(
        "SELECT chain_seq, global_position, tx_id::text::bigint AS tx_id, event_id, hash \
         FROM event_chain WHERE chain_seq > $1 ORDER BY chain_seq LIMIT $2",
    )
    .bind(after_seq)
    .bind(page)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Link {
                seq: row.try_get("chain_seq")?,
                cursor: Cursor {
                    tx_id: row.try_get("tx_id")?,
                    position: row.try_get("global_position")?,
                },
                event_id: row.try_get("event_id")?,
                hash: row.try_get("hash")?,
            })
        })
        .collect()
}

/// How many events are at or before `head` in commit order: all of them were sealed.
async fn count_through(pool: &PgPool, head: Cursor) -> Result<i64, ChainError> {
    let count = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE (tx_id, global_position) <= ($1::text::xid8, $2)",
    )
    .bind(head.tx_id.to_string())
    .bind(head.position)
    .fetch_one(pool)
    .await?;
    Ok(count)
}
