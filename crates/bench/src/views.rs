//! The query service's views, replayed each into its own throwaway MongoDB database
//! and Redis key prefix (those in Redis alone together, a group per source, the others
//! one by one): a [`query::ReadStore`] as the service connects it,
//! [`query::projector::ViewProjection`] run by a [`Runner`] with [`ViewBook`] (the
//! service's own projection set, view by view). What a view wrote is read back from its
//! database and prefix: that says where it writes (MongoDB, Redis or both) and gives
//! the templates of the bulk write that follows.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use platform::projection::{Feeds, Runner};
use query::projector::{ensure_indexes, Projections, View, ViewBook, ViewProjection};
use query::store::{CHECKPOINTS, PARKED, VERSIONS};
use query::ReadStore;

use crate::args::Replayed;
use crate::bulk::{self, KeyTemplate};
use crate::progress::{self, interruptible};
use crate::report::{Backend, Measurement};
use crate::{BenchError, Options};

/// Where one view's replay wrote.
#[derive(Debug, Clone)]
struct Written {
    /// `(collection, its documents)`, bookkeeping left out.
    collections: Vec<(String, Vec<Document>)>,
    keys: Vec<KeyTemplate>,
}

impl Written {
    fn backend(&self) -> Backend {
        match (self.collections.is_empty(), self.keys.is_empty()) {
            (false, true) => Backend::MongoDb,
            (true, false) => Backend::Redis,
            (false, false) => Backend::MongoDbAndRedis,
            (true, true) => Backend::Nothing,
        }
    }
}

/// Replays every view, then bulk-writes as many documents or commands into the same
/// servers; each view's database and keys are removed whatever happens. The views kept
/// in Redis alone are rebuilt together, a group per source, as `commerce replay`
/// rebuilds a service's views (sharing the feed's pages); the others one by one (the
/// MongoDB stand-in serves one writer at a time anyway).
pub async fn measure(
    options: &Options,
    run_id: &str,
    feeds: &Feeds,
) -> Result<Vec<Measurement>, BenchError> {
    let mut measured = Vec::new();
    for group in groups(options) {
        let mut replayed = Vec::new();
        let connected = connect(options, run_id, group, &mut replayed).await;
        let result = match connected {
            Ok(()) => measure_group(options, &replayed, feeds).await,
            Err(err) => Err(err),
        };
        for view in replayed {
            clean(view.store, &view.names).await;
        }
        measured.push(result?);
    }
    Ok(measured)
}

/// Connects each view's store, into `replayed`, until one fails (those connected
/// before it are in `replayed`, to be cleaned).
async fn connect(
    options: &Options,
    run_id: &str,
    group: Vec<View>,
    replayed: &mut Vec<ViewStore>,
) -> Result<(), BenchError> {
    for view in group {
        let names = Names::new(run_id, view);
        let store = ReadStore::connect(&names.settings(options)?).await?;
        replayed.push(ViewStore { view, names, store });
    }
    Ok(())
}

/// The views asked for, those in Redis alone grouped by the feeds they read.
fn groups(options: &Options) -> Vec<Vec<View>> {
    let mut groups: Vec<Vec<View>> = Vec::new();
    for view in View::ALL.into_iter().filter(|v| asked_for(options, *v)) {
        let together = |group: &Vec<View>| {
            view.in_redis_alone()
                && group
                    .iter()
                    .all(|g| g.in_redis_alone() && g.sources() == view.sources())
        };
        match groups.iter_mut().find(|g| together(g)) {
            Some(group) => group.push(view),
            None => groups.push(vec![view]),
        }
    }
    groups
}

/// Whether the run replays into every store `view` writes into.
fn asked_for(options: &Options, view: View) -> bool {
    let in_mongodb = !view.collections().is_empty();
    (!in_mongodb || options.replays(Replayed::Mongodb))
        && (!view.in_redis() || options.replays(Replayed::Redis))
}

/// The throwaway database and Redis prefix of one view.
struct Names {
    database: String,
    prefix: String,
    bulk_prefix: String,
}

impl Names {
    fn new(run_id: &str, view: View) -> Self {
        Self {
            database: format!("bench_{run_id}_{}", view.name()),
            prefix: format!("bench:{run_id}:{}:", view.name()),
            bulk_prefix: format!("bench:{run_id}:bulk:{}:", view.name()),
        }
    }

    /// The query service's settings, pointed at this view's database and prefix.
    fn settings(&self, options: &Options) -> Result<query::Settings, BenchError> {
        let mut settings = query::Settings::from_env()?;
        settings.mongodb_url = options.mongodb_url.clone();
        settings.mongodb_database = self.database.clone();
        settings.redis_url = options.redis_url.clone();
        settings.redis_key_prefix = self.prefix.clone();
        Ok(settings)
    }
}

/// One view to replay, into its own database and prefix.
struct ViewStore {
    view: View,
    names: Names,
    store: ReadStore,
}

/// Rebuilds the views together, then bulk-writes what each wrote, one after another.
async fn measure_group(
    options: &Options,
    views: &[ViewStore],
    feeds: &Feeds,
) -> Result<Measurement, BenchError> {
    let mut runners = Vec::new();
    for replayed in views {
        ensure_indexes(&replayed.store).await?;
        let projection = ViewProjection {
            view: replayed.view,
            projections: Projections::new(replayed.store.clone()),
        };
        let book = Arc::new(ViewBook::new(replayed.store.clone()));
        let settings = options.runner_settings();
        runners.push(Runner::new(projection, book, feeds.clone(), settings));
    }
    let label: Vec<&str> = views.iter().map(|v| v.view.name()).collect();
    let label = label.join(" + ");
    let replay = progress::rebuild_together(&runners, &label).await?;
    let mut measured = Measurement {
        unit: label,
        backend: Backend::Nothing,
        events: replay.events.iter().sum(),
        replay: replay.elapsed,
        bulk_writes: 0,
        bulk: Duration::ZERO,
    };
    for (replayed, events) in views.iter().zip(replay.events) {
        let written = written(&replayed.store, &replayed.names.prefix).await?;
        let target = bulk::Target {
            count: events,
            batch: options.batch,
        };
        let bulk = bulk_write(&replayed.store, &replayed.names, &written, target);
        let bulk = interruptible(bulk).await?;
        measured.bulk += bulk;
        measured.bulk_writes += if bulk.is_zero() { 0 } else { events };
        if measured.backend == Backend::Nothing {
            measured.backend = written.backend();
        }
    }
    Ok(measured)
}

/// The plain write of as many documents (or commands) as the view replayed events,
/// into whichever stores it wrote.
async fn bulk_write(
    store: &ReadStore,
    names: &Names,
    written: &Written,
    target: bulk::Target,
) -> Result<Duration, BenchError> {
    let mut elapsed = Duration::ZERO;
    if !written.collections.is_empty() {
        elapsed += bulk::mongo(&store.db, &written.collections, target).await?;
    }
    if !written.keys.is_empty() {
        let prefixes = (names.prefix.as_str(), names.bulk_prefix.as_str());
        elapsed += bulk::redis(&store.redis, &written.keys, prefixes, target).await?;
    }
    Ok(elapsed)
}

/// What the view left in its database and under its prefix.
async fn written(store: &ReadStore, prefix: &str) -> Result<Written, BenchError> {
    let mut collections = Vec::new();
    for name in store.db.list_collection_names().await? {
        if [CHECKPOINTS, VERSIONS, PARKED].contains(&name.as_str()) {
            continue;
        }
        let documents: Vec<Document> = store
            .db
            .collection::<Document>(&name)
            .find(doc! {})
            .await?
            .try_collect()
            .await?;
        if !documents.is_empty() {
            collections.push((name, documents));
        }
    }
    let keys = bulk::key_templates(&store.redis, prefix).await?;
    Ok(Written { collections, keys })
}

/// Drops the view's database and deletes its keys (the bulk ones too); failures are
/// logged, so the next view still runs and the rest is still cleaned.
async fn clean(store: ReadStore, names: &Names) {
    if let Err(err) = store.db.drop().await {
        tracing::warn!(database = %names.database, error = %err, "cannot drop database");
    }
    for pattern in [&names.prefix, &names.bulk_prefix].map(|p| format!("{p}*")) {
        if let Err(err) = query::projector::redis::delete_matching(&store.redis, &pattern).await {
            tracing::warn!(%pattern, error = %err, "cannot delete keys");
        }
    }
    store.shutdown().await;
}
