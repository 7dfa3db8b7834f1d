//! The sagas as the demo sees them: `GET /sagas/{order_id}` on the saga service, polled
//! until every order's saga has finished (completed or cancelled), each printed as it
//! ends with the steps it took.
//!
//! Contract: `{order_id, status: running|compensating|completed|cancelled, current_step,
//! failure, timeline: [{kind, step, ..}]}`; a 404 means the saga has not started yet.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::money;
use super::plan::{OrderPlan, Outcome, Product};
use super::read_side::ReadSideError;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const POLL_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, Deserialize)]
struct SagaView {
    status: String,
    current_step: Option<String>,
    failure: Option<String>,
    #[serde(default)]
    timeline: Vec<TimelineEntry>,
}

#[derive(Debug, Deserialize)]
struct TimelineEntry {
    kind: String,
    step: Option<String>,
}

impl SagaView {
    fn finished(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "cancelled")
    }

    /// `reserve → authorize → ...`: the commands the saga sent.
    fn steps(&self) -> String {
        let steps: Vec<&str> = self
            .timeline
            .iter()
            .filter(|entry| entry.kind == "command")
            .filter_map(|entry| entry.step.as_deref())
            .collect();
        steps.join(" → ")
    }

    fn outcome(&self) -> Outcome {
        match self.status.as_str() {
            "completed" => Outcome::Confirmed,
            "cancelled" => Outcome::Cancelled {
                reason: self.failure.clone().unwrap_or_else(|| "cancelled".into()),
            },
            other => Outcome::Failed {
                step: format!(
                    "saga {other} at {}",
                    self.current_step.as_deref().unwrap_or("?")
                ),
            },
        }
    }
}

/// Waits for the saga of every order in `placed`, printing each as it finishes; an
/// order whose saga did not finish within `timeout` ends as failed.
pub async fn watch(
    saga_url: &str,
    api_key: Option<&str>,
    catalogue: &[Product],
    placed: &[OrderPlan],
    timeout: Duration,
) -> Result<Vec<(OrderPlan, Outcome)>, ReadSideError> {
    let base = saga_url.trim_end_matches('/');
    println!("\n[3/5] sagas ({base}), each printed as it ends");
    let http = crate::http_client(api_key, REQUEST_TIMEOUT)?;
    let started = Instant::now();
    let mut ended: BTreeMap<String, Outcome> = BTreeMap::new();
    while ended.len() < placed.len() && started.elapsed() < timeout {
        for order in placed {
            if ended.contains_key(&order.order_id) {
                continue;
            }
            let Some(view) = fetch(&http, base, &order.order_id).await else {
                continue;
            };
            if view.finished() {
                print_ending(order, catalogue, &view);
                ended.insert(order.order_id.clone(), view.outcome());
            }
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Ok(placed
        .iter()
        .map(|order| {
            let outcome = ended
                .remove(&order.order_id)
                .unwrap_or_else(|| Outcome::Failed {
                    step: format!("saga not finished within {} s", timeout.as_secs()),
                });
            (order.clone(), outcome)
        })
        .collect())
}

async fn fetch(http: &reqwest::Client, base: &str, order_id: &str) -> Option<SagaView> {
    let response = http
        .get(format!("{base}/sagas/{order_id}"))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

fn print_ending(order: &OrderPlan, catalogue: &[Product], view: &SagaView) {
    let ending = match view.outcome() {
        Outcome::Confirmed => "completed".to_string(),
        Outcome::Cancelled { reason } => format!("cancelled: {reason}"),
        Outcome::Failed { step } => step,
    };
    println!(
        "  {}  {:<17} {:>10}  {:<11} → {ending}\n      {}",
        order.order_id,
        order.basket(catalogue),
        money(order.total_cents(catalogue)),
        order.card,
        view.steps()
    );
}
