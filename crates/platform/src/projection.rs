//! The projection runtime: read models fed from the services' event feeds.
//!
//! A [`Projection`] is a read model written in versions (a MongoDB collection per
//! version, a Redis key prefix, a schema, ...). Its [`Bookkeeping`] (where the store
//! keeps checkpoints, parked events and which version is current) records, per
//! version and per source service, the cursor of the last event applied.
//!
//! A [`Runner`] keeps the current version up to date: each pass reads every source's
//! feed from the checkpoint, in commit order (the relay's gap-safe order, see
//! [`crate::store`]), applies the events one by one and saves the checkpoint after each
//! page. Passes run when the broker says a source has new events ([`Runner::wake`]), and
//! on a timer besides, so an event whose broker message was lost (published before the
//! projection's queue existed, say) is still applied: the broker only makes the read
//! side fast, the feed makes it complete and ordered.
//!
//! An event that fails is tried again a few times, then parked with its error and the
//! projection goes on; a store that is unavailable stops the pass instead (nothing is
//! parked, the checkpoint stays), and the next pass retries. `projection_lag_events`
//! (per projection and source) is how many committed events the last page left unread.
//!
//! [`Runner::rebuild`] builds the next version from the beginning of every feed while
//! the current one keeps serving and being updated, then, holding the runner's gate so
//! no pass runs meanwhile, applies what is left, makes it current (one write), and
//! drops the old version after a grace period for queries already on their way to it.
//! Rebuilds running at once share the pages of the feeds they read
//! ([`crate::feed::FeedClient::slot`]), so views of one service rebuilt together read
//! its feed once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::feed::{FeedClient, FeedError, FeedEvent};
use crate::store::Cursor;

mod read_ahead;
mod set;
use read_ahead::{ReadAhead, Reading};
pub use set::{AnyRunner, ProjectionSet, Wakeups};

/// Why one event was not applied.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApplyError {
    /// The event cannot be applied (malformed, inconsistent): retried, then parked.
    #[error("event refused: {0}")]
    Refused(String),
    /// The read store is unavailable: the pass stops and is retried later.
    #[error("read store unavailable: {0}")]
    Unavailable(String),
}

/// A read model in versions.
pub trait Projection: Send + Sync + 'static {
    /// A stable name: `product_list`, `sales_fact`, ...
    fn name(&self) -> &'static str;
    /// The services whose feeds it reads.
    fn sources(&self) -> &'static [&'static str];
    /// Applies one event to `version`. Must be idempotent: after a crash between a
    /// write and its checkpoint, the page is applied again.
    fn apply(
        &self,
        version: u32,
        event: &FeedEvent,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send;
    /// Applies a whole page at once where the store allows it (one pipeline, one
    /// transaction): a replay then costs a round trip or a commit per page, not per
    /// event. `Ok(false)` when the projection has no such path (the default). On an
    /// error the runner applies the page again event by event, retrying and parking as
    /// usual; `apply` being idempotent, whatever part of the page the batch had
    /// written is harmless.
    fn apply_batch(
        &self,
        version: u32,
        events: &[FeedEvent],
    ) -> impl Future<Output = Result<bool, ApplyError>> + Send {
        let _ = (version, events);
        async { Ok(false) }
    }
    /// Removes whatever `version` holds (before a rebuild into it, or after it was
    /// replaced).
    fn drop_version(&self, version: u32) -> impl Future<Output = Result<(), ApplyError>> + Send;
}

/// Checkpoints, parked events and current versions, kept by the read store.
pub trait Bookkeeping: Send + Sync + 'static {
    fn checkpoint(
        &self,
        projection: &str,
        version: u32,
        source: &str,
    ) -> impl Future<Output = Result<Cursor, ApplyError>> + Send;
    fn save_checkpoint(
        &self,
        projection: &str,
        version: u32,
        source: &str,
        cursor: Cursor,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send;
    /// Forgets every checkpoint of `version`.
    fn clear_checkpoints(
        &self,
        projection: &str,
        version: u32,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send;
    fn park(
        &self,
        projection: &str,
        version: u32,
        event: &FeedEvent,
        error: &str,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send;
    /// The version queries read (1 before any rebuild).
    fn current_version(
        &self,
        projection: &str,
    ) -> impl Future<Output = Result<u32, ApplyError>> + Send;
    /// Makes `version` current, atomically.
    fn promote(
        &self,
        projection: &str,
        version: u32,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send;
}

/// The feeds of the services, by name. Clones share one table, and a runner looks its
/// sources up at every pass, so a feed added later ([`Feeds::insert`]) is read from the
/// next pass on: a test stack starts some services after their readers.
#[derive(Clone, Default)]
pub struct Feeds {
    table: Arc<RwLock<HashMap<String, FeedClient>>>,
    /// The key every client presents to the feeds (never printed).
    api_key: Option<Arc<str>>,
}

impl std::fmt::Debug for Feeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let feeds = self.read_table();
        let mut sources: Vec<&String> = feeds.keys().collect();
        sources.sort();
        f.debug_struct("Feeds").field("sources", &sources).finish()
    }
}

impl Feeds {
    /// From `service=url` pairs.
    pub fn new<'a>(urls: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let feeds = urls
            .into_iter()
            .map(|(service, url)| (service.to_string(), FeedClient::new(url)))
            .collect();
        Self {
            table: Arc::new(RwLock::new(feeds)),
            api_key: None,
        }
    }

    /// The same feeds, read with `api_key` (the services' APIs require one when they
    /// have keys configured); feeds inserted later present it too.
    pub fn with_api_key(self, api_key: Option<&str>) -> Self {
        let Some(key) = api_key else { return self };
        let urls: Vec<(String, String)> = self
            .read_table()
            .iter()
            .map(|(service, client)| (service.clone(), client.base_url().to_string()))
            .collect();
        let feeds = urls
            .iter()
            .map(|(service, url)| (service.clone(), FeedClient::with_api_key(url, Some(key))))
            .collect();
        Self {
            table: Arc::new(RwLock::new(feeds)),
            api_key: Some(Arc::from(key)),
        }
    }

    fn read_table(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, FeedClient>> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or moves) the feed of `service`, for every holder of these feeds.
    pub fn insert(&self, service: &str, url: &str) {
        let client = FeedClient::with_api_key(url, self.api_key.as_deref());
        let mut feeds = self.table.write().unwrap_or_else(|e| e.into_inner());
        feeds.insert(service.to_string(), client);
    }

    /// A client is cheap to clone (its HTTP pool is shared), so none is held across a
    /// page while the table is locked.
    fn get(&self, source: &str) -> Result<FeedClient, RunError> {
        let feeds = self.read_table();
        feeds
            .get(source)
            .cloned()
            .ok_or_else(|| RunError::NoFeed(source.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no feed is configured for {0}")]
    NoFeed(String),
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Store(#[from] ApplyError),
    #[error("{0} is already being rebuilt")]
    AlreadyRebuilding(String),
}

/// How a runner reads and retries.
#[derive(Debug, Clone, Copy)]
pub struct RunnerSettings {
    /// Events per feed page. A page is one batch write (a transaction, a pipeline) and
    /// one checkpoint, so larger pages make a replay fast; a crash applies at most one
    /// page again, which idempotent writes make harmless.
    pub page: i64,
    /// A pass runs at least this often, broker or not.
    pub poll: Duration,
    /// Attempts at a failing event before it is parked.
    pub attempts: u32,
    pub retry_pause: Duration,
    /// How long an old version outlives its replacement.
    pub drop_grace: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            page: 2000,
            poll: Duration::from_secs(1),
            attempts: 3,
            retry_pause: Duration::from_millis(200),
            drop_grace: Duration::from_secs(2),
        }
    }
}

/// How far a rebuild got, for progress bars.
#[derive(Debug, Default)]
pub struct Progress {
    total: AtomicU64,
    done: AtomicU64,
    started: std::sync::Mutex<Option<Instant>>,
    state: std::sync::Mutex<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgressReport {
    pub state: String,
    pub total: u64,
    pub done: u64,
    pub events_per_second: f64,
    pub eta_seconds: Option<f64>,
}

impl Progress {
    fn begin(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        *self.started.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.set_state("rebuilding");
    }

    fn set_state(&self, state: &str) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state.to_string();
    }

    fn add(&self, events: u64) {
        self.done.fetch_add(events, Ordering::Relaxed);
    }

    pub fn report(&self) -> ProgressReport {
        let (total, done) = (
            self.total.load(Ordering::Relaxed),
            self.done.load(Ordering::Relaxed),
        );
        let started = *self.started.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let rate = if elapsed > 0.0 {
            done as f64 / elapsed
        } else {
            0.0
        };
        let eta = (rate > 0.0).then(|| total.saturating_sub(done) as f64 / rate);
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        ProgressReport {
            state: if state.is_empty() {
                "idle".into()
            } else {
                state
            },
            total,
            done,
            events_per_second: rate,
            eta_seconds: eta,
        }
    }
}

/// Why a runner reads its feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Keeping the current version current.
    Live,
    /// Building the next version while the current one serves: pages are shared with
    /// the other rebuilds reading the same feed ([`crate::feed::FeedClient::slot`]).
    Rebuilding,
    /// The rebuild's last reading, alone, before its version is made current.
    Swapping,
}

/// Keeps one projection current, and rebuilds it on demand.
pub struct Runner<P, B> {
    projection: P,
    book: Arc<B>,
    feeds: Feeds,
    settings: RunnerSettings,
    /// Held by each pass and by a rebuild's final catch-up and swap.
    gate: Mutex<()>,
    wake: Notify,
    rebuilding: AtomicBool,
    pub progress: Progress,
}

impl<P: Projection, B: Bookkeeping> Runner<P, B> {
    pub fn new(projection: P, book: Arc<B>, feeds: Feeds, settings: RunnerSettings) -> Self {
        Self {
            projection,
            book,
            feeds,
            settings,
            gate: Mutex::new(()),
            wake: Notify::new(),
            rebuilding: AtomicBool::new(false),
            progress: Progress::default(),
        }
    }

    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// Whether `source` feeds this projection.
    pub fn reads(&self, source: &str) -> bool {
        self.projection.sources().contains(&source)
    }

    pub fn is_rebuilding(&self) -> bool {
        self.rebuilding.load(Ordering::SeqCst)
    }

    /// The version queries read now.
    pub async fn current_version(&self) -> Result<u32, RunError> {
        Ok(self.book.current_version(self.projection.name()).await?)
    }

    /// Asks for a pass soon (several wakes before it runs make one pass).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs passes until `stop` is cancelled. A pass in progress is dropped then, not
    /// finished: catching up a long backlog can take minutes, and dropping is safe,
    /// since every apply is idempotent and a checkpoint is saved only after its page
    /// (the page is applied again at the next start; an open transaction rolls back).
    pub async fn run(&self, stop: CancellationToken) {
        loop {
            let passed = tokio::select! {
                () = stop.cancelled() => return,
                passed = self.pass() => passed,
            };
            if let Err(err) = passed {
                tracing::warn!(projection = self.projection.name(), error = %err,
                    "projection pass failed, will retry");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    /// Brings the current version up to every feed's end.
    pub async fn pass(&self) -> Result<u64, RunError> {
        let _gate = self.gate.lock().await;
        let version = self.book.current_version(self.projection.name()).await?;
        self.catch_up_all(version, Pass::Live).await
    }

    async fn catch_up_all(&self, version: u32, pass: Pass) -> Result<u64, RunError> {
        let mut applied = 0;
        for source in self.projection.sources() {
            applied += self.catch_up(version, source, pass).await?;
        }
        Ok(applied)
    }

    /// Applies `source`'s events after the version's checkpoint, page by page, each
    /// page one batch and one checkpoint, while the pages after it are read ahead
    /// ([`ReadAhead`]): reading the feed costs more than writing most views, so neither
    /// waits for the other.
    async fn catch_up(&self, version: u32, source: &str, pass: Pass) -> Result<u64, RunError> {
        let name = self.projection.name();
        let feed = self.feeds.get(source)?;
        let after = self.book.checkpoint(name, version, source).await?;
        let reading = Reading {
            size: self.settings.page,
            shared: pass == Pass::Rebuilding,
        };
        let mut pages = ReadAhead::start(feed, after, reading);
        let mut applied = 0;
        while let Some(page) = pages.next().await? {
            let Some(last) = page.events.last().map(|e| e.cursor) else {
                self.lag(source, 0);
                break;
            };
            self.apply_page(version, &page.events).await?;
            self.book
                .save_checkpoint(name, version, source, last)
                .await?;
            let count = page.events.len() as u64;
            applied += count;
            if pass != Pass::Live {
                self.progress.add(count);
            }
            self.lag(source, page.remaining);
        }
        Ok(applied)
    }

    fn lag(&self, source: &str, remaining: i64) {
        metrics::gauge!("projection_lag_events", "projection" => self.projection.name(),
            "source" => source.to_string())
        .set(remaining as f64);
    }

    /// Applies a page: as one batch when the projection can, else (or when the batch
    /// failed) one event at a time.
    async fn apply_page(&self, version: u32, events: &[FeedEvent]) -> Result<(), RunError> {
        let name = self.projection.name();
        match self.projection.apply_batch(version, events).await {
            Ok(true) => {
                metrics::counter!("projection_events_total", "projection" => name,
                    "outcome" => "applied")
                .increment(events.len() as u64);
                return Ok(());
            }
            Ok(false) => {}
            Err(error) => {
                tracing::debug!(projection = name, %error, "page failed as a batch, applying it event by event");
            }
        }
        for event in events {
            self.apply_or_park(version, event).await?;
        }
        Ok(())
    }

    /// Applies one event, trying a refused one again before parking it.
    async fn apply_or_park(&self, version: u32, event: &FeedEvent) -> Result<(), RunError> {
        let name = self.projection.name();
        let mut attempt = 1;
        loop {
            match self.projection.apply(version, event).await {
                Ok(()) => {
                    metrics::counter!("projection_events_total", "projection" => name,
                        "outcome" => "applied")
                    .increment(1);
                    return Ok(());
                }
                Err(ApplyError::Refused(error)) if attempt >= self.settings.attempts => {
                    tracing::warn!(projection = name, event_id = %event.event.event_id, %error,
                        "event parked");
                    self.book.park(name, version, event, &error).await?;
                    metrics::counter!("projection_events_total", "projection" => name,
                        "outcome" => "parked")
                    .increment(1);
                    return Ok(());
                }
                Err(ApplyError::Refused(_)) => {
                    attempt += 1;
                    tokio::time::sleep(self.settings.retry_pause).await;
                }
                Err(unavailable) => return Err(unavailable.into()),
            }
        }
    }

    /// Rebuilds the projection into its next version and makes that current; returns
    /// the new version. The current version keeps serving and being updated meanwhile.
    pub async fn rebuild(&self) -> Result<u32, RunError> {
        let name = self.projection.name();
        if self.rebuilding.swap(true, Ordering::SeqCst) {
            return Err(RunError::AlreadyRebuilding(name.to_string()));
        }
        let result = self.rebuild_exclusively().await;
        self.rebuilding.store(false, Ordering::SeqCst);
        self.progress.set_state(match &result {
            Ok(_) => "done",
            Err(_) => "failed",
        });
        result
    }

    async fn rebuild_exclusively(&self) -> Result<u32, RunError> {
        let name = self.projection.name();
        let live = self.book.current_version(name).await?;
        let next = live + 1;
        self.projection.drop_version(next).await?;
        self.book.clear_checkpoints(name, next).await?;
        let mut total = 0;
        for source in self.projection.sources() {
            total += self.feeds.get(source)?.count(Cursor::default()).await?;
        }
        self.progress.begin(total.max(0) as u64);
        self.catch_up_all(next, Pass::Rebuilding).await?;
        {
            let _gate = self.gate.lock().await;
            self.progress.set_state("swapping");
            self.catch_up_all(next, Pass::Swapping).await?;
            self.book.promote(name, next).await?;
        }
        tracing::info!(
            projection = name,
            version = next,
            "rebuilt version is current"
        );
        tokio::time::sleep(self.settings.drop_grace).await;
        self.projection.drop_version(live).await?;
        self.book.clear_checkpoints(name, live).await?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_inserted_later_is_seen_by_every_clone() {
        let feeds = Feeds::new([("order", "http://127.0.0.1:1")]);
        let runner_copy = feeds.clone();
        assert!(matches!(
            runner_copy.get("payment"),
            Err(RunError::NoFeed(_))
        ));
        feeds.insert("payment", "http://127.0.0.1:2");
        assert!(runner_copy.get("payment").is_ok());
        assert!(runner_copy.get("order").is_ok());
    }
}
