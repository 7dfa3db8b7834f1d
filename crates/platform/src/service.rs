//! Running a write-side service: its HTTP server (health, metrics), its outbox relay
//! and its command consumer, side by side until one shutdown future resolves.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::command_bus::{CommandBus, CommandHandler};
use crate::relay::Relay;

/// Connects to a service's database, waiting for it at start-up (up to ~30 s) so the
/// stack can start in any order.
pub async fn connect_postgres(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let mut attempt = 1;
    loop {
        let result = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await;
        match result {
            Err(sqlx::Error::Io(err)) if attempt < 30 => {
                tracing::warn!(error = %err, attempt, "database not reachable, retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A write-side service ready to run.
pub struct WriteSide<H> {
    pub listener: TcpListener,
    pub router: Router,
    pub relay: Relay,
    pub bus: CommandBus<H>,
    pub amqp_url: String,
}

impl<H: CommandHandler> WriteSide<H> {
    /// The bound HTTP port (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Runs everything until `shutdown` resolves, then stops accepting work, finishes
    /// what is in flight and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let token = CancellationToken::new();
        let trigger = token.clone();
        tokio::spawn(async move {
            shutdown.await;
            trigger.cancel();
        });
        let http = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(token.clone().cancelled_owned());
        let relay = self
            .relay
            .run(self.amqp_url.clone(), token.clone().cancelled_owned());
        let bus = self.bus.run(self.amqp_url, token.clone().cancelled_owned());
        let (served, (), ()) = tokio::join!(http, relay, bus);
        served
    }
}
