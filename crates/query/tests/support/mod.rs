//! The fixture of the query integration tests: a fresh MongoDB database and Redis key
//! prefix per test, crafted envelopes, and the API served on loopback.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use mongodb::bson::{doc, Document};
use platform::envelope::EventEnvelope;
use query::projector::Outcome;
use query::{app, ApiState, BrokerStatus, Projections, ReadStore, Settings};
use serde_json::{json, Value};
use uuid::Uuid;

static GLOBAL_POSITION: AtomicI64 = AtomicI64::new(1);

pub struct Fixture {
    pub store: ReadStore,
    pub projections: Projections,
    key_prefix: String,
}

impl Fixture {
    pub async fn new() -> Self {
        let id = Uuid::new_v4().simple().to_string();
        let mut settings = Settings::from_env().expect("valid settings");
        settings.mongodb_database = format!("query_test_{id}");
        settings.redis_key_prefix = format!("query-test:{id}:");
        let store = ReadStore::connect(&settings)
            .await
            .expect("MongoDB and Redis are reachable");
        Self {
            projections: Projections::new(store.clone()),
            store,
            key_prefix: settings.redis_key_prefix,
        }
    }

    pub async fn apply(&self, envelope: &EventEnvelope) -> Vec<Outcome> {
        self.projections
            .apply(1, envelope)
            .await
            .expect("event applied")
    }

    pub async fn document(&self, collection: &str, id: &str) -> Document {
        self.store
            .db
            .collection::<Document>(&format!("{collection}_v1"))
            .find_one(doc! {"_id": id})
            .await
            .expect("MongoDB answers")
            .unwrap_or_else(|| panic!("{collection} has no document {id}"))
    }

    pub async fn stock_hash(&self, sku: &str) -> Vec<(String, i64)> {
        let mut redis = self.store.redis.clone();
        let mut fields: Vec<(String, i64)> = redis::cmd("HGETALL")
            .arg(self.store.stock_key(1, sku))
            .query_async(&mut redis)
            .await
            .expect("Redis answers");
        fields.sort();
        fields
    }

    /// Serves the API on an ephemeral loopback port; returns its base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback port");
        let base = format!("http://{}", listener.local_addr().expect("bound address"));
        let state = ApiState {
            store: self.store.clone(),
            broker: BrokerStatus::default(),
        };
        tokio::spawn(async move { axum::serve(listener, app(state)).await });
        base
    }

    pub async fn drop_all(self) {
        self.store.db.drop().await.expect("test database dropped");
        let mut redis = self.store.redis.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.key_prefix))
            .query_async(&mut redis)
            .await
            .expect("Redis answers");
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut redis)
                .await
                .expect("keys deleted");
        }
        self.store.shutdown().await;
    }
}

pub fn envelope(
    service: &str,
    aggregate: &str,
    id: &str,
    sequence: i64,
    event_type: &str,
    payload: Value,
) -> EventEnvelope {
    EventEnvelope {
        event_id: Uuid::new_v4(),
        service: service.to_string(),
        aggregate_type: aggregate.to_string(),
        aggregate_id: id.to_string(),
        sequence,
        global_position: GLOBAL_POSITION.fetch_add(1, Ordering::Relaxed),
        event_type: event_type.to_string(),
        event_version: "1".to_string(),
        occurred_at: Utc::now(),
        correlation_id: Some("test-correlation".to_string()),
        causation_id: None,
        payload,
    }
}

pub fn product_added(sku: &str, category: &str) -> EventEnvelope {
    let payload = json!({"sku": sku, "name": format!("Product {sku}"), "category": category, "price_cents": 1250});
    envelope("inventory", "Product", sku, 1, "ProductAdded", payload)
}

pub fn stock_event(sku: &str, sequence: i64, event_type: &str, quantity: u64) -> EventEnvelope {
    let payload = json!({"sku": sku, "order_id": "o-1", "quantity": quantity});
    envelope("inventory", "Product", sku, sequence, event_type, payload)
}

pub fn order_placed(order_id: &str) -> EventEnvelope {
    let payload = json!({"order_id": order_id, "customer_id": "c-7", "total_cents": 2700,
        "lines": [{"sku": "A-1", "quantity": 2, "unit_price_cents": 1250},
                  {"sku": "B-2", "quantity": 1, "unit_price_cents": 200}]});
    envelope("order", "Order", order_id, 1, "OrderPlaced", payload)
}

/// An `OrderPlaced` of `customer_id`, placed at `placed_at`.
pub fn order_placed_at(
    order_id: &str,
    customer_id: &str,
    placed_at: DateTime<Utc>,
) -> EventEnvelope {
    let payload = json!({"order_id": order_id, "customer_id": customer_id, "total_cents": 100,
        "lines": [{"sku": "A-1", "quantity": 1, "unit_price_cents": 100}]});
    let mut placed = envelope("order", "Order", order_id, 1, "OrderPlaced", payload);
    placed.occurred_at = placed_at;
    placed
}

/// An event of the user `User` aggregate `user_id`.
pub fn user_event(user_id: &str, sequence: i64, event_type: &str, payload: Value) -> EventEnvelope {
    envelope("user", "User", user_id, sequence, event_type, payload)
}
