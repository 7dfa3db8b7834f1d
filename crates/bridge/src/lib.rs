//! The NATS bridge: moves messages between RabbitMQ and NATS JetStream without loss
//! when either side restarts.
//!
//! Layout:
//! - [`settings`]: configuration from the environment.
//! - [`requests`]: RabbitMQ → NATS, payment authorization requests to the provider.
//! - [`webhooks`]: NATS → RabbitMQ, the provider's webhooks as events.
//!
//! Each direction settles a message on its source only after the other side stored it
//! (JetStream publish ack, RabbitMQ publisher confirm): delivery is at-least-once, and
//! the ids travel along (`Nats-Msg-Id`, `event_id`) so duplicates are recognised.
//! [`build`] creates the NATS client and binds the listener;
//! [`Application::run_until`] runs both directions and `/health`, `/metrics` until
//! shutdown. `main` only adds signals and logging.

pub mod requests;
pub mod settings;
pub mod webhooks;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::Router;
use lapin::Connection;
use platform::broker;
use platform::http::{operational_routes, Health};
use platform::nats::{self, NatsError};
use platform::relay::RelayError;
use tokio::net::TcpListener;

pub use requests::RequestForwarder;
pub use settings::Settings;
pub use webhooks::WebhookForwarder;

/// The name of this service in logs.
pub const SERVICE: &str = "nats-bridge";

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Nats(#[from] NatsError),
    #[error("RabbitMQ failed: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ did not confirm: {0}")]
    Confirm(#[from] RelayError),
    #[error("cannot bind the HTTP address: {0}")]
    Bind(std::io::Error),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Whether one direction currently holds a RabbitMQ session (for `/health`).
#[derive(Clone, Debug, Default)]
pub struct Link(Arc<AtomicBool>);

impl Link {
    pub fn is_up(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, up: bool) {
        self.0.store(up, Ordering::Relaxed);
    }
}

/// The service, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    requests: RequestForwarder,
    webhooks: WebhookForwarder,
    access: platform::access::AccessSettings,
}

/// Creates the NATS client (which reaches the server in the background) and binds the
/// HTTP listener; RabbitMQ is reached by each direction when it runs.
pub async fn build(settings: Settings) -> Result<Application, BridgeError> {
    let client = nats::connect(&settings.nats.url, SERVICE).await?;
    let (to_nats, to_rabbitmq) = (Link::default(), Link::default());
    let listener = TcpListener::bind(&settings.http_addr)
        .await
        .map_err(BridgeError::Bind)?;
    let amqp_url = settings.broker.amqp_url;
    Ok(Application {
        listener,
        router: operational_routes(health(&client, &to_nats, &to_rabbitmq)),
        requests: RequestForwarder::new(
            client.clone(),
            settings.nats.clone(),
            amqp_url.clone(),
            settings.to_nats_keys,
            to_nats,
        ),
        webhooks: WebhookForwarder::new(client, settings.nats, amqp_url, to_rabbitmq),
        access: settings.access,
    })
}

/// NATS is up while the client is connected; RabbitMQ while both directions hold a
/// session (either one down means messages are piling up somewhere).
fn health(client: &async_nats::Client, to_nats: &Link, to_rabbitmq: &Link) -> Health {
    let client = client.clone();
    let links = (to_nats.clone(), to_rabbitmq.clone());
    Health::default()
        .with_check("nats", move || {
            let state = nats::connection_state(&client);
            async move { state }
        })
        .with_check("rabbitmq", move || {
            let state = match (links.0.is_up(), links.1.is_up()) {
                (true, true) => Ok(()),
                (false, _) => Err("requests to NATS: not connected".to_string()),
                (_, false) => Err("webhooks to RabbitMQ: not connected".to_string()),
            };
            async move { state }
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

    /// Runs both directions and serves HTTP until `shutdown` resolves (or the server
    /// fails); each direction finishes the message in hand before it returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), BridgeError> {
        let (requests, webhooks) = (self.requests, self.webhooks);
        let access = self.access;
        platform::service::serve_until(
            self.listener,
            self.router,
            &access,
            shutdown,
            |token| async move {
                let requests_run = requests.run(token.clone().cancelled_owned());
                let webhooks_run = webhooks.run(token.cancelled_owned());
                tokio::join!(requests_run, webhooks_run);
            },
        )
        .await
        .map_err(BridgeError::Serve)
    }
}

/// Closing (rather than dropping) hands unacknowledged deliveries back at once.
async fn close(connection: &Connection) {
    broker::close(connection, "bridge session over").await;
}
