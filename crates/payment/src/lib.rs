//! The payment service: card payments for orders, authorized at an external payment
//! provider, then captured and perhaps refunded, or voided.
//!
//! Layout:
//! - [`domain`]: the pure payment aggregate and its decisions, with given/when/then tests.
//! - [`application`]: the broker commands, their schemas, and the execution of commands.
//! - [`provider_answers`]: the consumer of the provider's webhooks (forwarded from NATS
//!   to the `events` exchange by the bridge), each recorded as a `RecordProviderAnswer`.
//! - [`settings`]: the service's settings and its authorization policy.
//!
//! The requests to the provider need no code here: the relay publishes
//! `payment.Payment.PaymentAuthorizationRequested` and `...Retried`, and the bridge
//! forwards them. [`build`] wires the rest to the platform: migrations, the command
//! bus, the outbox relay, the HTTP server and the consumer; `main` only adds signals
//! and logging.

pub mod application;
pub mod domain;
pub mod provider_answers;
pub mod settings;

use std::future::Future;

use platform::service::{build_write_side, StartupError, WriteSide};

pub use application::Payments;
pub use provider_answers::ProviderAnswers;
pub use settings::Settings;

/// The name of this service on the broker and in routing keys.
pub const SERVICE: &str = "payment";

/// Reads the settings from the environment, with local defaults (HTTP port 8084).
pub fn settings_from_env() -> Result<Settings, platform::config::ConfigError> {
    Settings::from_env()
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/payment");

/// The service, connected and migrated, ready to run: the write side every service
/// has, and the provider-answer consumer beside it.
pub struct Application {
    write_side: WriteSide<Payments>,
    answers: ProviderAnswers,
}

impl Application {
    /// The bound HTTP port (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.write_side.port()
    }

    /// Runs HTTP, relay, command bus and provider-answer consumer until `shutdown`
    /// resolves.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let answers = self.answers;
        let amqp_url = self.write_side.amqp_url.clone();
        self.write_side
            .run_with(shutdown, move |stop| {
                answers.run(amqp_url, stop.cancelled_owned())
            })
            .await
    }
}

/// Connects to the database, applies migrations and binds the HTTP listener.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let policy = settings.policy;
    let write_side = build_write_side(
        SERVICE,
        settings.service,
        &MIGRATOR,
        application::SCHEMAS,
        |pool| Payments::new(pool, policy),
    )
    .await?;
    // A second handle on the same store: cqrs-es keeps no state between commands, and
    // the bus keeps its own behind an Arc it does not share.
    let payments = Payments::new(write_side.pool.clone(), policy);
    let answers = ProviderAnswers::new(write_side.pool.clone(), payments, write_side.relay.wake());
    Ok(Application {
        write_side,
        answers,
    })
}

#[cfg(test)]
mod contract_tests;
