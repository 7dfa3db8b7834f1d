//! The connections to the read stores (one MongoDB database, one Redis) and the names
//! of what lives in them. Shared by the projector, which writes, and the API, which reads.

use std::time::Duration;

use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use mongodb::{Collection, Database};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::settings::Settings;

// The views, by name: a MongoDB view lives in the collection `<name>_v<version>`, a
// Redis one under the keys `<prefix>v<version>:<name>...`.

/// MongoDB: one document per sku, its description and stock.
pub const PRODUCT_LIST: &str = "product_list";
/// Redis: one hash `stock:{sku}` per product; MongoDB: its mirror, one document per sku.
pub const STOCK_LEVELS: &str = "stock_levels";
/// MongoDB: one document per category: its products and units available.
pub const CATEGORY_TREE: &str = "category_tree";
/// MongoDB: one document per order.
pub const ORDER_DETAILS: &str = "order_details";
/// MongoDB: one document per order, found by customer, newest first.
pub const ORDER_HISTORY: &str = "order_history";
/// Redis: one hash `order_status:{order_id}` per order.
pub const ORDER_STATUS: &str = "order_status";
/// Redis: the sorted set `best_sellers` (units sold per sku), and a hash
/// `best_sellers:order:{order_id}` per order remembering its lines and status.
pub const BEST_SELLERS: &str = "best_sellers";
/// Redis: one sorted set `recent_orders:{customer_id}` per customer.
pub const RECENT_ORDERS: &str = "recent_orders";
/// MongoDB: one document per user.
pub const USER_PROFILE: &str = "user_profile";
/// MongoDB: one document per user: profile and order counters.
pub const USER_SUMMARY: &str = "user_summary";
/// MongoDB: one document per user event and per order event, by user.
pub const USER_ACTIVITY: &str = "user_activity";
/// MongoDB: one document per payment.
pub const PAYMENT_INFO: &str = "payment_info";
/// MongoDB: one document per notification.
pub const DELIVERY_STATUS: &str = "delivery_status";
/// MongoDB: one document per template.
pub const TEMPLATE_USAGE: &str = "template_usage";
/// MongoDB: one document per channel.
pub const CHANNEL_PERFORMANCE: &str = "channel_performance";

// The memos: what a view that aggregates many aggregates remembers of each of them, in
// a collection of its own beside the view's (versioned and dropped with it).

/// `category_tree`'s memo: each sku's category and units available.
pub const CATEGORY_TREE_SKUS: &str = "category_tree_skus";
/// `user_summary`'s memo: each order's customer, total and status.
pub const USER_SUMMARY_ORDERS: &str = "user_summary_orders";
/// `template_usage`'s memo: each notification's template.
pub const TEMPLATE_USAGE_NOTIFICATIONS: &str = "template_usage_notifications";
/// `channel_performance`'s memo: each notification's channel.
pub const CHANNEL_PERFORMANCE_NOTIFICATIONS: &str = "channel_performance_notifications";

/// MongoDB collection: how far each version of each projection got in each source
/// service's feed.
pub const CHECKPOINTS: &str = "projection_checkpoints";
/// MongoDB collection: which version of each projection queries read.
pub const VERSIONS: &str = "projection_versions";
/// MongoDB collection: events a projection could not apply, with their error.
pub const PARKED: &str = "parked_events";
/// Redis: the bookkeeping of the views kept in Redis alone, under
/// `<prefix>books:` (never matched by a view's `<prefix>v<version>:` pattern).
const BOOKS: &str = "books";

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

    /// A Redis key of `version` of a view: `<prefix>v<version>:<rest>`.
    fn key(&self, version: u32, rest: &str) -> String {
        format!("{}v{version}:{rest}", self.key_prefix)
    }

    /// The Redis key of a product's stock levels in `version` of the view.
    pub fn stock_key(&self, version: u32, sku: &str) -> String {
        self.key(version, &format!("stock:{sku}"))
    }

    /// The hash of an order's status.
    pub fn order_status_key(&self, version: u32, order_id: &str) -> String {
        self.key(version, &format!("{ORDER_STATUS}:{order_id}"))
    }

    /// The sorted set of units sold per sku.
    pub fn best_sellers_key(&self, version: u32) -> String {
        self.key(version, BEST_SELLERS)
    }

    /// What the best-sellers ranking remembers of an order (its lines and status).
    pub fn best_sellers_order_key(&self, version: u32, order_id: &str) -> String {
        self.key(version, &format!("{BEST_SELLERS}:order:{order_id}"))
    }

    /// The sorted set of a customer's latest orders (by time placed).
    pub fn recent_orders_key(&self, version: u32, customer_id: &str) -> String {
        self.key(version, &format!("{RECENT_ORDERS}:{customer_id}"))
    }

    /// The key pattern of every Redis key of `version` of `view` (none of the views'
    /// names is a prefix of another's, so patterns never overlap).
    pub fn view_pattern(&self, version: u32, view: &str) -> String {
        let stem = if view == STOCK_LEVELS { "stock" } else { view };
        self.key(version, &format!("{stem}*"))
    }

    /// The Redis hash of `projection`'s checkpoints in `version`: one field per source.
    pub fn checkpoints_key(&self, projection: &str, version: u32) -> String {
        format!(
            "{}{BOOKS}:checkpoints:{projection}:v{version}",
            self.key_prefix
        )
    }

    /// The Redis hash of the current version of each view kept in Redis alone.
    pub fn versions_key(&self) -> String {
        format!("{}{BOOKS}:versions", self.key_prefix)
    }

    /// The version of `view`, kept in Redis alone, that queries read now (1 until a
    /// rebuild replaced it); see [`crate::projector::RedisBook`].
    pub async fn redis_version(&self, view: &str) -> Result<u32, redis::RedisError> {
        let mut redis = self.redis.clone();
        let current: Option<i64> = redis::cmd("HGET")
            .arg(self.versions_key())
            .arg(view)
            .query_async(&mut redis)
            .await?;
        Ok(u32::try_from(current.unwrap_or(1)).unwrap_or(1).max(1))
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
