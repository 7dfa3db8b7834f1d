//! A feed read ahead of the writes, by a task of its own.
//!
//! Reading a page costs about as much CPU as writing it (the page's body is parsed,
//! its payloads kept as JSON text), so a runner that read and wrote on one task would
//! use one core for both. [`ReadAhead`] reads on a task of its own, which the runtime
//! may run on another core, and keeps three pages in flight ahead of the one being
//! written: one parsed and waiting, one being parsed, and the one after it being built
//! by the service (asked for as soon as the headers of the one before said where it
//! starts). The task stops when the reader is dropped.

use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

use crate::feed::{FeedClient, FeedError, FeedPage, PendingPage};
use crate::store::Cursor;

/// What the task sends: a page, the feed's end (`None`), or why it stopped.
type Item = Result<Option<FeedPage>, FeedError>;

/// The pages of one feed after a cursor, in order, read ahead.
pub struct ReadAhead {
    pages: mpsc::Receiver<Item>,
    url: String,
    _task: AbortOnDropHandle<()>,
}

impl ReadAhead {
    /// Starts reading `feed` after `after`, `size` events a page.
    pub fn start(feed: FeedClient, after: Cursor, size: i64) -> Self {
        let (sender, pages) = mpsc::channel(1);
        let url = feed.base_url().to_string();
        let task = tokio::spawn(read_all(feed, after, size, sender));
        Self {
            pages,
            url,
            _task: AbortOnDropHandle::new(task),
        }
    }

    /// The next page, or `None` once the feed's end was read.
    pub async fn next(&mut self) -> Result<Option<FeedPage>, FeedError> {
        match self.pages.recv().await {
            Some(item) => item,
            // The task ends by sending the end or an error: a closed channel means it
            // panicked, and the pages it did not send must not pass for the end.
            None => Err(FeedError::Interrupted {
                url: self.url.clone(),
            }),
        }
    }
}

async fn read_all(feed: FeedClient, after: Cursor, size: i64, sender: mpsc::Sender<Item>) {
    let outcome = send_pages(&feed, after, size, &sender).await;
    // The feed's end, or why the pages stopped; no one hears it once the reader is gone.
    let _ = sender.send(outcome.map(|()| None)).await;
}

/// Sends the pages one after another until the feed's last, or until the reader is gone.
async fn send_pages(
    feed: &FeedClient,
    after: Cursor,
    size: i64,
    sender: &mpsc::Sender<Item>,
) -> Result<(), FeedError> {
    let mut pending = Some(feed.request(after, size).await?);
    while let Some(current) = pending {
        let (page, next) = read_asking_next(feed, current, size).await?;
        if sender.send(Ok(Some(page))).await.is_err() {
            return Ok(());
        }
        pending = next;
    }
    Ok(())
}

/// Reads `pending`'s body while asking for the page after it, when its headers say
/// one follows (a feed that does not say is asked once the body does).
async fn read_asking_next(
    feed: &FeedClient,
    pending: PendingPage,
    size: i64,
) -> Result<(FeedPage, Option<PendingPage>), FeedError> {
    let announced = pending.following();
    let ask = async {
        match announced {
            Some(after) => feed.request(after, size).await.map(Some),
            None => Ok(None),
        }
    };
    let (page, next) = tokio::join!(pending.read(), ask);
    let page = page?;
    let next = match (next?, page.events.last()) {
        (Some(next), _) => Some(next),
        (None, Some(last)) if page.remaining > 0 => Some(feed.request(last.cursor, size).await?),
        (None, _) => None,
    };
    Ok((page, next))
}
