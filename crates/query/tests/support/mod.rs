//! The fixture of the query integration tests: a fresh MongoDB database and Redis key
//! prefix per test, crafted envelopes, snapshots of every view, and the API served on
//! loopback. Each test binary uses part of it.
#![allow(dead_code)]

mod events;

use std::collections::BTreeMap;

use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use platform::envelope::EventEnvelope;
use query::projector::{Outcome, View};
use query::{app, ApiState, BrokerStatus, Projections, ReadStore, Settings};
use serde_json::Value;
use uuid::Uuid;

// Some test binaries build no event of their own.
#[allow(unused_imports)]
pub use events::*;

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

    /// The Redis key prefix of this test's store.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    pub async fn apply(&self, envelope: &EventEnvelope) -> Vec<Outcome> {
        self.apply_to(1, envelope).await
    }

    /// Applies `envelope` to `version` of every view that takes it.
    pub async fn apply_to(&self, version: u32, envelope: &EventEnvelope) -> Vec<Outcome> {
        self.projections
            .apply(version, envelope)
            .await
            .expect("event applied")
    }

    /// Applies each event in turn to version 1.
    pub async fn apply_all(&self, events: &[EventEnvelope]) {
        for event in events {
            self.apply(event).await;
        }
    }

    /// Every document of `version` of `collection`, by `_id`.
    pub async fn documents(&self, collection: &str, version: u32) -> Vec<Document> {
        self.store
            .db
            .collection::<Document>(&format!("{collection}_v{version}"))
            .find(doc! {})
            .sort(doc! {"_id": 1})
            .await
            .expect("MongoDB answers")
            .try_collect()
            .await
            .expect("documents read")
    }

    /// Everything `version` of every view holds, MongoDB collections and Redis keys
    /// alike, keyed without the version: two versions built from the same events in
    /// different ways compare equal.
    pub async fn snapshot(&self, version: u32) -> BTreeMap<String, Vec<String>> {
        let mut all = BTreeMap::new();
        for view in View::ALL {
            for collection in view.collections() {
                let documents = self.documents(collection, version).await;
                let shown = documents.iter().map(canonical).collect();
                all.insert((*collection).to_string(), shown);
            }
        }
        let prefix = format!("{}v{version}:", self.key_prefix);
        for key in self.redis_keys(&format!("{prefix}*")).await {
            let name = key.trim_start_matches(&prefix).to_string();
            all.insert(name, self.redis_value(&key).await);
        }
        all
    }

    async fn redis_keys(&self, pattern: &str) -> Vec<String> {
        let mut redis = self.store.redis.clone();
        redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut redis)
            .await
            .expect("Redis answers")
    }

    /// A hash's fields or a sorted set's members, as sorted text.
    async fn redis_value(&self, key: &str) -> Vec<String> {
        let mut redis = self.store.redis.clone();
        let kind: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut redis)
            .await
            .expect("Redis answers");
        let command = if kind == "zset" {
            redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .clone()
        } else {
            redis::cmd("HGETALL").arg(key).clone()
        };
        let mut values: Vec<String> = command
            .query_async(&mut redis)
            .await
            .expect("Redis answers");
        if kind != "zset" {
            values = values.chunks(2).map(|pair| pair.join("=")).collect();
            values.sort();
        }
        values
    }

    /// The members of a sorted set of version 1, highest score first, with scores.
    pub async fn ranking(&self, key: &str) -> Vec<(String, i64)> {
        let mut redis = self.store.redis.clone();
        redis::cmd("ZREVRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut redis)
            .await
            .expect("Redis answers")
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

/// A document as text whose field order does not matter (BSON keeps insertion order,
/// which depends on which write created the document).
fn canonical(document: &Document) -> String {
    let sorted: BTreeMap<&String, String> = document
        .iter()
        .map(|(key, value)| match value {
            mongodb::bson::Bson::Document(inner) => (key, canonical(inner)),
            other => (key, other.to_string()),
        })
        .collect();
    format!("{sorted:?}")
}

/// `GET base+path`: status and JSON body.
pub async fn get(base: &str, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{base}{path}"))
        .await
        .expect("HTTP answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Two snapshots are equal; on failure, names the keys that differ and the first
/// difference.
pub fn assert_same(
    left: &BTreeMap<String, Vec<String>>,
    right: &BTreeMap<String, Vec<String>>,
    what: &str,
) {
    let mut differing: Vec<&String> = left
        .keys()
        .chain(right.keys())
        .filter(|key| left.get(*key) != right.get(*key))
        .collect();
    differing.dedup();
    if let Some(first) = differing.first() {
        panic!(
            "{what}: {differing:?} differ; {first}: {:?} != {:?}",
            left.get(*first),
            right.get(*first)
        );
    }
}
