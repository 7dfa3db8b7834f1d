//! The wake-up of a poller (the outbox relay, the saga's command dispatcher): whoever
//! commits work for it in the same process signals, and the poller, when it found
//! nothing, waits for a signal or its poll interval, whichever comes first. Work then
//! leaves as soon as it is committed instead of up to an interval later, at every hop
//! of a saga, while the interval still bounds the wait for work committed where no
//! signal reaches (another replica, a tool, a recovered transaction).
//!
//! A signal sent while no one waits is kept (one permit, as [`Notify::notify_one`]
//! keeps it), so a commit that lands between the poller's last read and its wait is
//! never missed; signals sent meanwhile make one wake-up. A poller that follows the
//! event store waits with [`Wake::idle_following`], which also covers commits that
//! its read still holds back.
//!
//! Why not PostgreSQL's `LISTEN`/`NOTIFY`: a transaction that notifies takes one
//! lock for the whole cluster at commit, which would serialise the group-committed
//! appends the command path relies on.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;

use crate::store::{self, Cursor, StoreError};

/// A poller's wake-up. Cheap to clone; clones signal the same poller.
#[derive(Debug, Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// Says that work was committed for the poller.
    pub fn signal(&self) {
        self.0.notify_one();
    }

    /// Waits for a signal (or one kept from before), at most `poll`.
    pub async fn idle(&self, poll: Duration) {
        tokio::select! {
            () = self.0.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }

    /// The idle wait of a follower of the event store that read nothing after `after`
    /// (the relay, the notification dispatcher): [`Self::idle`], unless committed events
    /// there wait for an older transaction to end ([`store::held_back_after`]). That end
    /// signals no one, so the follower then looks again after
    /// [`store::HELD_BACK_RECHECK`] instead.
    pub async fn idle_following(
        &self,
        pool: &PgPool,
        after: Cursor,
        poll: Duration,
    ) -> Result<(), StoreError> {
        if store::held_back_after(pool, after).await? {
            tokio::time::sleep(store::HELD_BACK_RECHECK.min(poll)).await;
        } else {
            self.idle(poll).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_sent_before_the_wait_ends_it_at_once() {
        let wake = Wake::default();
        wake.signal();
        let waited =
            tokio::time::timeout(Duration::from_secs(5), wake.idle(Duration::from_secs(60)));
        assert!(waited.await.is_ok());
    }

    #[tokio::test]
    async fn without_a_signal_the_wait_lasts_the_poll_interval() {
        let wake = Wake::default();
        let started = std::time::Instant::now();
        wake.idle(Duration::from_millis(100)).await;
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn many_signals_make_one_wake_up() {
        let wake = Wake::default();
        wake.signal();
        wake.signal();
        wake.idle(Duration::from_secs(60)).await;
        let second = tokio::time::timeout(
            Duration::from_millis(50),
            wake.idle(Duration::from_secs(60)),
        );
        assert!(
            second.await.is_err(),
            "a second wake-up from signals already taken"
        );
    }
}
