//! The write sides' event stores: one throwaway database per service, migrated with
//! the service's own migrations, filled with the synthetic history through
//! [`platform::store::append_atomically`], and served as its feed over HTTP on port 0
//! ([`platform::feed::routes`]), so the projections read it exactly as in production.

use std::time::{Duration, Instant};

use futures::future::try_join_all;
use indicatif::ProgressBar;
use platform::feed::FeedClient;
use platform::projection::Feeds;
use platform::store::{append_atomically, Cursor};
use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::history::{History, Service, RECORDED_AT};
use crate::pg::Admin;
use crate::progress;
use crate::BenchError;

static INVENTORY: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/inventory");
static ORDER: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/order");
static USER: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/user");
static PAYMENT: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/payment");
static NOTIFICATION: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/notification");

/// How long the feeds may take to show every event appended (a transaction held open
/// elsewhere in the cluster holds their horizon back).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

fn migrator(service: Service) -> &'static sqlx::migrate::Migrator {
    match service {
        Service::Inventory => &INVENTORY,
        Service::Order => &ORDER,
        Service::User => &USER,
        Service::Payment => &PAYMENT,
        Service::Notification => &NOTIFICATION,
    }
}

/// One service's store and the server of its feed.
pub struct Store {
    pub service: Service,
    pub pool: PgPool,
    database: String,
    pub feed_url: String,
    server: JoinHandle<()>,
}

/// Every store the projections read.
pub struct Stores {
    admin: Admin,
    stores: Vec<Store>,
}

impl Stores {
    /// Creates, migrates and serves one store per service; what was made before a
    /// failure is dropped again.
    pub async fn create(admin: &Admin, run_id: &str) -> Result<Self, BenchError> {
        let mut stores = Self {
            admin: admin.clone(),
            stores: Vec::new(),
        };
        for service in Service::ALL {
            match open(admin, run_id, service).await {
                Ok(store) => stores.stores.push(store),
                Err(err) => {
                    stores.close().await;
                    return Err(err);
                }
            }
        }
        Ok(stores)
    }

    /// The feeds, by service name.
    pub fn feeds(&self) -> Feeds {
        Feeds::new(
            self.stores
                .iter()
                .map(|s| (s.service.name(), s.feed_url.as_str())),
        )
    }

    /// Appends the history, each store's transactions in order, the stores side by side.
    pub async fn fill(&self, history: &History) -> Result<(), BenchError> {
        let bar = progress::counter("appending events", history.total_events());
        let fills = self.stores.iter().map(|store| fill(store, history, &bar));
        try_join_all(fills).await?;
        bar.finish();
        Ok(())
    }

    /// Dates every event by its synthetic instant, then waits until every feed shows
    /// every event.
    pub async fn settle(&self, history: &History) -> Result<(), BenchError> {
        for store in &self.stores {
            stamp(&store.pool).await?;
            wait_for_horizon(store, history.events(store.service)).await?;
        }
        Ok(())
    }

    /// Stops the feeds and drops the databases; failures are logged, not returned, so
    /// every store gets its turn.
    pub async fn close(self) {
        for store in self.stores {
            store.server.abort();
            if let Err(err) = self.admin.drop(store.pool, &store.database).await {
                tracing::warn!(database = %store.database, error = %err, "cannot drop database");
            }
        }
    }
}

async fn open(admin: &Admin, run_id: &str, service: Service) -> Result<Store, BenchError> {
    let database = format!("bench_{}_{run_id}", service.name());
    let pool = admin.create(&database).await?;
    match serve(service, &pool).await {
        Ok((feed_url, server)) => Ok(Store {
            service,
            pool,
            database,
            feed_url,
            server,
        }),
        Err(err) => {
            let _ = admin.drop(pool, &database).await;
            Err(err)
        }
    }
}

/// Migrates the store and serves its feed on a free port; returns the feed's URL.
async fn serve(service: Service, pool: &PgPool) -> Result<(String, JoinHandle<()>), BenchError> {
    migrator(service).run(pool).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let feed_url = format!("http://{}", listener.local_addr()?);
    let router = platform::feed::routes(service.name(), pool.clone());
    let server = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::warn!(error = %err, "feed server stopped");
        }
    });
    Ok((feed_url, server))
}

async fn fill(store: &Store, history: &History, bar: &ProgressBar) -> Result<(), BenchError> {
    let mine = history
        .transactions
        .iter()
        .filter(|t| t.service == store.service);
    for transaction in mine {
        append_atomically(&store.pool, &transaction.appends).await?;
        bar.inc(transaction.events());
    }
    Ok(())
}

/// Sets `recorded_at` (the feed's `occurred_at`) from the synthetic instant, and
/// vacuums what the update left, so the feed reads a table as the services leave it.
async fn stamp(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE events SET recorded_at = (metadata ->> $1)::timestamptz \
         WHERE metadata ->> $1 IS NOT NULL",
    )
    .bind(RECORDED_AT)
    .execute(pool)
    .await?;
    sqlx::query("VACUUM ANALYZE events").execute(pool).await?;
    Ok(())
}

async fn wait_for_horizon(store: &Store, expected: u64) -> Result<(), BenchError> {
    let feed = FeedClient::new(&store.feed_url);
    let started = Instant::now();
    loop {
        let seen = feed.count(Cursor::default()).await?;
        if seen >= expected as i64 {
            return Ok(());
        }
        if started.elapsed() > SETTLE_TIMEOUT {
            return Err(BenchError::Unsettled {
                service: store.service.name(),
                expected,
                seen,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
