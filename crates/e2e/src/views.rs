//! The query service's read models as data: every MongoDB collection and Redis key of
//! one version of every view, to compare a live version with a rebuilt one.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use query::projector::View;

use crate::{TestStack, MONGODB_URL};

/// Each view's documents (MongoDB collections by name, Redis keys as `redis:<view>`).
pub type Snapshot = BTreeMap<String, Vec<Document>>;

impl TestStack {
    /// Everything `version` of every query-service view holds: each MongoDB collection
    /// (the views' and their memos'), and each view's Redis keys as `redis:<view>`.
    pub async fn view_snapshot(&self, version: u32) -> anyhow::Result<Snapshot> {
        let client = mongodb::Client::with_uri_str(MONGODB_URL).await?;
        let db = client.database(&self.mongodb_database);
        let mut views = BTreeMap::new();
        for view in View::ALL {
            for name in view.collections() {
                let collection = db.collection::<Document>(&format!("{name}_v{version}"));
                let docs: Vec<Document> = collection
                    .find(doc! {})
                    .sort(doc! {"_id": 1})
                    .await?
                    .try_collect()
                    .await?;
                views.insert(name.to_string(), docs);
            }
            if view.in_redis() {
                let keys = self.redis_snapshot(version, view).await?;
                views.insert(format!("redis:{}", view.name()), keys);
            }
        }
        Ok(views)
    }

    /// `version` of every view once it has settled: two snapshots a second apart agree,
    /// no event store took an event in between, and every feed shows all its store
    /// holds (bounded to 30 s; see [`TestStack::store_counts`]). A view checked by
    /// one query can still be a page behind on another; and a late event (a provider's
    /// answer) still on its way would reach a rebuild but not this snapshot.
    pub async fn settled_view_snapshot(&self, version: u32) -> anyhow::Result<Snapshot> {
        let started = std::time::Instant::now();
        let mut last = (
            self.store_counts().await?,
            self.view_snapshot(version).await?,
        );
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let now = (
                self.store_counts().await?,
                self.view_snapshot(version).await?,
            );
            let all_shown = now.0.iter().all(|(_, shown, stored)| shown == stored);
            if now == last && all_shown {
                return Ok(now.1);
            }
            anyhow::ensure!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "the read models never settled"
            );
            last = now;
        }
    }

    /// Each Redis key of `version` of `view`, with its hash fields or sorted-set members.
    async fn redis_snapshot(&self, version: u32, view: View) -> anyhow::Result<Vec<Document>> {
        let redis = redis::Client::open(self.servers.redis_url.as_str())?;
        let mut redis = redis.get_multiplexed_async_connection().await?;
        let stem = if view == View::StockLevels {
            "stock"
        } else {
            view.name()
        };
        let prefix = format!("{}v{version}:", self.redis_key_prefix);
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}{stem}*"))
            .query_async(&mut redis)
            .await?;
        keys.sort();
        let mut values = Vec::new();
        for key in keys {
            let fields = redis_value(&mut redis, &key).await?;
            let id = key.trim_start_matches(&prefix).to_string();
            values.push(doc! {"_id": id, "fields": format!("{fields:?}")});
        }
        Ok(values)
    }
}

/// A hash as sorted `field=value` pairs, a sorted set as its members with scores.
async fn redis_value(
    redis: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> anyhow::Result<Vec<String>> {
    let kind: String = redis::cmd("TYPE").arg(key).query_async(redis).await?;
    if kind == "zset" {
        return Ok(redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(redis)
            .await?);
    }
    let pairs: Vec<String> = redis::cmd("HGETALL").arg(key).query_async(redis).await?;
    let mut fields: Vec<String> = pairs.chunks(2).map(|pair| pair.join("=")).collect();
    fields.sort();
    Ok(fields)
}
