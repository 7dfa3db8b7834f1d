//! Group commit and the aggregate cache against a real PostgreSQL: concurrent
//! commands share a statement, one command's conflict never fails another, and an
//! aggregate cached by one replica and changed by another is decided again on fresh
//! state — never written over, never wrongly refused.

mod support;

use std::collections::HashMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, AggregateError, DomainEvent};
use platform::aggregates::Aggregates;
use platform::append::Appender;
use platform::store::{AggregateAppend, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use support::{drop_store, fresh_store};

fn row(aggregate_id: &str, sequence: usize) -> SerializedEvent {
    SerializedEvent::new(
        aggregate_id.into(),
        sequence,
        "Test".into(),
        "Happened".into(),
        "1".into(),
        json!({"Happened": {}}),
        json!({}),
    )
}

async fn rows_and_transactions(pool: &PgPool) -> anyhow::Result<(i64, i64)> {
    Ok(
        sqlx::query_as("SELECT count(*), count(DISTINCT tx_id) FROM events")
            .fetch_one(pool)
            .await?,
    )
}

#[tokio::test]
async fn concurrent_commands_are_committed_together_in_one_transaction() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let appender = Appender::new(pool.clone(), 1);
    // The test's runtime has one thread: every append is queued before a flush runs.
    let appends = (0..20).map(|i| appender.append(vec![row(&format!("a{i}"), 1)]));
    for result in futures::future::join_all(appends).await {
        result?;
    }
    assert_eq!(rows_and_transactions(&pool).await?, (20, 1));
    drop_store(pool, &name).await
}

#[tokio::test]
async fn a_conflicting_command_fails_alone_and_its_batch_still_commits() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let appender = Appender::new(pool.clone(), 1);
    appender.append(vec![row("taken", 1)]).await?;

    let batch = vec![
        vec![row("a", 1)],
        vec![row("b", 1), row("taken", 1)],
        vec![row("c", 1), row("c", 2)],
    ];
    let results =
        futures::future::join_all(batch.into_iter().map(|rows| appender.append(rows))).await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(StoreError::Conflict)),
        "{results:?}"
    );
    let (rows, _) = rows_and_transactions(&pool).await?;
    assert_eq!(
        rows, 4,
        "taken, a, c1, c2: nothing of the conflicting command"
    );
    drop_store(pool, &name).await
}

#[tokio::test]
async fn the_events_of_several_aggregates_are_appended_all_or_none() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let appender = Appender::new(pool.clone(), 2);
    let append = |id: &str| AggregateAppend {
        aggregate_type: "Test".into(),
        aggregate_id: id.into(),
        events: vec![row(id, 1)],
    };
    appender.append_all(&[append("x"), append("y")]).await?;
    let conflicting = appender.append_all(&[append("z"), append("y")]).await;
    assert!(matches!(conflicting, Err(StoreError::Conflict)));
    assert_eq!(rows_and_transactions(&pool).await?.0, 2);
    drop_store(pool, &name).await
}

/// A balance that may not go below zero.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Account {
    balance: i64,
}

#[derive(Debug, Clone)]
enum Move {
    Deposit(i64),
    Withdraw(i64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Moved {
    Deposited(i64),
    Withdrawn(i64),
}

impl DomainEvent for Moved {
    fn event_type(&self) -> String {
        format!("{self:?}")
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("insufficient balance")]
struct Insufficient;

impl Aggregate for Account {
    const TYPE: &'static str = "Account";
    type Command = Move;
    type Event = Moved;
    type Error = Insufficient;
    type Services = ();

    async fn handle(
        &mut self,
        command: Move,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Insufficient> {
        let event = match command {
            Move::Deposit(amount) => Moved::Deposited(amount),
            Move::Withdraw(amount) if amount > self.balance => return Err(Insufficient),
            Move::Withdraw(amount) => Moved::Withdrawn(amount),
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Moved) {
        match event {
            Moved::Deposited(amount) => self.balance += amount,
            Moved::Withdrawn(amount) => self.balance -= amount,
        }
    }
}

/// Two replicas of a service: each with its own cache and group commit, one database.
fn replicas(pool: &PgPool) -> (Aggregates<Account>, Aggregates<Account>) {
    let replica = || Aggregates::new(pool, &Appender::new(pool.clone(), 2), ());
    (replica(), replica())
}

async fn balance(accounts: &Aggregates<Account>) -> anyhow::Result<(i64, usize)> {
    let (account, sequence) = accounts.load("acc").await?;
    Ok((account.balance, sequence))
}

#[tokio::test]
async fn a_command_on_an_aggregate_changed_by_another_replica_is_decided_again(
) -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let (a, b) = replicas(&pool);
    a.execute("acc", Move::Deposit(1), HashMap::new()).await?;
    b.execute("acc", Move::Deposit(10), HashMap::new()).await?;
    // `a` still holds the account at sequence 1 in memory: its append conflicts, and
    // the deposit is decided again on the account as stored.
    a.execute("acc", Move::Deposit(100), HashMap::new()).await?;
    assert_eq!(balance(&a).await?, (111, 3));
    drop_store(pool, &name).await
}

#[tokio::test]
async fn a_command_refused_on_cached_state_is_confirmed_on_fresh_state() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let (a, b) = replicas(&pool);
    a.execute("acc", Move::Deposit(1), HashMap::new()).await?;
    b.execute("acc", Move::Deposit(10), HashMap::new()).await?;
    // Cached, the account holds 1; stored, 11: the withdrawal is allowed.
    a.execute("acc", Move::Withdraw(5), HashMap::new()).await?;
    assert_eq!(balance(&b).await?, (6, 3));
    // And a refusal that holds on fresh state is still a refusal.
    let refused = a.execute("acc", Move::Withdraw(7), HashMap::new()).await;
    assert!(matches!(
        refused,
        Err(AggregateError::UserError(Insufficient))
    ));
    drop_store(pool, &name).await
}
