//! A feed read ahead of the writes, by a task of its own.
//!
//! Reading a page costs about as much CPU as writing it (the page's body is parsed,
//! its payloads kept as JSON text), so a runner that read and wrote on one task would
//! use one core for both. [`ReadAhead`] reads on a task of its own, which the runtime
//! may run on another core, and keeps three pages in flight ahead of the one being
//! written: one parsed and waiting, one being parsed, and the one after it being built
//! by the service (asked for as soon as the headers of the one before said where it
//! starts). The task stops when the reader is dropped.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

use crate::feed::{FeedClient, FeedError, FeedPage};
use crate::store::Cursor;

/// What the task sends: a page, the feed's end (`None`), or why it stopped.
type Item = Result<Option<Arc<FeedPage>>, FeedError>;

/// The pages of one feed after a cursor, in order, read ahead.
pub struct ReadAhead {
    pages: mpsc::Receiver<Item>,
    url: String,
    _task: AbortOnDropHandle<()>,
}

/// How a [`ReadAhead`] reads its feed.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// Events a page.
    pub size: i64,
    /// Whether the pages are shared with other rebuilds reading them (see
    /// [`crate::feed::FeedClient::slot`]).
    pub shared: bool,
}

impl ReadAhead {
    /// Starts reading `feed` after `after`.
    pub fn start(feed: FeedClient, after: Cursor, reading: Reading) -> Self {
        let (sender, pages) = mpsc::channel(1);
        let url = feed.base_url().to_string();
        let task = tokio::spawn(read_all(feed, after, reading, sender));
        Self {
            pages,
            url,
            _task: AbortOnDropHandle::new(task),
        }
    }

    /// The next page, or `None` once the feed's end was read.
    pub async fn next(&mut self) -> Result<Option<Arc<FeedPage>>, FeedError> {
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

async fn read_all(feed: FeedClient, after: Cursor, reading: Reading, sender: mpsc::Sender<Item>) {
    let outcome = send_pages(&feed, after, reading, &sender).await;
    // The feed's end, or why the pages stopped; no one hears it once the reader is gone.
    let _ = sender.send(outcome.map(|()| None)).await;
}

/// Sends the pages one after another until the feed's last, or until the reader is
/// gone. Each page's slot asks for the page after it as soon as its headers say where
/// that one starts (a feed that does not say is asked once the body does).
async fn send_pages(
    feed: &FeedClient,
    after: Cursor,
    reading: Reading,
    sender: &mpsc::Sender<Item>,
) -> Result<(), FeedError> {
    let slot = |after: Cursor| feed.slot(after, reading.size, reading.shared);
    let mut current = Some(slot(after));
    while let Some(this) = current {
        let announced = this.following().await.map(slot);
        let page = this.page().await.map_err(FeedError::Shared)?;
        current = announced.or_else(|| page.following().map(slot));
        if sender.send(Ok(Some(page))).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}
