//! The run's isolated resources on the shared servers: one PostgreSQL database per
//! service that has one, a RabbitMQ vhost, a JetStream stream and subject prefix, a
//! MongoDB database and a Redis key prefix, all named after the run id. Created before
//! the services start, removed after they stopped (after a failure too).

use tokio::process::Command;

use super::{E2eError, E2eOptions};

/// The services with a PostgreSQL database of their own, by the prefix of their
/// `<PREFIX>_DATABASE_URL` variable.
pub const DATABASES: [&str; 7] = [
    "inventory",
    "order",
    "user",
    "notification",
    "payment",
    "saga",
    "analytics",
];

/// The names of everything one run creates.
#[derive(Debug, Clone)]
pub struct Resources {
    pub run_id: String,
    postgres_base: String,
    amqp_base: String,
    pub nats_url: String,
    pub mongodb_url: String,
    pub redis_url: String,
    /// Databases created so far (dropped at the end).
    created: Vec<String>,
    vhost_created: bool,
}

impl Resources {
    /// Creates the databases and the vhost; the stream, MongoDB database and Redis keys
    /// are created by the services themselves and only removed here.
    pub async fn create(options: &E2eOptions, run_id: &str) -> Result<Self, E2eError> {
        let mut resources = Self {
            run_id: run_id.to_string(),
            postgres_base: options.postgres_url.trim_end_matches('/').to_string(),
            amqp_base: options.amqp_url.trim_end_matches('/').to_string(),
            nats_url: options.nats_url.clone(),
            mongodb_url: options.mongodb_url.clone(),
            redis_url: options.redis_url.clone(),
            created: Vec::new(),
            vhost_created: false,
        };
        if let Err(err) = resources.create_all().await {
            resources.remove().await;
            return Err(err);
        }
        Ok(resources)
    }

    async fn create_all(&mut self) -> Result<(), E2eError> {
        let admin = self.admin().await?;
        for service in DATABASES {
            let name = self.database(service);
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .map_err(|source| E2eError::postgres(format!("create {name}"), source))?;
            self.created.push(name);
        }
        admin.close().await;
        rabbitmqctl(&["add_vhost", &self.vhost()]).await?;
        self.vhost_created = true;
        rabbitmqctl(&[
            "set_permissions",
            "-p",
            &self.vhost(),
            "guest",
            ".*",
            ".*",
            ".*",
        ])
        .await
    }

    async fn admin(&self) -> Result<sqlx::PgPool, E2eError> {
        sqlx::PgPool::connect(&format!("{}/postgres", self.postgres_base))
            .await
            .map_err(|source| E2eError::postgres("connect as the superuser", source))
    }

    /// `e2e_bench_<service>_<run id>`.
    pub fn database(&self, service: &str) -> String {
        format!("e2e_bench_{service}_{}", self.run_id)
    }

    pub fn database_url(&self, service: &str) -> String {
        format!("{}/{}", self.postgres_base, self.database(service))
    }

    pub fn vhost(&self) -> String {
        format!("e2e_bench_{}", self.run_id)
    }

    pub fn amqp_url(&self) -> String {
        format!("{}/{}", self.amqp_base, self.vhost())
    }

    pub fn nats_stream(&self) -> String {
        format!("E2E_BENCH_{}", self.run_id.to_uppercase())
    }

    pub fn nats_subject_prefix(&self) -> String {
        format!("e2ebench{}", self.run_id)
    }

    pub fn mongodb_database(&self) -> String {
        format!("e2e_bench_{}", self.run_id)
    }

    pub fn redis_key_prefix(&self) -> String {
        format!("e2e_bench:{}:", self.run_id)
    }

    /// Removes everything, best effort: a failure is logged and the rest still removed.
    pub async fn remove(&self) {
        if let Err(err) = self.drop_databases().await {
            tracing::warn!(error = %err, "dropping the run's databases failed");
        }
        if self.vhost_created {
            if let Err(err) = rabbitmqctl(&["delete_vhost", &self.vhost()]).await {
                tracing::warn!(error = %err, "deleting the vhost failed");
            }
        }
        if let Err(err) = self.delete_stream().await {
            tracing::warn!(error = %err, "deleting the JetStream stream failed");
        }
        if let Err(err) = self.drop_mongodb().await {
            tracing::warn!(error = %err, "dropping the MongoDB database failed");
        }
        if let Err(err) = self.delete_redis_keys().await {
            tracing::warn!(error = %err, "deleting the Redis keys failed");
        }
    }

    async fn drop_databases(&self) -> Result<(), E2eError> {
        if self.created.is_empty() {
            return Ok(());
        }
        let admin = self.admin().await?;
        for name in &self.created {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&admin)
                .await
                .map_err(|source| E2eError::postgres(format!("drop {name}"), source))?;
        }
        admin.close().await;
        Ok(())
    }

    async fn delete_stream(&self) -> Result<(), E2eError> {
        let nats = |err: String| E2eError::Nats(err);
        let client = async_nats::connect(&self.nats_url)
            .await
            .map_err(|e| nats(e.to_string()))?;
        let jetstream = async_nats::jetstream::new(client);
        match jetstream.delete_stream(self.nats_stream()).await {
            Ok(_) => Ok(()),
            // Never created: the services did not get that far.
            Err(err) if err.to_string().contains("not found") => Ok(()),
            Err(err) => Err(nats(err.to_string())),
        }
    }

    async fn drop_mongodb(&self) -> Result<(), E2eError> {
        let client = mongodb::Client::with_uri_str(&self.mongodb_url).await?;
        client.database(&self.mongodb_database()).drop().await?;
        Ok(())
    }

    async fn delete_redis_keys(&self) -> Result<(), E2eError> {
        let client = redis::Client::open(self.redis_url.as_str())?;
        let mut redis = client.get_multiplexed_async_connection().await?;
        let pattern = format!("{}*", self.redis_key_prefix());
        let mut cursor = 0_u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut redis)
                .await?;
            if !keys.is_empty() {
                redis::cmd("DEL")
                    .arg(&keys)
                    .query_async::<()>(&mut redis)
                    .await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

async fn rabbitmqctl(args: &[&str]) -> Result<(), E2eError> {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .await
        .map_err(|source| E2eError::io("run rabbitmqctl", source))?;
    if output.status.success() {
        return Ok(());
    }
    Err(E2eError::RabbitMq(format!(
        "rabbitmqctl {}: {}",
        args.first().copied().unwrap_or_default(),
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}
