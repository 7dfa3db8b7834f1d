//! The poller that sees orders finish: one task holds every order published and not
//! yet seen finished, and in rounds (one every poll interval) asks the query service
//! for the status (`GET /orders/{id}/status`, the Redis view) of each one whose end
//! the bus has announced ([`super::ends`]), until it shows `confirmed` or `cancelled`,
//! or the completion timeout passes. An order's latency is from its publish to the
//! response that first showed it confirmed, so the resolution is about one round: the
//! poll interval plus the round's own duration.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How many status requests one round keeps in flight.
const ROUND_CONCURRENCY: usize = 16;

/// How an order ended, as the query service showed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Confirmed,
    Cancelled,
    TimedOut,
}

/// One watched order, once finished.
#[derive(Debug, Clone)]
pub struct Finished {
    pub order_id: String,
    pub published: Instant,
    pub seen: Instant,
    pub outcome: Outcome,
}

struct Watch {
    order_id: String,
    published: Instant,
    notify: Option<oneshot::Sender<Outcome>>,
}

/// What the poller saw over its life.
#[derive(Debug, Default)]
pub struct Seen {
    pub finished: Vec<Finished>,
    pub requests: u64,
    pub errors: u64,
    /// Rounds that polled at least one order, and their total duration: a round's
    /// length (with the poll interval) is the latency's resolution.
    pub rounds: u64,
    pub round_time: Duration,
}

/// A running poller; [`Tracker::finish`] waits for every watched order.
pub struct Tracker {
    watches: mpsc::UnboundedSender<Watch>,
    task: JoinHandle<Seen>,
}

/// Where the tracker asks, how often, and for how long.
#[derive(Debug, Clone)]
pub struct TrackerSettings {
    pub query_url: String,
    pub amqp_url: String,
    pub interval: Duration,
    pub timeout: Duration,
}

impl Tracker {
    /// Starts listening for orders' ends on the bus, then polling.
    pub async fn start(
        http: reqwest::Client,
        settings: &TrackerSettings,
    ) -> Result<Self, lapin::Error> {
        let ends = super::ends::listen(&settings.amqp_url).await?;
        let (watches, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(poll(http, settings.clone(), receiver, ends));
        Ok(Self { watches, task })
    }

    /// A handle that can watch orders from other tasks.
    pub fn handle(&self) -> TrackerHandle {
        TrackerHandle {
            watches: self.watches.clone(),
        }
    }

    /// Stops taking orders and waits until every watched one finished or timed out.
    pub async fn finish(self) -> Option<Seen> {
        drop(self.watches);
        self.task.await.ok()
    }
}

/// A cloneable way to add orders to a [`Tracker`].
#[derive(Clone)]
pub struct TrackerHandle {
    watches: mpsc::UnboundedSender<Watch>,
}

impl TrackerHandle {
    /// Watches `order_id`, published at `published`; `notify` hears how it ended.
    pub fn watch(
        &self,
        order_id: String,
        published: Instant,
        notify: Option<oneshot::Sender<Outcome>>,
    ) {
        // The poller outlives every handle; a send fails only if it panicked, and
        // `Tracker::finish` reports that.
        let _ = self.watches.send(Watch {
            order_id,
            published,
            notify,
        });
    }
}

async fn poll(
    http: reqwest::Client,
    settings: TrackerSettings,
    mut receiver: mpsc::UnboundedReceiver<Watch>,
    mut ends: mpsc::UnboundedReceiver<String>,
) -> Seen {
    let (query_url, timeout) = (&settings.query_url, settings.timeout);
    let mut pending: HashMap<String, Watch> = HashMap::new();
    let mut announced = Announced::default();
    let mut seen = Seen::default();
    let mut open = true;
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while open || !pending.is_empty() {
        ticker.tick().await;
        loop {
            match receiver.try_recv() {
                Ok(watch) => {
                    pending.insert(watch.order_id.clone(), watch);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        announced.hear(&mut ends);
        let ids = announced.due(&pending, timeout);
        let round = Instant::now();
        let statuses: Vec<(String, Result<Option<String>, ()>, Instant)> =
            futures::stream::iter(ids.into_iter().map(|id| {
                let http = &http;
                let url = format!("{query_url}/orders/{id}/status");
                async move {
                    let status = status_of(http, &url).await;
                    (id, status, Instant::now())
                }
            }))
            .buffer_unordered(ROUND_CONCURRENCY)
            .collect()
            .await;
        if !statuses.is_empty() {
            seen.rounds += 1;
            seen.round_time += round.elapsed();
        }
        for (id, status, at) in statuses {
            seen.requests += 1;
            let outcome = match status {
                Ok(Some(s)) if s == "confirmed" => Some(Outcome::Confirmed),
                Ok(Some(s)) if s == "cancelled" => Some(Outcome::Cancelled),
                Ok(_) => None,
                Err(()) => {
                    seen.errors += 1;
                    None
                }
            };
            let timed_out = pending
                .get(&id)
                .is_some_and(|w| at.duration_since(w.published) > timeout);
            let outcome = match (outcome, timed_out) {
                (Some(outcome), _) => outcome,
                (None, true) => Outcome::TimedOut,
                (None, false) => continue,
            };
            announced.forget(&id);
            if let Some(watch) = pending.remove(&id) {
                if let Some(notify) = watch.notify {
                    let _ = notify.send(outcome);
                }
                seen.finished.push(Finished {
                    order_id: id,
                    published: watch.published,
                    seen: at,
                    outcome,
                });
            }
        }
    }
    seen
}

/// The orders whose end the bus announced, while it is heard.
#[derive(Default)]
struct Announced {
    ids: HashSet<String>,
    deaf: bool,
}

impl Announced {
    fn hear(&mut self, ends: &mut mpsc::UnboundedReceiver<String>) {
        loop {
            match ends.try_recv() {
                Ok(order_id) => {
                    self.ids.insert(order_id);
                }
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.deaf = true;
                    return;
                }
            }
        }
    }

    /// The pending orders to ask for this round: those announced, and those past the
    /// timeout (asked once more before they count as timed out); every one when the
    /// bus went quiet for good.
    fn due(&self, pending: &HashMap<String, Watch>, timeout: Duration) -> Vec<String> {
        let now = Instant::now();
        pending
            .values()
            .filter(|w| {
                self.deaf
                    || self.ids.contains(&w.order_id)
                    || now.duration_since(w.published) > timeout
            })
            .map(|w| w.order_id.clone())
            .collect()
    }

    fn forget(&mut self, order_id: &str) {
        self.ids.remove(order_id);
    }
}

/// The order's status: `Ok(None)` while the view does not have it (404), `Err` when
/// the request failed or the answer is not a status.
async fn status_of(http: &reqwest::Client, url: &str) -> Result<Option<String>, ()> {
    let response = http.get(url).send().await.map_err(|_| ())?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !response.status().is_success() {
        return Err(());
    }
    let body: serde_json::Value = response.json().await.map_err(|_| ())?;
    Ok(body["status"].as_str().map(str::to_string))
}
