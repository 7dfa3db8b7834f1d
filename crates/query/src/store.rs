//! The connections to the read stores (one MongoDB database, one Redis) and the names
//! of what lives in them. Shared by the projector, which writes, and the API, which reads.

use std::time::Duration;

use mongodb::bson::doc;
use mongodb::options::ClientOptions;
use mongodb::Database;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::settings::Settings;

/// MongoDB collection: one document per sku.
pub const PRODUCT_LIST: &str = "product_list";
/// MongoDB collection: one document per order.
pub const ORDER_DETAILS: &str = "order_details";
/// MongoDB collection: one document per user.
pub const USER_PROFILE: &str = "user_profile";
/// MongoDB collection: how far each projection got in each source service's stream.
pub const CHECKPOINTS: &str = "projection_checkpoints";
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

    /// The Redis key of a product's stock levels.
    pub fn stock_key(&self, sku: &str) -> String {
        format!("{}stock:{sku}", self.key_prefix)
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
