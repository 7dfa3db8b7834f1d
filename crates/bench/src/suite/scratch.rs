//! Everything a run creates on the servers, so all of it is removed at the end: after
//! each measurement as it finishes, and whatever is left (after an error or Ctrl-C) by
//! [`Scratch::cleanup`]. Names carry the run's id, so concurrent runs never meet.
//!
//! PostgreSQL databases go through the administrator's URL; RabbitMQ vhosts through
//! `rabbitmqctl` (the broker's HTTP API is not assumed), like the end-to-end tests;
//! MongoDB databases through the driver.

use std::sync::Mutex;

use sqlx::PgPool;
use tokio::process::Command;

use super::SuiteError;
use crate::pg::Admin;

#[derive(Debug)]
pub struct Scratch {
    pub admin: Admin,
    run_id: String,
    amqp_url: String,
    mongodb_url: String,
    databases: Mutex<Vec<String>>,
    vhosts: Mutex<Vec<String>>,
    mongo: Mutex<Vec<String>>,
}

impl Scratch {
    pub fn new(postgres_url: &str, amqp_url: &str, mongodb_url: &str) -> Result<Self, SuiteError> {
        Ok(Self {
            admin: Admin::new(postgres_url)?,
            run_id: uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
            amqp_url: amqp_url.to_string(),
            mongodb_url: mongodb_url.to_string(),
            databases: Mutex::default(),
            vhosts: Mutex::default(),
            mongo: Mutex::default(),
        })
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// `bench_<what>_<run id>`: letters, digits and `_` when `what` is.
    pub fn name(&self, what: &str) -> String {
        format!("bench_{what}_{}", self.run_id)
    }

    /// A fresh PostgreSQL database, with a pool of up to `connections`.
    pub async fn database(
        &self,
        what: &str,
        connections: u32,
    ) -> Result<(PgPool, String), SuiteError> {
        let name = self.name(what);
        remember(&self.databases, &name);
        let pool = self.admin.create_with(&name, connections).await?;
        Ok((pool, name))
    }

    pub async fn drop_database(&self, pool: PgPool, name: &str) -> Result<(), SuiteError> {
        self.admin.drop(pool, name).await?;
        forget(&self.databases, name);
        Ok(())
    }

    /// A fresh vhost the URL's user may use; returns its AMQP URL and name.
    pub async fn vhost(&self, what: &str) -> Result<(String, String), SuiteError> {
        let name = self.name(what);
        let user = amqp_user(&self.amqp_url).unwrap_or("guest");
        remember(&self.vhosts, &name);
        rabbitmqctl(&["add_vhost", &name]).await?;
        rabbitmqctl(&["set_permissions", "-p", &name, user, ".*", ".*", ".*"]).await?;
        Ok((vhost_url(&self.amqp_url, &name), name))
    }

    pub async fn drop_vhost(&self, name: &str) -> Result<(), SuiteError> {
        rabbitmqctl(&["delete_vhost", name]).await?;
        forget(&self.vhosts, name);
        Ok(())
    }

    /// The name of a MongoDB database for `what`, dropped by [`Scratch::cleanup`] unless
    /// [`Scratch::drop_mongo`] did first.
    pub fn mongo_database(&self, what: &str) -> String {
        let name = self.name(what);
        remember(&self.mongo, &name);
        name
    }

    pub async fn drop_mongo(&self, client: &mongodb::Client, name: &str) -> Result<(), SuiteError> {
        client.database(name).drop().await?;
        forget(&self.mongo, name);
        Ok(())
    }

    /// Removes whatever is left; failures are logged so every resource gets its turn.
    pub async fn cleanup(&self) {
        for name in taken(&self.databases) {
            if let Err(err) = self.admin.drop_database(&name).await {
                tracing::warn!(database = %name, error = %err, "cannot drop database");
            }
        }
        for name in taken(&self.vhosts) {
            if let Err(err) = rabbitmqctl(&["delete_vhost", &name]).await {
                tracing::warn!(vhost = %name, error = %err, "cannot delete vhost");
            }
        }
        let left = taken(&self.mongo);
        if left.is_empty() {
            return;
        }
        match mongodb::Client::with_uri_str(&self.mongodb_url).await {
            Ok(client) => {
                for name in left {
                    if let Err(err) = client.database(&name).drop().await {
                        tracing::warn!(database = %name, error = %err, "cannot drop MongoDB database");
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot reach MongoDB to clean up"),
        }
    }
}

fn remember(list: &Mutex<Vec<String>>, name: &str) {
    if let Ok(mut list) = list.lock() {
        list.push(name.to_string());
    }
}

fn forget(list: &Mutex<Vec<String>>, name: &str) {
    if let Ok(mut list) = list.lock() {
        list.retain(|n| n != name);
    }
}

fn taken(list: &Mutex<Vec<String>>) -> Vec<String> {
    list.lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default()
}

async fn rabbitmqctl(args: &[&str]) -> Result<(), SuiteError> {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .await
        .map_err(|err| SuiteError::Rabbitmqctl(format!("cannot run rabbitmqctl: {err}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(SuiteError::Rabbitmqctl(format!(
            "rabbitmqctl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// The user of `amqp://user:secret@host:port`.
pub fn amqp_user(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let (userinfo, _) = rest.rsplit_once('@')?;
    Some(userinfo.split(':').next().unwrap_or(userinfo)).filter(|u| !u.is_empty())
}

/// `url` (whatever vhost it names) pointed at `vhost`.
pub fn vhost_url(url: &str, vhost: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("amqp", url));
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{authority}/{vhost}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vhost_replaces_any_in_the_url() {
        assert_eq!(
            vhost_url("amqp://guest:guest@127.0.0.1:5672", "v1"),
            "amqp://guest:guest@127.0.0.1:5672/v1"
        );
        assert_eq!(
            vhost_url("amqp://h:5672/%2f?heartbeat=5", "v"),
            "amqp://h:5672/v"
        );
        assert_eq!(
            amqp_user("amqp://guest:guest@127.0.0.1:5672"),
            Some("guest")
        );
        assert_eq!(amqp_user("amqp://bob@h"), Some("bob"));
        assert_eq!(amqp_user("amqp://h:5672"), None);
    }
}
