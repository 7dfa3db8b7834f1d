//! The payment provider simulator: the stand-in for an external payment gateway,
//! reached over NATS JetStream only.
//!
//! Layout:
//! - [`settings`]: configuration from the environment.
//! - [`decision`]: the answer to a request, a pure function of its card token and attempt.
//! - [`simulator`]: the JetStream consumer that answers requests with webhooks.
//!
//! [`build`] connects to NATS (without waiting for it) and binds the listener;
//! [`Application::run_until`] serves `/health` and `/metrics` and runs the simulator
//! until shutdown. `main` only adds signals and logging.

pub mod decision;
pub mod settings;
pub mod simulator;

use std::future::Future;

use axum::Router;
use platform::config::ConfigError;
use platform::http::{operational_routes, Health};
use platform::nats::{self, NatsError};
use tokio::net::TcpListener;

pub use settings::Settings;
pub use simulator::Simulator;

/// The name of this service in logs.
pub const SERVICE: &str = "payment-provider";

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Nats(#[from] NatsError),
    #[error("cannot bind the HTTP address: {0}")]
    Bind(std::io::Error),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// The service, connected and bound, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    simulator: Simulator,
    access: platform::access::AccessSettings,
}

/// Creates the NATS client (which reaches the server in the background) and binds the
/// HTTP listener.
pub async fn build(settings: Settings) -> Result<Application, ProviderError> {
    let client = nats::connect(&settings.nats.url, SERVICE).await?;
    let health_client = client.clone();
    let health = Health::default().with_check("nats", move || {
        let state = nats::connection_state(&health_client);
        async move { state }
    });
    let listener = TcpListener::bind(&settings.http_addr)
        .await
        .map_err(ProviderError::Bind)?;
    Ok(Application {
        listener,
        router: operational_routes(health),
        simulator: Simulator::new(client, settings.nats, settings.delay, settings.concurrency),
        access: settings.access,
    })
}

impl Application {
    /// The bound HTTP port (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|addr| addr.port())
            .unwrap_or(0)
    }

    /// Serves HTTP and runs the simulator until `shutdown` resolves (or the server
    /// fails), letting the requests in flight finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ProviderError> {
        let simulator = self.simulator;
        let access = self.access;
        platform::service::serve_until(self.listener, self.router, &access, shutdown, |token| {
            simulator.run(token.cancelled_owned())
        })
        .await
        .map_err(ProviderError::Serve)
    }
}
