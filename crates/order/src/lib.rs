//! The order service: placing, confirming and cancelling orders.
//!
//! Layout:
//! - [`domain`]: the pure order aggregate and its decisions, with given/when/then tests.
//! - [`application`]: the broker commands, their schemas, and their execution (with the
//!   customer's standing looked up before `PlaceOrder` is decided).
//! - [`customers`]: the service's own read model of customers, fed by the user
//!   service's events.
//!
//! [`build`] wires them to the platform: migrations, the command bus, the outbox relay,
//! the HTTP server and the customer feed; `main` only adds signals and logging.

pub mod application;
pub mod customers;
pub mod domain;

use std::future::Future;

use platform::http::Health;
use platform::service::{build_write_side, ServiceSettings, StartupError, WriteSide};

pub use application::Orders;
pub use customers::CustomerFeed;

/// The name of this service on the broker and in routing keys.
pub const SERVICE: &str = "order";

/// The service's settings: `ORDER_DATABASE_URL`, `HTTP_ADDR` (default port 8082), ...
pub type Settings = ServiceSettings;

/// Reads the settings from the environment, with local defaults.
pub fn settings_from_env() -> Result<Settings, platform::config::ConfigError> {
    ServiceSettings::from_env(SERVICE, 8082)
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/order");

/// The service, connected and migrated, ready to run: the write side every service
/// has, and the customer feed beside it.
pub struct Application {
    write_side: WriteSide<Orders>,
    customers: CustomerFeed,
}

impl Application {
    /// The bound HTTP port (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.write_side.port()
    }

    /// Runs HTTP, relay, command bus and customer feed until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let customers = self.customers;
        let amqp_url = self.write_side.amqp_url.clone();
        self.write_side
            .run_with(shutdown, move |stop| {
                customers.run(amqp_url, stop.cancelled_owned())
            })
            .await
    }
}

/// Connects to the database, applies migrations and binds the HTTP listener.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let mut write_side = build_write_side(
        SERVICE,
        settings,
        &MIGRATOR,
        application::SCHEMAS,
        Orders::new,
    )
    .await?;
    let customers = CustomerFeed::new(write_side.pool.clone());
    let health = health(&write_side, &customers);
    write_side.set_health(health);
    Ok(Application {
        write_side,
        customers,
    })
}

/// The write side's own checks, plus the customer feed's session. Until the feed has
/// declared and consumes its queue the service is not healthy: on a first start, user
/// events published before the queue exists are lost to it, and their customers would
/// stay unknown.
fn health(write_side: &WriteSide<Orders>, customers: &CustomerFeed) -> Health {
    Health::default()
        .with_postgres("postgres", write_side.pool.clone())
        .with_flag("rabbitmq", write_side.bus.connected())
        .with_flag("customer_feed", customers.connected())
}

#[cfg(test)]
mod contract_tests;
