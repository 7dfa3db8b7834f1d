//! Isolated resources on the real servers: PostgreSQL databases, RabbitMQ vhosts,
//! MongoDB databases. Each test creates its own and removes them at the end.

use tokio::process::Command;

/// A superuser connection, to create and drop the test databases.
pub const ADMIN_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const MONGODB_URL: &str = "mongodb://127.0.0.1:27017";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

fn server_url(database: &str) -> String {
    format!("postgres://postgres@127.0.0.1:5432/{database}")
}

/// Creates an empty database; returns its URL.
pub async fn create_database(name: &str) -> anyhow::Result<String> {
    let admin = sqlx::PgPool::connect(ADMIN_DATABASE_URL).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(server_url(name))
}

pub async fn drop_database(name: &str) -> anyhow::Result<()> {
    let admin = sqlx::PgPool::connect(ADMIN_DATABASE_URL).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(())
}

async fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("rabbitmqctl").args(args).output().await?;
    anyhow::ensure!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Creates a vhost that guest may use; returns the AMQP URL of it.
pub async fn create_vhost(name: &str) -> anyhow::Result<String> {
    rabbitmqctl(&["add_vhost", name]).await?;
    rabbitmqctl(&["set_permissions", "-p", name, "guest", ".*", ".*", ".*"]).await?;
    Ok(format!("amqp://guest:guest@127.0.0.1:5672/{name}"))
}

pub async fn delete_vhost(name: &str) -> anyhow::Result<()> {
    rabbitmqctl(&["delete_vhost", name]).await
}

pub async fn drop_mongodb_database(name: &str) -> anyhow::Result<()> {
    let client = mongodb::Client::with_uri_str(MONGODB_URL).await?;
    client.database(name).drop().await?;
    Ok(())
}
