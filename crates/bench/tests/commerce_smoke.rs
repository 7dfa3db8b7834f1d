//! A tiny `commerce-bench` run against the real local servers (PostgreSQL, RabbitMQ
//! with `rabbitmqctl`, Redis, MongoDB): every section but the replay (which
//! `replay-bench` covers) with a fraction of a second per cell, checking that each
//! produced figures and that nothing it created is left behind.

use bench::suite::{self, Options};
use clap::Parser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_section_measures_and_cleans_up() {
    let options = Options::parse_from([
        "commerce-bench",
        "--seconds",
        "0.2",
        "--writers",
        "2",
        "--relay-events",
        "300",
        "--relay-batch",
        "100",
        "--only",
        "ceilings,append,relay",
    ]);
    let report = suite::run(&options).await.expect("the bench runs");

    let ceilings = report.ceilings.as_ref().expect("ceilings ran");
    let postgres = ceilings.postgres_at(2).expect("a ceiling at 2 writers");
    assert!(postgres.operations > 0);
    assert!(ceilings.rabbit_one_by_one.operations > 0);
    assert!(ceilings.rabbit_pipelined.operations >= 100);
    assert!(ceilings.redis.operations > 0 && ceilings.mongo.operations > 0);

    let append = report.append.as_ref().expect("append ran");
    assert_eq!(append.rows.len(), 3, "ours and two peers");
    assert!(append
        .rows
        .iter()
        .all(|row| row.writers == 2 && row.cell.operations > 0));
    assert!(append.ceiling_at(2).is_some_and(|c| c.operations > 0));

    let relay = report.relay.as_ref().expect("relay ran");
    assert_eq!(relay.events, 300);
    assert!(relay.queued >= 300, "every event confirmed is in the queue");

    let printed = report.to_string();
    for title in ["### Ceilings", "### Event append", "### Relay"] {
        assert!(printed.contains(title), "{title} missing from\n{printed}");
    }

    let admin = sqlx::PgPool::connect(&options.postgres_url)
        .await
        .expect("admin");
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_ceiling%' \
         OR datname LIKE 'bench\\_append%' OR datname LIKE 'bench\\_relay%'",
    )
    .fetch_all(&admin)
    .await
    .expect("list databases");
    // Other runs may be under way: only this run's names (its id) matter.
    let ours: Vec<&String> = left
        .iter()
        .filter(|name| name.ends_with(&report.run_id))
        .collect();
    assert!(ours.is_empty(), "left behind: {ours:?}");
}
