//! Isolated resources on the real servers: PostgreSQL databases, RabbitMQ vhosts,
//! MongoDB databases. Each test creates its own and removes them at the end.
//!
//! [`Servers`] says which RabbitMQ, NATS and Redis a stack uses: the shared ones on
//! loopback by default, or private ones (see [`crate::private`]) that a fault test may
//! restart or flush without disturbing the tests running beside it.

use tokio::process::Command;

/// A superuser connection, to create and drop the test databases.
pub const ADMIN_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const MONGODB_URL: &str = "mongodb://127.0.0.1:27017";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The broker, NATS and Redis a [`crate::TestStack`] runs against.
#[derive(Debug, Clone)]
pub struct Servers {
    /// The AMQP port on loopback.
    pub amqp_port: u16,
    /// The RabbitMQ node `rabbitmqctl -n` talks to; `None` for the default node.
    pub rabbitmq_node: Option<String>,
    pub nats_url: String,
    pub redis_url: String,
}

impl Default for Servers {
    /// The shared servers on loopback.
    fn default() -> Self {
        Self {
            amqp_port: 5672,
            rabbitmq_node: None,
            nats_url: crate::payments::NATS_URL.into(),
            redis_url: REDIS_URL.into(),
        }
    }
}

impl Servers {
    /// `rabbitmqctl` on this stack's node.
    pub async fn rabbitmqctl(&self, args: &[&str]) -> anyhow::Result<()> {
        self.rabbitmqctl_output(args).await.map(drop)
    }

    /// `rabbitmqctl` on this stack's node; what it printed.
    pub async fn rabbitmqctl_output(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut full: Vec<&str> = Vec::new();
        if let Some(node) = &self.rabbitmq_node {
            full.extend(["-n", node.as_str()]);
        }
        full.extend_from_slice(args);
        rabbitmqctl(&full).await
    }

    /// The bindings from `exchange` to queues in `vhost`, as `(queue, routing key)`:
    /// the services' named queues, not the server-named (`amq.*`) private ones.
    pub async fn queue_bindings(
        &self,
        vhost: &str,
        exchange: &str,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let listed = self
            .rabbitmqctl_output(&[
                "list_bindings",
                "-p",
                vhost,
                "-q",
                "--no-table-headers",
                "source_name",
                "destination_kind",
                "destination_name",
                "routing_key",
            ])
            .await?;
        Ok(listed
            .lines()
            .filter_map(|line| match line.split('\t').collect::<Vec<_>>()[..] {
                [source, "queue", queue, key]
                    if source == exchange && !queue.starts_with("amq.") =>
                {
                    Some((queue.to_string(), key.to_string()))
                }
                _ => None,
            })
            .collect())
    }

    /// Creates a vhost that guest may use; returns the AMQP URL of it.
    pub async fn create_vhost(&self, name: &str) -> anyhow::Result<String> {
        self.rabbitmqctl(&["add_vhost", name]).await?;
        self.rabbitmqctl(&["set_permissions", "-p", name, "guest", ".*", ".*", ".*"])
            .await?;
        Ok(format!(
            "amqp://guest:guest@127.0.0.1:{}/{name}",
            self.amqp_port
        ))
    }

    pub async fn delete_vhost(&self, name: &str) -> anyhow::Result<()> {
        self.rabbitmqctl(&["delete_vhost", name]).await
    }
}

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

async fn rabbitmqctl(args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("rabbitmqctl").args(args).output().await?;
    anyhow::ensure!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

pub async fn drop_mongodb_database(name: &str) -> anyhow::Result<()> {
    let client = mongodb::Client::with_uri_str(MONGODB_URL).await?;
    client.database(name).drop().await?;
    Ok(())
}
