//! The connections to the read stores (one MongoDB database, one Redis) and the names
//! of what lives in them. Shared by the projector, which writes, and the API, which reads.

use std::time::Duration;

use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use mongodb::{Collection, Database};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::settings::Settings;

/// MongoDB collection: one document per sku.
pub const PRODUCT_LIST: &str = "product_list";
/// MongoDB collection: one document per order.
pub const ORDER_DETAILS: &str = "order_details";
/// MongoDB collection: one document per user.
pub const USER_PROFILE: &str = "user_profile";
/// MongoDB collection: how far each version of each projection got in each source
/// service's feed.
pub const CHECKPOINTS: &str = "projection_checkpoints";
/// MongoDB collection: which version of each projection queries read.
pub const VERSIONS: &str = "projection_versions";
/// MongoDB collection: events a projection could not apply, with their error.
pub const PARKED: &str = "parked_events";
/// The Redis projection: one hash `stock:{sku}` per product.
pub const STOCK_LEVELS: &str = "stock_levels";

/// Bounds Redis calls and MongoDB connection attempts, so a hung dependency turns into
/// a retry, not a stall.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// Cheap to clone: both handles are connection pools / multiplexers.
#[derive(Clone)]
pub struct ReadStore {
    client: mongodb::Client,
    pub db: Database,
    pub redis: ConnectionManager,
    key_prefix: String,
}

impl ReadStore {
    /// Connects to both stores and checks that MongoDB answers, so a wrong URL stops
    /// start-up instead of surfacing at the first event.
    pub async fn connect(settings: &Settings) -> Result<Self, crate::QueryError> {
        let client = connect_mongodb(&settings.mongodb_url).await?;
        let db = client.database(&settings.mongodb_database);
        let redis = connect_redis(&settings.redis_url).await?;
        Ok(Self {
            client,
            db,
            redis,
            key_prefix: settings.redis_key_prefix.clone(),
        })
    }

    /// Ends the MongoDB sessions and background tasks while the runtime still runs.
    /// Without it, dropping the last client handle spawns that cleanup onto a runtime
    /// that may be shutting down, and the driver panics there.
    pub async fn shutdown(self) {
        self.client.shutdown().await;
    }

    /// The Redis key of a product's stock levels in `version` of the view.
    pub fn stock_key(&self, version: u32, sku: &str) -> String {
        format!("{}v{version}:stock:{sku}", self.key_prefix)
    }

    /// The Redis key pattern of every stock hash of `version`.
    pub fn stock_pattern(&self, version: u32) -> String {
        format!("{}v{version}:stock:*", self.key_prefix)
    }

    /// The collection holding `version` of the MongoDB view `view`.
    pub fn collection<T: Send + Sync>(&self, view: &str, version: u32) -> Collection<T> {
        self.db.collection(&format!("{view}_v{version}"))
    }

    /// The version of `view` that queries read now (1 until a rebuild replaced it).
    pub async fn current_version(&self, view: &str) -> Result<u32, mongodb::error::Error> {
        let found = self
            .db
            .collection::<Document>(VERSIONS)
            .find_one(doc! {"_id": view})
            .await?;
        let current = found.and_then(|d| d.get_i64("current").ok()).unwrap_or(1);
        Ok(u32::try_from(current).unwrap_or(1).max(1))
    }

    /// The collection of the current version of `view`.
    pub async fn current<T: Send + Sync>(
        &self,
        view: &str,
    ) -> Result<Collection<T>, mongodb::error::Error> {
        Ok(self.collection(view, self.current_version(view).await?))
    }

    pub async fn ping_mongodb(&self) -> Result<(), mongodb::error::Error> {
        self.db.run_command(doc! {"ping": 1}).await.map(|_| ())
    }

    pub async fn ping_redis(&self) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut redis)
            .await
            .map(|_| ())
    }
}

impl std::fmt::Debug for ReadStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadStore")
            .field("database", &self.db.name())
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

async fn connect_mongodb(url: &str) -> Result<mongodb::Client, mongodb::error::Error> {
    let mut options = ClientOptions::parse(url).await?;
    options.app_name = Some("query-service".to_string());
    // Long enough for a MongoDB started alongside the service to come up.
    options.server_selection_timeout = Some(Duration::from_secs(15));
    options.connect_timeout = Some(STORE_TIMEOUT);
    let client = mongodb::Client::with_options(options)?;
    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await?;
    Ok(client)
}

async fn connect_redis(url: &str) -> Result<ConnectionManager, redis::RedisError> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(STORE_TIMEOUT))
        .set_response_timeout(Some(STORE_TIMEOUT));
    ConnectionManager::new_with_config(client, config).await
}
