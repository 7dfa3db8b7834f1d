//! The workload, over the broker like the demo: products with ample stock and
//! registered customers first, then `order.PlaceOrder` commands paid with `tok_ok`
//! (the card the provider simulator approves), offered either at a fixed rate (open
//! loop) or by a fixed number of customers each placing its next order when the last
//! one is seen finished (closed loop). The [`Tracker`] sees each one finish.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use cli::client::{CommandClient, SendOptions};
use platform::command_bus::ReplyStatus;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::stats::{Latency, Offered, OrderSample, PhaseStats};
use super::tracker::{Outcome, Tracker, TrackerHandle};
use super::E2eError;

/// Units of stock each product gets: the most `AddStock` takes, more than a run sells.
const STOCK: u64 = 1_000_000;
const PRICE_CENTS: u64 = 500;
/// How long to wait for the order service to learn of the registered customers.
const CUSTOMERS_TIMEOUT: Duration = Duration::from_secs(60);

/// The catalogue and customers of one run, and the client that places orders.
pub struct Workload {
    pub client: Arc<CommandClient>,
    run_id: String,
    skus: Vec<String>,
    customers: Vec<String>,
    next_order: AtomicU64,
}

impl Workload {
    /// Adds `products` products with [`STOCK`] units each and registers `customers`
    /// customers, then waits until the order service holds every customer as active
    /// (read from its database: it learns of them from the user service's events).
    pub async fn seed(
        client: CommandClient,
        run_id: &str,
        products: usize,
        customers: usize,
        order_database_url: &str,
    ) -> Result<Self, E2eError> {
        let skus: Vec<String> = (0..products.max(1))
            .map(|i| format!("E2E-{run_id}-{i:03}"))
            .collect();
        let customers: Vec<String> = (0..customers.max(1))
            .map(|i| format!("cust-{run_id}-{i:03}"))
            .collect();
        let client = Arc::new(client);
        let adds = skus.iter().map(|sku| {
            let client = client.clone();
            async move {
                let product = json!({"sku": sku, "name": format!("Bench {sku}"),
                    "category": "bench", "price_cents": PRICE_CENTS});
                setup(&client, "inventory.AddProduct", product).await?;
                setup(
                    &client,
                    "inventory.AddStock",
                    json!({"sku": sku, "quantity": STOCK}),
                )
                .await
            }
        });
        futures::future::try_join_all(adds).await?;
        let registrations = customers.iter().map(|id| {
            let body = json!({"user_id": id, "email": format!("{id}@example.com"),
                "name": format!("Customer {id}")});
            let client = client.clone();
            async move { setup(&client, "user.RegisterUser", body).await }
        });
        futures::future::try_join_all(registrations).await?;
        customers_known(order_database_url, customers.len()).await?;
        Ok(Self {
            client,
            run_id: run_id.to_string(),
            skus,
            customers,
            next_order: AtomicU64::new(0),
        })
    }

    /// The next order: a new id, one customer and one product in turn, one unit.
    fn next_order(&self, phase: &str) -> (String, Value) {
        let n = self.next_order.fetch_add(1, Ordering::Relaxed);
        let pick = |list: &[String]| list[(n as usize) % list.len()].clone();
        let order_id = format!("e2e-{}-{phase}-{n:06}", self.run_id);
        let body = json!({"order_id": order_id, "customer_id": pick(&self.customers),
            "card_token": "tok_ok",
            "lines": [{"sku": pick(&self.skus), "quantity": 1, "unit_price_cents": PRICE_CENTS}]});
        (order_id, body)
    }

    /// Publishes one order and, once accepted, hands it to the tracker; `false` when
    /// it was refused or got no reply (logged).
    async fn place(
        &self,
        phase: &str,
        tracker: &TrackerHandle,
        notify: Option<oneshot::Sender<Outcome>>,
        published: &Published,
    ) -> bool {
        let (order_id, body) = self.next_order(phase);
        let started = Instant::now();
        published.record(started);
        let options = SendOptions::default().command_id(format!("place-{order_id}"));
        match self
            .client
            .send_json("order.PlaceOrder", &body, options)
            .await
        {
            Ok(reply) if reply.status == ReplyStatus::Accepted => {
                tracker.watch(order_id, started, notify);
                true
            }
            Ok(reply) => {
                tracing::warn!(order_id, error = ?reply.error, "order refused");
                false
            }
            Err(err) => {
                tracing::warn!(order_id, error = %err, "order not acknowledged");
                false
            }
        }
    }

    /// Open loop: `rate` orders/s for `duration`, each published on schedule whatever
    /// the system does (publishes run concurrently).
    pub async fn open_loop(
        self: &Arc<Self>,
        phase: &'static str,
        rate: f64,
        duration: Duration,
        tracker: Tracker,
    ) -> Result<PhaseStats, E2eError> {
        let count = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
        let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let published = Arc::new(Published::default());
        let handle = tracker.handle();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..count {
            ticker.tick().await;
            let (me, handle, published) = (self.clone(), handle.clone(), published.clone());
            tasks.spawn(async move { me.place(phase, &handle, None, &published).await });
        }
        let refused = tasks.join_all().await.iter().filter(|ok| !**ok).count() as u64;
        drop(handle);
        summarise(phase, Offered::Rate(rate), tracker, &published, refused).await
    }

    /// Closed loop: `concurrency` customers, each placing an order, waiting until it
    /// is seen finished, and placing the next, until `duration` passed or `limit`
    /// orders were placed.
    pub async fn closed_loop(
        self: &Arc<Self>,
        phase: &'static str,
        concurrency: usize,
        duration: Duration,
        limit: Option<u64>,
        tracker: Tracker,
    ) -> Result<PhaseStats, E2eError> {
        let deadline = Instant::now() + duration;
        let published = Arc::new(Published::default());
        let started = Arc::new(AtomicU64::new(0));
        let handle = tracker.handle();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let (me, handle) = (self.clone(), handle.clone());
            let (published, started) = (published.clone(), started.clone());
            tasks.spawn(async move {
                let mut refused = 0_u64;
                while Instant::now() < deadline
                    && limit.is_none_or(|l| started.fetch_add(1, Ordering::Relaxed) < l)
                {
                    let (notify, finished) = oneshot::channel();
                    if me.place(phase, &handle, Some(notify), &published).await {
                        let _ = finished.await;
                    } else {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                refused
            });
        }
        drop(handle);
        let refused = tasks.join_all().await.iter().sum();
        summarise(
            phase,
            Offered::Concurrency(concurrency),
            tracker,
            &published,
            refused,
        )
        .await
    }
}

/// The first and last publish instants of a phase, and how many.
#[derive(Debug, Default)]
struct Published {
    times: std::sync::Mutex<Option<(Instant, Instant)>>,
}

impl Published {
    fn record(&self, at: Instant) {
        if let Ok(mut times) = self.times.lock() {
            *times = Some(match *times {
                None => (at, at),
                Some((first, last)) => (first.min(at), last.max(at)),
            });
        }
    }

    fn span(&self) -> Option<(Instant, Instant)> {
        self.times.lock().ok().and_then(|t| *t)
    }
}

async fn summarise(
    name: &'static str,
    offered: Offered,
    tracker: Tracker,
    published: &Published,
    refused: u64,
) -> Result<PhaseStats, E2eError> {
    let seen = tracker.finish().await.ok_or(E2eError::PollerFailed)?;
    let count = |o: Outcome| seen.finished.iter().filter(|f| f.outcome == o).count() as u64;
    let (first, last) = published.span().unwrap_or_else(|| {
        let now = Instant::now();
        (now, now)
    });
    let end = seen.finished.iter().map(|f| f.seen).max().unwrap_or(last);
    let confirmed: Vec<_> = seen
        .finished
        .iter()
        .filter(|f| f.outcome == Outcome::Confirmed)
        .collect();
    let latency = confirmed
        .iter()
        .map(|f| f.seen.duration_since(f.published))
        .collect();
    // Instants to wall-clock times, to compare with the stores' timestamps.
    let (now, wall) = (Instant::now(), SystemTime::now());
    let at = |instant: Instant| wall - now.duration_since(instant);
    let samples = confirmed
        .iter()
        .map(|f| OrderSample {
            order_id: f.order_id.clone(),
            published: at(f.published),
            seen: at(f.seen),
        })
        .collect();
    Ok(PhaseStats {
        name,
        offered,
        placed: seen.finished.len() as u64,
        refused,
        confirmed: count(Outcome::Confirmed),
        cancelled: count(Outcome::Cancelled),
        timed_out: count(Outcome::TimedOut),
        publish_span: last.duration_since(first),
        span: end.duration_since(first),
        latency: Latency::new(latency),
        status_requests: seen.requests,
        mean_round: u32::try_from(seen.rounds)
            .ok()
            .filter(|r| *r > 0)
            .map_or(Duration::ZERO, |r| seen.round_time / r),
        samples,
    })
}

/// Sends a set-up command and requires it accepted.
async fn setup(client: &CommandClient, routing_key: &str, body: Value) -> Result<(), E2eError> {
    let reply = client
        .send_json(routing_key, &body, SendOptions::default())
        .await?;
    if reply.status == ReplyStatus::Accepted {
        return Ok(());
    }
    let reason = reply.error.map(|e| e.code).unwrap_or_default();
    Err(E2eError::Refused {
        command: routing_key.to_string(),
        reason,
    })
}

/// Waits until the order service's `customers` table holds `expected` active rows.
async fn customers_known(database_url: &str, expected: usize) -> Result<(), E2eError> {
    let pool = sqlx::PgPool::connect(database_url)
        .await
        .map_err(|source| E2eError::postgres("connect to the order database", source))?;
    let started = Instant::now();
    let result = loop {
        let active: Result<i64, _> =
            sqlx::query_scalar("SELECT count(*) FROM customers WHERE active")
                .fetch_one(&pool)
                .await;
        match active {
            Ok(n) if n >= expected as i64 => break Ok(()),
            Ok(_) | Err(_) if started.elapsed() < CUSTOMERS_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Ok(n) => {
                break Err(E2eError::Setup(format!(
                "the order service knows {n} of {expected} customers after {CUSTOMERS_TIMEOUT:?}"
            )))
            }
            Err(source) => break Err(E2eError::postgres("count the customers", source)),
        }
    };
    pool.close().await;
    result
}
