//! The query service: the read side of the inventory, order, user, payment and
//! notification contexts.
//!
//! Layout:
//! - [`settings`]: configuration from the environment.
//! - [`store`]: the MongoDB database and Redis connection holding the read models, and
//!   the names of the views, their collections and keys.
//! - [`projector`]: one runner of the projection runtime per read model (a
//!   [`projector::View`]), reading the services' feeds, woken by `query.projections`.
//! - [`views`]: the read models as served, and their queries.
//! - [`api`]: the HTTP routes and their OpenAPI document.
//!
//! [`build`] connects the stores, creates the indexes and binds the listener;
//! [`Application::run_until`] serves HTTP and runs the projector until shutdown.
//! `main` only adds signals and logging.

pub mod api;
pub mod projector;
pub mod settings;
pub mod store;
pub mod views;

use std::future::Future;

use axum::Router;
use platform::config::ConfigError;
use platform::projection::Feeds;
use tokio::net::TcpListener;

pub use api::{app, ApiState};
pub use projector::{BrokerStatus, Projections, Projector, View};
pub use settings::Settings;
pub use store::ReadStore;

/// The name of this service in logs.
pub const SERVICE: &str = "query";

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("MongoDB failed: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("Redis failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the index specification is invalid: {0}")]
    IndexSpec(#[from] serde_json::Error),
    #[error("cannot bind the HTTP address: {0}")]
    Bind(std::io::Error),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// The service, connected and bound, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    projector: Projector,
    amqp_url: String,
    store: ReadStore,
    feeds: Feeds,
    access: platform::access::AccessSettings,
}

/// Connects to MongoDB and Redis, creates the indexes and binds the HTTP listener.
/// The broker is reached by the projector when it runs, and re-reached whenever lost.
pub async fn build(settings: Settings) -> Result<Application, QueryError> {
    let store = ReadStore::connect(&settings).await?;
    projector::ensure_indexes(&store).await?;
    let broker = BrokerStatus::default();
    let feeds = settings.feeds()?;
    let set = projector::projection_set(&store, &feeds, settings.runner);
    let listener = TcpListener::bind(&settings.http_addr)
        .await
        .map_err(QueryError::Bind)?;
    let api = app(ApiState {
        store: store.clone(),
        broker: broker.clone(),
    });
    Ok(Application {
        listener,
        router: api.merge(set.routes()),
        projector: Projector::new(set, broker, settings.prefetch),
        amqp_url: settings.broker.amqp_url,
        store,
        feeds,
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

    /// The feeds the runners read, shared with them: a feed inserted here is read from
    /// their next pass (for a service started after this one, in a test stack).
    pub fn feeds(&self) -> Feeds {
        self.feeds.clone()
    }

    /// Serves HTTP and runs the projector until `shutdown` resolves (or the server
    /// fails), then lets both finish what is in flight and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), QueryError> {
        let (projector, amqp_url, access) = (self.projector, self.amqp_url, self.access);
        let served = platform::service::serve_until(
            self.listener,
            self.router,
            &access,
            shutdown,
            |token| projector.run(amqp_url, token),
        )
        .await;
        self.store.shutdown().await;
        served.map_err(QueryError::Serve)
    }
}
