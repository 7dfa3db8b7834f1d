//! The projection runtime against a real store served as a feed over HTTP: catch-up
//! from the checkpoint in commit order, parking of an event that keeps failing, a
//! store outage that parks nothing, and a rebuild that becomes current and equals the
//! live version; a feed that does not announce its next page in its headers; pages
//! applied as batches, and a failed batch applied again event by
//! event; pages shared by readers asking for them at once, and rebuilds run together. The read model is the test's own (a map per version), since what is
//! under test is the runner, not a read store.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cqrs_es::persist::SerializedEvent;
use platform::feed::{FeedClient, FeedEvent};
use platform::payload::Payload;
use platform::projection::{
    ApplyError, Bookkeeping, Feeds, Projection, RunError, Runner, RunnerSettings,
};
use platform::store::{append_atomically, AggregateAppend, Cursor};
use serde_json::json;
use support::{drop_store, fresh_store};

/// Counts, per version, the units added per sku; refuses events whose sku is "BAD".
#[derive(Default)]
struct StockCount {
    views: Mutex<BTreeMap<u32, BTreeMap<String, i64>>>,
    /// Cursor of the last event applied per version, for idempotence.
    applied: Mutex<HashMap<u32, Cursor>>,
    down: AtomicBool,
    /// Whether pages go through `apply_batch`, and how many batches succeeded.
    batching: AtomicBool,
    batches: AtomicU64,
}

fn view(model: &StockCount, version: u32) -> BTreeMap<String, i64> {
    let views = model.views.lock().unwrap_or_else(|e| e.into_inner());
    views.get(&version).cloned().unwrap_or_default()
}

/// The model as the runner holds it, shared with the test.
#[derive(Clone)]
struct Shared(Arc<StockCount>);

impl Projection for Shared {
    fn name(&self) -> &'static str {
        "stock_count"
    }

    fn sources(&self) -> &'static [&'static str] {
        &["inventory"]
    }

    async fn apply(&self, version: u32, event: &FeedEvent) -> Result<(), ApplyError> {
        if self.0.down.load(Ordering::SeqCst) {
            return Err(ApplyError::Unavailable("down".into()));
        }
        let payload = event.event.payload.to_value();
        let sku = payload["sku"].as_str().unwrap_or_default().to_string();
        if sku == "BAD" {
            return Err(ApplyError::Refused("bad sku".into()));
        }
        let mut applied = self.0.applied.lock().unwrap_or_else(|e| e.into_inner());
        if applied.get(&version).is_some_and(|c| *c >= event.cursor) {
            return Ok(());
        }
        applied.insert(version, event.cursor);
        let quantity = payload["quantity"].as_i64().unwrap_or(0);
        let mut views = self.0.views.lock().unwrap_or_else(|e| e.into_inner());
        *views.entry(version).or_default().entry(sku).or_default() += quantity;
        Ok(())
    }

    /// The events in order, stopping at the first refusal: what a batch that fails
    /// half-way leaves behind.
    async fn apply_batch(&self, version: u32, events: &[FeedEvent]) -> Result<bool, ApplyError> {
        if !self.0.batching.load(Ordering::SeqCst) {
            return Ok(false);
        }
        for event in events {
            self.apply(version, event).await?;
        }
        self.0.batches.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }

    async fn drop_version(&self, version: u32) -> Result<(), ApplyError> {
        self.0
            .views
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&version);
        self.0
            .applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&version);
        Ok(())
    }
}

#[derive(Default)]
struct Book {
    checkpoints: Mutex<HashMap<(u32, String), Cursor>>,
    parked: Mutex<Vec<(String, String)>>,
    current: Mutex<u32>,
}

impl Bookkeeping for Book {
    async fn checkpoint(&self, _: &str, version: u32, source: &str) -> Result<Cursor, ApplyError> {
        let checkpoints = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner());
        Ok(checkpoints
            .get(&(version, source.to_string()))
            .copied()
            .unwrap_or_default())
    }

    async fn save_checkpoint(
        &self,
        _: &str,
        version: u32,
        source: &str,
        cursor: Cursor,
    ) -> Result<(), ApplyError> {
        let mut checkpoints = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner());
        checkpoints.insert((version, source.to_string()), cursor);
        Ok(())
    }

    async fn clear_checkpoints(&self, _: &str, version: u32) -> Result<(), ApplyError> {
        let mut checkpoints = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner());
        checkpoints.retain(|(v, _), _| *v != version);
        Ok(())
    }

    async fn park(
        &self,
        _: &str,
        _: u32,
        event: &FeedEvent,
        error: &str,
    ) -> Result<(), ApplyError> {
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        parked.push((event.event.event_id.to_string(), error.to_string()));
        Ok(())
    }

    async fn current_version(&self, _: &str) -> Result<u32, ApplyError> {
        Ok((*self.current.lock().unwrap_or_else(|e| e.into_inner())).max(1))
    }

    async fn promote(&self, _: &str, version: u32) -> Result<(), ApplyError> {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = version;
        Ok(())
    }
}

fn stock_added(sku: &str, sequence: usize, quantity: i64) -> AggregateAppend {
    let event = SerializedEvent::new(
        sku.into(),
        sequence,
        "Product".into(),
        "StockAdded".into(),
        "1".into(),
        json!({"StockAdded": {"sku": sku, "quantity": quantity}}),
        json!({}),
    );
    AggregateAppend {
        aggregate_type: "Product".into(),
        aggregate_id: sku.into(),
        events: vec![event],
    }
}

struct Bench {
    pool: sqlx::PgPool,
    name: String,
    model: Arc<StockCount>,
    book: Arc<Book>,
    runner: Runner<Shared, Book>,
    feed: FeedClient,
    feeds: Feeds,
    settings: RunnerSettings,
    /// `GET /events` requests the feed served.
    pages_served: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

async fn bench() -> anyhow::Result<Bench> {
    bench_serving(|router| router).await
}

/// A bench whose feed is `serve(the feed's routes)`.
async fn bench_serving(serve: impl FnOnce(axum::Router) -> axum::Router) -> anyhow::Result<Bench> {
    let (pool, name) = fresh_store().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let pages_served = Arc::new(AtomicU64::new(0));
    let counter = pages_served.clone();
    let router = serve(platform::feed::routes("inventory", pool.clone())).layer(
        axum::middleware::map_request(move |request: axum::extract::Request| {
            if request.uri().path() == "/events" {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            async { request }
        }),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let model = Arc::new(StockCount::default());
    let book = Arc::new(Book::default());
    let settings = RunnerSettings {
        page: 2,
        retry_pause: Duration::from_millis(1),
        drop_grace: Duration::from_millis(1),
        ..RunnerSettings::default()
    };
    let feeds = Feeds::new([("inventory", url.as_str())]);
    let runner = Runner::new(Shared(model.clone()), book.clone(), feeds.clone(), settings);
    Ok(Bench {
        pool,
        name,
        model,
        book,
        runner,
        feed: FeedClient::new(&url),
        feeds,
        settings,
        pages_served,
        server,
    })
}

impl Bench {
    /// Runs passes until `events` were applied: a transaction open anywhere in the
    /// cluster (another test's) holds the feed's horizon back for a moment.
    async fn pass_until(&self, events: u64) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut applied = 0;
        while applied < events {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "only {applied} of {events} applied"
            );
            applied += self.runner.pass().await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Waits until the feed shows `events` (see [`Bench::pass_until`]).
    async fn settle(&self, events: i64) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.feed.count(Cursor::default()).await? < events {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the feed never showed {events}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    fn view(&self, version: u32) -> BTreeMap<String, i64> {
        view(&self.model, version)
    }

    fn served(&self) -> u64 {
        self.pages_served.load(Ordering::SeqCst)
    }

    /// The events parked so far: `(event, reason)`.
    fn parked(&self) -> Vec<(String, String)> {
        let parked = self.book.parked.lock().unwrap_or_else(|e| e.into_inner());
        parked.clone()
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.server.abort();
        drop_store(self.pool, &self.name).await
    }
}

#[tokio::test]
async fn a_pass_applies_every_committed_event_once_across_pages() -> anyhow::Result<()> {
    let bench = bench().await?;
    for (i, sku) in ["A", "B", "A", "C", "A"].iter().enumerate() {
        let sequence = 1 + i / 3;
        append_atomically(
            &bench.pool,
            &[stock_added(&format!("{sku}{i}"), sequence, 1)],
        )
        .await?;
    }
    bench.pass_until(5).await?;
    assert_eq!(
        bench.runner.pass().await?,
        0,
        "a further pass finds nothing new"
    );
    assert_eq!(bench.view(1).values().sum::<i64>(), 5);
    bench.stop().await
}

/// A feed of an older release says what follows a page only in its body.
#[tokio::test]
async fn a_feed_that_does_not_announce_its_next_page_is_still_read_to_its_end() -> anyhow::Result<()>
{
    let silent = |router: axum::Router| {
        router.layer(axum::middleware::map_response(
            |mut response: axum::response::Response| async move {
                let headers = response.headers_mut();
                for name in ["feed-remaining", "feed-last-tx", "feed-last-position"] {
                    headers.remove(name);
                }
                response
            },
        ))
    };
    let bench = bench_serving(silent).await?;
    for i in 0..5 {
        append_atomically(&bench.pool, &[stock_added(&format!("S{i}"), 1, 1)]).await?;
    }
    bench.settle(5).await?;
    assert_eq!(bench.runner.pass().await?, 5, "one pass reads every page");
    assert_eq!(bench.view(1).values().sum::<i64>(), 5);
    bench.stop().await
}

#[tokio::test]
async fn a_page_says_where_the_next_one_starts_before_its_body_is_read() -> anyhow::Result<()> {
    let bench = bench().await?;
    for i in 0..5 {
        append_atomically(&bench.pool, &[stock_added(&format!("S{i}"), 1, 1)]).await?;
    }
    bench.settle(5).await?;
    let pending = bench.feed.request(Cursor::default(), 2).await?;
    let announced = pending.following();
    let page = pending.read().await?;
    assert_eq!((page.events.len(), page.remaining), (2, 3));
    assert_eq!(announced, page.events.last().map(|e| e.cursor));
    let payload = page.events[0].event.payload.to_value();
    assert_eq!(
        payload,
        json!({"sku": "S0", "quantity": 1}),
        "untagged, as text"
    );

    let last = bench.feed.request(page.events[1].cursor, 5).await?;
    assert_eq!(last.following(), None, "nothing follows the end");
    let last = last.read().await?;
    assert_eq!((last.events.len(), last.remaining), (3, 0));
    bench.stop().await
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_parked_and_the_rest_applied() -> anyhow::Result<()> {
    let bench = bench().await?;
    append_atomically(&bench.pool, &[stock_added("A", 1, 2)]).await?;
    append_atomically(&bench.pool, &[stock_added("BAD", 1, 5)]).await?;
    append_atomically(&bench.pool, &[stock_added("B", 1, 3)]).await?;
    bench.pass_until(2).await?;
    assert_eq!(
        bench.view(1),
        BTreeMap::from([("A".into(), 2), ("B".into(), 3)])
    );
    let parked = bench.parked();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].1, "bad sku");
    bench.stop().await
}

#[tokio::test]
async fn an_unavailable_read_store_parks_nothing_and_keeps_the_checkpoint() -> anyhow::Result<()> {
    let bench = bench().await?;
    append_atomically(&bench.pool, &[stock_added("A", 1, 2)]).await?;
    bench.model.down.store(true, Ordering::SeqCst);
    let failed = loop {
        match bench.runner.pass().await {
            Ok(0) => tokio::time::sleep(Duration::from_millis(20)).await,
            other => break other,
        }
    };
    assert!(
        matches!(failed, Err(RunError::Store(ApplyError::Unavailable(_)))),
        "{failed:?}"
    );
    assert!(bench.parked().is_empty());
    bench.model.down.store(false, Ordering::SeqCst);
    bench.pass_until(1).await?;
    assert_eq!(bench.view(1), BTreeMap::from([("A".into(), 2)]));
    bench.stop().await
}

#[tokio::test]
async fn a_rebuild_becomes_current_equal_to_the_live_version_and_drops_it() -> anyhow::Result<()> {
    let bench = bench().await?;
    for (i, sku) in ["A", "B", "A"].iter().enumerate() {
        append_atomically(
            &bench.pool,
            &[stock_added(&format!("{sku}{i}"), 1, i as i64 + 1)],
        )
        .await?;
    }
    bench.pass_until(3).await?;
    let live = bench.view(1);
    assert_eq!(bench.runner.rebuild().await?, 2);
    assert_eq!(bench.book.current_version("stock_count").await?, 2);
    assert_eq!(bench.view(2), live);
    assert!(bench.view(1).is_empty(), "the old version is dropped");
    let report = bench.runner.progress.report();
    assert_eq!(
        (report.total, report.done, report.state.as_str()),
        (3, 3, "done")
    );
    // The runner goes on with the new version.
    append_atomically(&bench.pool, &[stock_added("Z", 1, 7)]).await?;
    bench.pass_until(1).await?;
    assert_eq!(bench.view(2).get("Z"), Some(&7));
    bench.stop().await
}

#[tokio::test]
async fn pages_applied_as_batches_apply_every_event_once() -> anyhow::Result<()> {
    let bench = bench().await?;
    bench.model.batching.store(true, Ordering::SeqCst);
    for (i, sku) in ["A", "B", "A", "C", "A"].iter().enumerate() {
        append_atomically(&bench.pool, &[stock_added(&format!("{sku}{i}"), 1, 2)]).await?;
    }
    bench.pass_until(5).await?;
    assert_eq!(bench.view(1).values().sum::<i64>(), 10);
    assert!(
        bench.model.batches.load(Ordering::SeqCst) >= 3,
        "pages of 2"
    );
    bench.stop().await
}

#[tokio::test]
async fn a_batch_that_fails_is_applied_again_event_by_event_parking_only_the_bad_event(
) -> anyhow::Result<()> {
    let bench = bench().await?;
    bench.model.batching.store(true, Ordering::SeqCst);
    append_atomically(&bench.pool, &[stock_added("A", 1, 2)]).await?;
    append_atomically(&bench.pool, &[stock_added("BAD", 1, 5)]).await?;
    append_atomically(&bench.pool, &[stock_added("B", 1, 3)]).await?;
    bench.pass_until(3).await?;
    assert_eq!(
        bench.view(1),
        BTreeMap::from([("A".into(), 2), ("B".into(), 3)]),
        "A, applied by the failed batch and again on its own, counts once"
    );
    let parked = bench.parked();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].1, "bad sku");
    bench.stop().await
}

#[tokio::test]
async fn readers_of_a_page_at_once_share_one_read_and_the_feeds_end_is_never_kept(
) -> anyhow::Result<()> {
    let bench = bench().await?;
    for i in 0..5 {
        append_atomically(&bench.pool, &[stock_added(&format!("S{i}"), 1, 1)]).await?;
    }
    bench.settle(5).await?;
    let before = bench.served();
    let (one, other) = (
        bench.feed.slot(Cursor::default(), 2, true),
        bench.feed.slot(Cursor::default(), 2, true),
    );
    let (page, same) = (one.page().await?, other.page().await?);
    assert!(Arc::ptr_eq(&page, &same), "one page for both");
    assert_eq!(bench.served() - before, 1, "read once");
    let second_start = page.events.last().map(|e| e.cursor);
    assert_eq!(one.following().await, second_start);

    drop((one, other, page, same));
    let again = bench.feed.slot(Cursor::default(), 2, true).page().await?;
    assert_eq!(
        bench.served() - before,
        2,
        "read again once no reader holds it"
    );

    let end = again.events.last().map(|e| e.cursor).unwrap_or_default();
    let end = bench.feed.slot(end, 5, true);
    let last = end.page().await?;
    assert_eq!(bench.served() - before, 3);
    assert_eq!((last.events.len(), last.remaining), (3, 0));
    let _anew = bench
        .feed
        .slot(again.events[1].cursor, 5, true)
        .page()
        .await?;
    assert_eq!(
        bench.served() - before,
        4,
        "the feed's end is read anew, though a reader holds it"
    );

    let alone = bench.feed.slot(Cursor::default(), 2, false).page().await?;
    assert!(!Arc::ptr_eq(&alone, &again), "a reader alone reads alone");
    assert_eq!(bench.served() - before, 5);
    bench.stop().await
}

#[tokio::test]
async fn rebuilds_run_together_each_apply_every_event_once() -> anyhow::Result<()> {
    let bench = bench().await?;
    for (i, sku) in ["A", "B", "A", "C", "A"].iter().enumerate() {
        append_atomically(&bench.pool, &[stock_added(&format!("{sku}{i}"), 1, 2)]).await?;
    }
    bench.pass_until(5).await?;
    let live = bench.view(1);
    let model = Arc::new(StockCount::default());
    let other = Runner::new(
        Shared(model.clone()),
        Arc::new(Book::default()),
        bench.feeds.clone(),
        bench.settings,
    );
    let (one, two) = tokio::join!(bench.runner.rebuild(), other.rebuild());
    assert_eq!((one?, two?), (2, 2));
    assert_eq!(bench.view(2), live);
    assert_eq!(view(&model, 2), live);
    bench.stop().await
}
