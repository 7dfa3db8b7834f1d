//! The event chain against a real PostgreSQL: sealing in commit order (late commits
//! included), idempotent re-sealing, replicas, and verification naming the first
//! altered, missing or inserted event.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use cqrs_es::persist::SerializedEvent;
use platform::chain::{verify, verify_in_pages, Broken, Sealer, Verification};
use platform::store::{append_atomically, AggregateAppend};
use rand::Rng;
use serde_json::json;
use sqlx::{PgPool, Row};
use support::{drop_store, fresh_store};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Appends `count` events to `aggregate` from `first_sequence` on, in one transaction.
async fn append(
    pool: &PgPool,
    aggregate: &str,
    first_sequence: usize,
    count: usize,
) -> anyhow::Result<()> {
    let events = (first_sequence..first_sequence + count)
        .map(|sequence| {
            SerializedEvent::new(
                aggregate.into(),
                sequence,
                "Test".into(),
                "Happened".into(),
                "1".into(),
                json!({"Happened": {"n": sequence, "note": "é\"x"}}),
                json!(HashMap::from([("command_id", format!("c-{sequence}"))])),
            )
        })
        .collect();
    let append = AggregateAppend {
        aggregate_type: "Test".into(),
        aggregate_id: aggregate.into(),
        events,
    };
    Ok(append_atomically(pool, &[append]).await?)
}

/// The committed events as `(event_id, global_position)`, in commit-safe order.
async fn commit_order(pool: &PgPool) -> anyhow::Result<Vec<(Uuid, i64)>> {
    let rows =
        sqlx::query("SELECT event_id, global_position FROM events ORDER BY tx_id, global_position")
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("event_id")?, row.try_get("global_position")?)))
        .collect()
}

/// The sealed event ids in chain order.
async fn chain_order(pool: &PgPool) -> anyhow::Result<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT event_id FROM event_chain ORDER BY chain_seq")
            .fetch_all(pool)
            .await?,
    )
}

/// Seals until `total` links exist. Polls, because a transaction open anywhere in the
/// cluster (another test's) holds the commit horizon back for a while.
async fn seal_all(sealer: &Sealer, pool: &PgPool, total: usize) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while chain_order(pool).await?.len() < total {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "sealing stalled");
        if sealer.seal_next_batch().await? == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// A store with five events in three transactions, all sealed; returns the commit order.
async fn sealed_store(pool: &PgPool) -> anyhow::Result<Vec<(Uuid, i64)>> {
    append(pool, "a", 1, 2).await?;
    append(pool, "b", 1, 1).await?;
    append(pool, "a", 3, 2).await?;
    seal_all(&Sealer::new(pool.clone(), "test", 2), pool, 5).await?;
    commit_order(pool).await
}

#[tokio::test]
async fn sealed_events_verify_as_intact_and_sealing_again_adds_nothing() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    assert_eq!(
        verify(&pool).await?,
        Verification::Intact {
            sealed: 0,
            unsealed: 0
        }
    );
    let order = sealed_store(&pool).await?;
    let ids: Vec<Uuid> = order.iter().map(|(id, _)| *id).collect();
    assert_eq!(chain_order(&pool).await?, ids, "sealed in commit order");
    let sealer = Sealer::new(pool.clone(), "test", 100);
    assert_eq!(
        sealer.seal_next_batch().await?,
        0,
        "nothing is sealed twice"
    );
    let intact = Verification::Intact {
        sealed: 5,
        unsealed: 0,
    };
    assert_eq!(verify(&pool).await?, intact);
    assert_eq!(
        verify_in_pages(&pool, 2).await?,
        intact,
        "pages of two links"
    );

    append(&pool, "c", 1, 1).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while verify(&pool).await?
        != (Verification::Intact {
            sealed: 5,
            unsealed: 1,
        })
    {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "new event never counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop_store(pool, &name).await
}

#[tokio::test]
async fn an_altered_payload_is_named_as_the_first_broken_link() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let order = sealed_store(&pool).await?;
    for (_, position) in [order[2], order[4]] {
        sqlx::query("UPDATE events SET payload = '{\"Happened\": {\"n\": 1000}}' WHERE global_position = $1")
            .bind(position)
            .execute(&pool)
            .await?;
    }
    let Verification::Broken(Broken::Altered {
        chain_seq,
        global_position,
        event_id,
        aggregate_id,
        ..
    }) = verify_in_pages(&pool, 2).await?
    else {
        panic!("the alteration was not reported");
    };
    assert_eq!(
        (chain_seq, global_position, event_id),
        (3, order[2].1, order[2].0)
    );
    assert_eq!(aggregate_id, "b", "the third event is b's first");
    drop_store(pool, &name).await
}

#[tokio::test]
async fn metadata_and_timestamps_are_sealed_too() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let order = sealed_store(&pool).await?;
    // Each alteration is earlier in the chain than the last, so it becomes the first.
    let alterations = [
        ("metadata", "'{\"command_id\": \"forged\"}'", 3, 4),
        (
            "recorded_at",
            "recorded_at + interval '1 microsecond'",
            1,
            2,
        ),
    ];
    for (column, value, index, seq) in alterations {
        sqlx::query(&format!(
            "UPDATE events SET {column} = {value} WHERE global_position = $1"
        ))
        .bind(order[index].1)
        .execute(&pool)
        .await?;
        let result = verify(&pool).await?;
        assert!(
            matches!(result, Verification::Broken(Broken::Altered { chain_seq, .. }) if chain_seq == seq),
            "{column}: {result:?}"
        );
    }
    drop_store(pool, &name).await
}

#[tokio::test]
async fn a_deleted_event_is_named_as_missing() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let order = sealed_store(&pool).await?;
    sqlx::query("DELETE FROM events WHERE global_position = $1")
        .bind(order[1].1)
        .execute(&pool)
        .await?;
    let expected = Broken::Missing {
        chain_seq: 2,
        global_position: order[1].1,
        event_id: order[1].0,
    };
    assert_eq!(verify(&pool).await?, Verification::Broken(expected));
    drop_store(pool, &name).await
}

#[tokio::test]
async fn a_deleted_chain_link_is_reported_as_a_gap() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    sealed_store(&pool).await?;
    sqlx::query("DELETE FROM event_chain WHERE chain_seq = 4")
        .execute(&pool)
        .await?;
    assert_eq!(
        verify(&pool).await?,
        Verification::Broken(Broken::ChainGap { after_seq: 3 })
    );
    drop_store(pool, &name).await
}

#[tokio::test]
async fn an_event_slipped_in_behind_the_head_is_reported() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    sealed_store(&pool).await?;
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, tx_id) VALUES ('Test', 'forged', 1, 'Happened', '1', '{}', '{}', '3')",
    )
    .execute(&pool)
    .await?;
    let expected = Broken::Inserted {
        head_seq: 5,
        count: 1,
    };
    assert_eq!(verify(&pool).await?, Verification::Broken(expected));
    drop_store(pool, &name).await
}

async fn insert_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    aggregate: &str,
    sequence: i64,
) -> anyhow::Result<Uuid> {
    let row = sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata) VALUES ('Test', $1, $2, 'Happened', '1', '{\"Happened\": {}}', '{}') \
         RETURNING event_id",
    )
    .bind(aggregate)
    .bind(sequence)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("event_id")?)
}

#[tokio::test]
async fn events_committed_late_are_sealed_once_committed_in_commit_order() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let sealer = Sealer::new(pool.clone(), "test", 100);
    // `early` takes its transaction id first but inserts after `held`: the lower
    // transaction id with the higher position.
    let mut early = pool.begin().await?;
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *early)
        .await?;
    let mut held = pool.begin().await?;
    let held_id = insert_in(&mut held, "held", 1).await?;
    let early_id = insert_in(&mut early, "early", 1).await?;
    append(&pool, "later", 1, 2).await?;
    assert_eq!(
        sealer.seal_next_batch().await?,
        0,
        "nothing passes open transactions"
    );
    held.commit().await?;
    assert_eq!(
        sealer.seal_next_batch().await?,
        0,
        "nothing passes `early`, still open"
    );
    early.commit().await?;
    seal_all(&sealer, &pool, 4).await?;

    let chain = chain_order(&pool).await?;
    assert_eq!(
        chain[..2],
        [early_id, held_id],
        "commit-safe order, not position order"
    );
    let committed: Vec<Uuid> = commit_order(&pool)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(chain, committed, "every committed event, once");
    assert_eq!(
        verify(&pool).await?,
        Verification::Intact {
            sealed: 4,
            unsealed: 0
        }
    );
    drop_store(pool, &name).await
}

/// One writer: transactions of 1-3 events, some held open a while, some rolled back.
/// Returns how many events it committed.
async fn writer(pool: PgPool, writer: usize, transactions: usize) -> anyhow::Result<i64> {
    let aggregate = format!("writer-{writer}");
    let (mut sequence, mut committed) = (0, 0);
    for _ in 0..transactions {
        let (events, hold_ms, abort) = {
            let mut rng = rand::rng();
            (
                rng.random_range(1..=3),
                rng.random_range(0..30u64),
                rng.random_bool(0.1),
            )
        };
        let mut tx = pool.begin().await?;
        for offset in 1..=events {
            insert_in(&mut tx, &aggregate, sequence + offset).await?;
        }
        tokio::time::sleep(Duration::from_millis(hold_ms)).await;
        if abort {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
            (sequence, committed) = (sequence + events, committed + events);
        }
    }
    Ok(committed)
}

#[tokio::test]
async fn two_running_sealers_seal_every_event_of_concurrent_writers_once() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let stop = CancellationToken::new();
    let sealers: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(Sealer::new(pool.clone(), "test", 7).run(stop.clone().cancelled_owned()))
        })
        .collect();
    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(writer(pool.clone(), w, 15)))
        .collect();
    let mut committed = 0;
    for handle in writers {
        committed += handle.await??;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let intact = Verification::Intact {
        sealed: committed,
        unsealed: 0,
    };
    while verify(&pool).await? != intact {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "not all sealed: {:?}",
            verify(&pool).await?
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    for handle in sealers {
        handle.await?;
    }
    let committed_ids: Vec<Uuid> = commit_order(&pool)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(chain_order(&pool).await?, committed_ids);
    drop_store(pool, &name).await
}
