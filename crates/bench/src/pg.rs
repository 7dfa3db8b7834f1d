//! Throwaway PostgreSQL databases, created and dropped through an administrator's URL.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// The server, as its administrator reaches it.
#[derive(Debug, Clone)]
pub struct Admin {
    options: PgConnectOptions,
}

impl Admin {
    /// `url` names a role that may create databases, and a database to connect to.
    pub fn new(url: &str) -> Result<Self, sqlx::Error> {
        Ok(Self {
            options: PgConnectOptions::from_str(url)?,
        })
    }

    /// Creates the database `name` (letters, digits and `_` only) and connects to it.
    pub async fn create(&self, name: &str) -> Result<PgPool, sqlx::Error> {
        self.create_with(name, 8).await
    }

    /// [`Admin::create`] with a pool of up to `connections` connections.
    pub async fn create_with(&self, name: &str, connections: u32) -> Result<PgPool, sqlx::Error> {
        self.execute(&format!("CREATE DATABASE {name}")).await?;
        let connected = PgPoolOptions::new()
            .max_connections(connections)
            .connect_with(self.connect_options(name))
            .await;
        if connected.is_err() {
            // Nothing else knows of it yet: do not leave it behind.
            let _ = self.drop_database(name).await;
        }
        connected
    }

    /// How to connect to the database `name` on this server.
    pub fn connect_options(&self, name: &str) -> PgConnectOptions {
        self.options.clone().database(name)
    }

    /// Closes `pool` and drops its database, whoever is still connected.
    pub async fn drop(&self, pool: PgPool, name: &str) -> Result<(), sqlx::Error> {
        pool.close().await;
        self.drop_database(name).await
    }

    /// Drops the database `name` if it exists, whoever is still connected.
    pub async fn drop_database(&self, name: &str) -> Result<(), sqlx::Error> {
        self.execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
    }

    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.options.clone())
            .await?;
        let done = sqlx::query(sql).execute(&admin).await.map(|_| ());
        admin.close().await;
        done
    }
}
