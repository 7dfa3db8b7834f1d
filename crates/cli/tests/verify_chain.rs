//! `commerce verify-chain` against a real PostgreSQL: a throwaway store migrated like the
//! inventory service's, sealed, then tampered with.

use std::time::Duration;

use clap::Parser;
use cli::args::Cli;
use platform::chain::Sealer;
use sqlx::PgPool;
use uuid::Uuid;

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/inventory");

async fn verify_chain(url: &str) -> Result<u8, cli::Error> {
    let cli = Cli::try_parse_from(["commerce", "verify-chain", "--database-url", url])
        .expect("valid arguments");
    cli::run(cli).await
}

/// A store with three sealed events; returns its pool, name and URL.
async fn sealed_store() -> anyhow::Result<(PgPool, String, String)> {
    let name = format!("cli_chain_test_{}", Uuid::new_v4().simple());
    let admin = PgPool::connect(ADMIN_URL).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let pool = PgPool::connect(&url).await?;
    MIGRATOR.run(&pool).await?;
    for sequence in 1..=3 {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES ('Test', 'a', $1, 'Happened', '1', \
             '{\"Happened\": {}}', '{}')",
        )
        .bind(sequence)
        .execute(&pool)
        .await?;
    }
    let sealer = Sealer::new(pool.clone(), "test", 100);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut sealed = 0;
    while sealed < 3 {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "sealing stalled");
        sealed += sealer.seal_next_batch().await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((pool, name, url))
}

#[tokio::test]
async fn verify_chain_exits_zero_when_intact_and_one_once_a_row_is_altered() -> anyhow::Result<()> {
    let (pool, name, url) = sealed_store().await?;
    assert_eq!(verify_chain(&url).await?, 0);
    sqlx::query(
        "UPDATE events SET payload = '{\"Happened\": {\"forged\": true}}' WHERE sequence = 2",
    )
    .execute(&pool)
    .await?;
    assert_eq!(verify_chain(&url).await?, 1);

    pool.close().await;
    let admin = PgPool::connect(ADMIN_URL).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    Ok(())
}

#[tokio::test]
async fn an_unreachable_store_exits_two() {
    let result = verify_chain("postgres://nobody@127.0.0.1:1/none").await;
    assert_eq!(result.err().map(|err| err.exit_code()), Some(2));
}
