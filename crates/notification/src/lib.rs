//! The notification service: notifications to customers, asked for by command and
//! delivered, at least once, by a dispatcher that follows the service's own events.
//!
//! Layout:
//! - [`domain`]: the pure notification aggregate and its decisions, with given/when/then tests.
//! - [`application`]: the broker command, its schema, and the execution of commands.
//! - [`sender`]: the [`sender::Sender`] trait and its file and log implementations.
//! - [`dispatcher`]: the background task that sends requested notifications and records
//!   each outcome, retrying failures with a backoff.
//! - [`settings`]: the service's settings and the dispatcher's.
//!
//! [`build`] wires them to the platform: migrations, the command bus, the outbox relay,
//! the HTTP server and the dispatcher; `main` only adds signals and logging.

pub mod application;
pub mod dispatcher;
pub mod domain;
pub mod sender;
pub mod settings;

use std::future::Future;

use platform::service::{build_write_side, StartupError, WriteSide};

pub use application::Notifications;
pub use dispatcher::Dispatcher;
pub use sender::{ConfiguredSender, FileSender, LogSender, Outgoing, SendError, Sender};
pub use settings::{DispatcherSettings, SenderKind, Settings};

use crate::domain::DeliveryPolicy;

/// The name of this service on the broker and in routing keys.
pub const SERVICE: &str = "notification";

/// Reads the settings from the environment, with local defaults (HTTP port 8085).
pub fn settings_from_env() -> Result<Settings, platform::config::ConfigError> {
    Settings::from_env()
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/notification");

/// The service, connected and migrated, ready to run: the write side every service
/// has, and the dispatcher beside it.
pub struct Application<S = ConfiguredSender> {
    write_side: WriteSide<Notifications>,
    dispatcher: Dispatcher<S>,
}

impl<S: Sender> Application<S> {
    /// The bound HTTP port (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.write_side.port()
    }

    /// Runs HTTP, relay, command bus and dispatcher until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let dispatcher = self.dispatcher;
        self.write_side
            .run_with(shutdown, move |stop| dispatcher.run(stop))
            .await
    }
}

/// Connects to the database, applies migrations and binds the HTTP listener; the
/// sender is the one the settings name.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let sender = settings.dispatcher.sender.sender();
    build_with_sender(settings, sender).await
}

/// [`build`] with a sender of the caller's choice.
pub async fn build_with_sender<S: Sender>(
    settings: Settings,
    sender: S,
) -> Result<Application<S>, StartupError> {
    let policy = DeliveryPolicy {
        max_attempts: settings.dispatcher.max_attempts,
    };
    let mut write_side = build_write_side(
        SERVICE,
        settings.service,
        &MIGRATOR,
        application::SCHEMAS,
        |pool| Notifications::new(pool, policy),
    )
    .await?;
    let dispatcher = Dispatcher::new(write_side.pool.clone(), sender, settings.dispatcher)
        .signalling(write_side.relay.wake());
    write_side.bus = write_side.bus.signalling(dispatcher.wake());
    Ok(Application {
        write_side,
        dispatcher,
    })
}

#[cfg(test)]
mod contract_tests;
