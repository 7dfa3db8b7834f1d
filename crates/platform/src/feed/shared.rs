//! Pages of a feed read once for every rebuild reading them at the same time.
//!
//! `commerce replay` rebuilds a service's projections together, and each rebuild reads
//! its sources from the beginning: five order views rebuilt at once would have the
//! order service build, and the query service parse, every page of the order feed five
//! times. Reading the feed was most of a view's replay (the writes hid behind it), so
//! the rebuilds share their pages instead: a page asked for while the same page (same
//! cursor, same size) is being read, or is still held by a reader, is that page.
//!
//! Sharing is safe for a full page: it holds the first `size` events committed after
//! its cursor, and no event can commit among them later ([`crate::store`]: every
//! transaction below the snapshot's xmin is over). The feed's last page is not final,
//! so it is kept only while it is read: a rebuild joining it sees the feed as it was
//! a moment before it asked, and each rebuild reads its sources again, alone, before
//! its version is made current. Live passes never share: a pass woken by a commit
//! must read after that commit.
//!
//! A [`Slot`] is one page on its way: its driver task asks for it, says where the next
//! page starts as soon as the response's headers do (so readers can ask for that one
//! while this one's body is parsed), then delivers the page. Finished pages are held
//! weakly, so memory goes with the readers: a rebuild that lags far behind the others
//! reads the pages they have dropped again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use futures::future::{BoxFuture, Shared};
use futures::FutureExt;
use tokio::sync::oneshot;

use super::{FeedClient, FeedError, FeedPage};
use crate::store::Cursor;

/// A page, or why it could not be read (shared by every reader of the slot).
pub type PageResult = Result<Arc<FeedPage>, Arc<FeedError>>;

/// One page on its way to its readers.
#[derive(Clone)]
pub struct Slot {
    following: Shared<BoxFuture<'static, Option<Cursor>>>,
    page: Shared<BoxFuture<'static, PageResult>>,
}

impl Slot {
    /// Starts reading the page of `feed` after `after` on a task of its own; `pages`
    /// hears of it when it is read, if it is to keep it.
    fn start(feed: FeedClient, after: Cursor, size: i64, pages: Option<Weak<Pages>>) -> Self {
        let (announce, following) = oneshot::channel();
        let (deliver, page) = oneshot::channel();
        let url = feed.base_url().to_string();
        tokio::spawn(async move {
            let result = read(&feed, after, size, announce).await;
            if let Some(pages) = pages.and_then(|p| p.upgrade()) {
                pages.settle((after, size), &result);
            }
            let _ = deliver.send(result);
        });
        // The task ends by delivering: a page never delivered means it panicked.
        let lost = move || Arc::new(FeedError::Interrupted { url });
        Self {
            following: following.map(|f| f.ok().flatten()).boxed().shared(),
            page: page
                .map(move |p| p.unwrap_or_else(|_| Err(lost())))
                .boxed()
                .shared(),
        }
    }

    /// A slot for a page already read.
    fn ready(page: Arc<FeedPage>) -> Self {
        let following = page.following();
        Self {
            following: futures::future::ready(following).boxed().shared(),
            page: futures::future::ready(Ok(page)).boxed().shared(),
        }
    }

    /// Where the next page starts, once the response's headers say; `None` when no
    /// page follows, or when the headers do not say (then [`Slot::page`] does).
    pub async fn following(&self) -> Option<Cursor> {
        self.following.clone().await
    }

    pub async fn page(&self) -> PageResult {
        self.page.clone().await
    }
}

/// Asks for the page, announces what follows it from the headers, reads the body.
async fn read(
    feed: &FeedClient,
    after: Cursor,
    size: i64,
    announce: oneshot::Sender<Option<Cursor>>,
) -> PageResult {
    let pending = feed.request(after, size).await.map_err(Arc::new)?;
    let _ = announce.send(pending.following());
    pending.read().await.map(Arc::new).map_err(Arc::new)
}

/// A page being read, or read and still held by someone.
enum Entry {
    Reading(Slot),
    Read(Weak<FeedPage>),
}

/// The pages of one feed being shared, by `(cursor, size)`.
#[derive(Default)]
pub struct Pages {
    entries: Mutex<HashMap<(Cursor, i64), Entry>>,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").finish_non_exhaustive()
    }
}

impl Pages {
    /// The page of `feed` after `after`: the one being read or held, else a new read.
    pub fn slot(self: &Arc<Self>, feed: &FeedClient, after: Cursor, size: i64) -> Slot {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let key = (after, size);
        match entries.get(&key) {
            Some(Entry::Reading(slot)) => return slot.clone(),
            Some(Entry::Read(page)) => {
                if let Some(page) = page.upgrade() {
                    return Slot::ready(page);
                }
            }
            None => {}
        }
        entries.retain(|_, entry| match entry {
            Entry::Reading(_) => true,
            Entry::Read(page) => page.strong_count() > 0,
        });
        let slot = Slot::start(feed.clone(), after, size, Some(Arc::downgrade(self)));
        entries.insert(key, Entry::Reading(slot.clone()));
        slot
    }

    /// A page was read (or failed): a full one is kept for as long as a reader holds
    /// it, anything else is forgotten.
    fn settle(&self, key: (Cursor, i64), result: &PageResult) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(page) if page.following().is_some() => {
                entries.insert(key, Entry::Read(Arc::downgrade(page)));
            }
            _ => {
                entries.remove(&key);
            }
        }
    }
}

/// A page read for one reader alone.
pub fn unshared(feed: &FeedClient, after: Cursor, size: i64) -> Slot {
    Slot::start(feed.clone(), after, size, None)
}
