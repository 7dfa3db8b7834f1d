//! The store adapter against a real PostgreSQL: atomic multi-aggregate appends,
//! optimistic concurrency, the command record in event metadata, and the inbox.

mod support;

use std::collections::HashMap;

use cqrs_es::persist::SerializedEvent;
use platform::store::{append_atomically, command_events, AggregateAppend, StoreError};
use serde_json::json;
use support::{drop_store, fresh_store};
use uuid::Uuid;

fn append(aggregate_id: &str, sequence: usize, command_id: &str) -> AggregateAppend {
    let event = SerializedEvent::new(
        aggregate_id.into(),
        sequence,
        "Test".into(),
        "Happened".into(),
        "1".into(),
        json!({"Happened": {}}),
        json!(HashMap::from([("command_id", command_id)])),
    );
    AggregateAppend {
        aggregate_type: "Test".into(),
        aggregate_id: aggregate_id.into(),
        events: vec![event],
    }
}

async fn count(pool: &sqlx::PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?)
}

#[tokio::test]
async fn appends_to_several_aggregates_take_effect_together_or_not_at_all() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    append_atomically(&pool, &[append("a", 1, "c1"), append("b", 1, "c1")]).await?;
    assert_eq!(count(&pool).await?, 2);

    // "b" already has sequence 1: the whole append is refused, including "c".
    let conflicting = append_atomically(&pool, &[append("c", 1, "c2"), append("b", 1, "c2")]).await;
    assert!(
        matches!(conflicting, Err(StoreError::Conflict)),
        "{conflicting:?}"
    );
    assert_eq!(
        count(&pool).await?,
        2,
        "nothing of a conflicting append is kept"
    );
    drop_store(pool, &name).await
}

#[tokio::test]
async fn the_events_of_a_command_are_found_by_its_id() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    append_atomically(&pool, &[append("a", 1, "cmd-1"), append("b", 1, "cmd-1")]).await?;
    append_atomically(&pool, &[append("a", 2, "cmd-2")]).await?;
    let found = command_events(&pool, "cmd-1").await?;
    let expected = vec![
        ("a".to_string(), 1, "Happened".to_string()),
        ("b".to_string(), 1, "Happened".to_string()),
    ];
    assert_eq!(found, expected);
    assert!(command_events(&pool, "never-sent").await?.is_empty());
    drop_store(pool, &name).await
}

#[tokio::test]
async fn an_event_is_claimed_once_per_consumer() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let event_id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    assert!(platform::inbox::claim(&mut tx, "saga", event_id).await?);
    assert!(
        !platform::inbox::claim(&mut tx, "saga", event_id).await?,
        "a second claim is refused"
    );
    assert!(
        platform::inbox::claim(&mut tx, "projector", event_id).await?,
        "another consumer claims its own"
    );
    tx.commit().await?;

    // A claim rolled back with its handling leaves the event to be handled again.
    let other = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    assert!(platform::inbox::claim(&mut tx, "saga", other).await?);
    tx.rollback().await?;
    let mut tx = pool.begin().await?;
    assert!(platform::inbox::claim(&mut tx, "saga", other).await?);
    tx.commit().await?;
    drop_store(pool, &name).await
}

#[tokio::test]
async fn the_count_says_every_committed_event_and_the_highest_position_the_last_drawn(
) -> anyhow::Result<()> {
    use platform::store::{count_committed_after, highest_position, read_committed_after, Cursor};

    let (pool, name) = fresh_store().await?;
    assert_eq!(highest_position(&pool).await?, 0, "an empty store");
    for n in 0..5 {
        append_atomically(&pool, &[append(&format!("agg-{n}"), 1, "c")]).await?;
    }
    let start = Cursor::default();
    // The feed's horizon is the cluster's oldest open transaction: a test running beside
    // this one can hold it back for a moment, never forever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while count_committed_after(&pool, start).await? < 5 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(count_committed_after(&pool, start).await?, 5);
    let events = read_committed_after(&pool, start, 10).await?;
    assert_eq!(events.len(), 5);
    let drawn = events.iter().map(|e| e.cursor.position).max();
    assert_eq!(Some(highest_position(&pool).await?), drawn);
    drop_store(pool, &name).await
}

#[tokio::test]
async fn a_page_of_the_feed_is_read_in_index_order_not_sorted_from_the_whole_backlog(
) -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    // The planner walks the commit-order index only if it cannot sort the few rows of
    // a tiny table faster: make a sort unattractive, as it is on a real backlog.
    let mut db = pool.acquire().await?;
    sqlx::query("SET enable_sort = off")
        .execute(&mut *db)
        .await?;
    let explain = format!(
        "EXPLAIN (FORMAT JSON) {}",
        platform::store::read_committed_after_sql()
    );
    let plan: serde_json::Value = sqlx::query_scalar(&explain)
        .bind("0")
        .bind(0_i64)
        .bind(500_i64)
        .fetch_one(&mut *db)
        .await?;
    let plan = plan.to_string();
    assert!(plan.contains("events_commit_order"), "{plan}");
    assert!(
        !plan.contains("\"Sort\""),
        "a page sorts its backlog: {plan}"
    );
    drop(db);
    drop_store(pool, &name).await
}
