//! The query service's read models as data: every MongoDB collection and Redis key of
//! one version of every view, to compare a live version with a rebuilt one.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use platform::projection::Bookkeeping;
use query::projector::{View, ViewBook};
use query::ReadStore;

use crate::{TestStack, MONGODB_URL};

/// Each view's documents (MongoDB collections by name, Redis keys as `redis:<view>`).
pub type Snapshot = BTreeMap<String, Vec<Document>>;

/// Per service: the events its feed shows and its store holds
/// ([`TestStack::store_counts`]).
pub type StoreCounts = Vec<(String, i64, i64)>;

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

    /// `version` of every view once it has settled; see [`TestStack::settled_views`].
    pub async fn settled_view_snapshot(&self, version: u32) -> anyhow::Result<Snapshot> {
        Ok(self.settled_views(version).await?.1)
    }

    /// `version` of every view once it has settled, with the store counts it settled at
    /// (bounded to 30 s), and the star schema's current version beside them when the
    /// analytics service runs ([`TestStack::olap_snapshot`]): every feed shows all its
    /// store holds, every view has read its feeds to their end, and neither the stores
    /// nor the views changed in the second that followed. The snapshot then holds
    /// exactly what those counts of events make (the stores only grow). A view checked
    /// by one query can still be a page behind on another; a transaction open elsewhere
    /// in the cluster hides committed events from the feeds (see
    /// [`TestStack::store_counts`]); and a late event (a provider's answer) still on its
    /// way would reach a rebuild but not this snapshot.
    pub async fn settled_views(&self, version: u32) -> anyhow::Result<(StoreCounts, Snapshot)> {
        let store = ReadStore::connect(&self.query_settings()).await?;
        let settled = self.settle(&ViewBook::new(store.clone()), version).await;
        store.shutdown().await;
        settled
    }

    async fn settle(
        &self,
        book: &ViewBook,
        version: u32,
    ) -> anyhow::Result<(StoreCounts, Snapshot)> {
        let started = std::time::Instant::now();
        let mut last = self.views_sample(book, version).await?;
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let now = self.views_sample(book, version).await?;
            let all_shown = last.0.iter().all(|(_, shown, stored)| shown == stored);
            if last.1 && all_shown && (&now.0, &now.2) == (&last.0, &last.2) {
                return Ok((last.0, last.2));
            }
            anyhow::ensure!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "the read models never settled"
            );
            last = now;
        }
    }

    /// The store counts, then whether every view of `version` had read its feeds to
    /// their end, then the views: in this order, so that counts unchanged at the next
    /// sample prove the views were whole when they were read.
    async fn views_sample(
        &self,
        book: &ViewBook,
        version: u32,
    ) -> anyhow::Result<(StoreCounts, bool, Snapshot)> {
        let counts = self.store_counts().await?;
        let caught_up = self.views_caught_up(book, version).await? && self.olap_caught_up().await?;
        let mut snapshot = self.view_snapshot(version).await?;
        snapshot.extend(self.olap_snapshot().await?);
        Ok((counts, caught_up, snapshot))
    }

    /// Whether every view of `version` has applied all its feeds show: each of its
    /// checkpoints (read through the service's own books) is at its feed's end (a view
    /// whose feed is not started stays empty).
    async fn views_caught_up(&self, book: &ViewBook, version: u32) -> anyhow::Result<bool> {
        for view in View::ALL {
            if !self
                .read_to_end(book, view.name(), version, view.sources())
                .await?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether `version` of `projection` has applied all that its `sources`' feeds show,
    /// its checkpoints read through `book` (a source the stack does not serve is passed
    /// over: the projection stays empty of it).
    pub(crate) async fn read_to_end(
        &self,
        book: &impl Bookkeeping,
        projection: &str,
        version: u32,
        sources: &[&str],
    ) -> anyhow::Result<bool> {
        for source in sources {
            let Some((_, url)) = self.feed_urls.iter().find(|(s, _)| s == source) else {
                continue;
            };
            let after = book.checkpoint(projection, version, source).await?;
            if platform::feed::FeedClient::new(url).count(after).await? > 0 {
                return Ok(false);
            }
        }
        Ok(true)
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
