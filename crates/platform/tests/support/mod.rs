//! A throwaway PostgreSQL database with the event store schema, per test.

use sqlx::PgPool;
use uuid::Uuid;

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/inventory");

/// A fresh database with the event store schema, dropped by the caller at the end.
pub async fn fresh_store() -> anyhow::Result<(PgPool, String)> {
    let name = format!("platform_test_{}", Uuid::new_v4().simple());
    let admin = PgPool::connect(ADMIN_URL).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(40)
        .connect(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok((pool, name))
}

pub async fn drop_store(pool: PgPool, name: &str) -> anyhow::Result<()> {
    pool.close().await;
    let admin = PgPool::connect(ADMIN_URL).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    Ok(())
}
