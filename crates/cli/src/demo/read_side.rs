//! The read side as the demo sees it: the query service's HTTP API, polled until it
//! shows the state the demo's commands must have produced, then printed as tables.
//!
//! Contract: `GET /products?limit=50` → `{"items":[{sku,name,category,price_cents,..}]}`,
//! `GET /products/{sku}`, `GET /stock/{sku}` → `{sku,available,reserved,sold}`,
//! `GET /orders/{order_id}` → `{order_id,customer_id,total_cents,status,cancel_reason,..}`;
//! an unknown id is a 404, which here means "not projected yet".

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::money;
use super::plan::{self, OrderPlan, Outcome, Product, StockLevels};

/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause between two polls.
const POLL_INTERVAL: Duration = Duration::from_millis(300);
/// How many differences are named when the read side is behind.
const SHOWN_PROBLEMS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ReadSideError {
    #[error("the read side at {url} did not catch up within {waited:?}: {problems}")]
    Behind {
        url: String,
        waited: Duration,
        problems: String,
    },
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// What the read side must show once it has caught up.
#[derive(Debug)]
pub struct Expected {
    stock: BTreeMap<String, StockLevels>,
    orders: Vec<ExpectedOrder>,
}

#[derive(Debug)]
struct ExpectedOrder {
    order_id: String,
    /// `None` for an order whose end is unknown (a step failed): not checked.
    status: Option<&'static str>,
    total_cents: i64,
}

impl Expected {
    pub fn new(catalogue: &[Product], ended: &[(OrderPlan, Outcome)]) -> Self {
        let orders = ended
            .iter()
            .map(|(order, outcome)| ExpectedOrder {
                order_id: order.order_id.clone(),
                status: plan::expected_status(outcome),
                total_cents: order.total_cents(catalogue),
            })
            .collect();
        Self {
            stock: plan::expected_stock(catalogue, ended),
            orders,
        }
    }
}

#[derive(Debug, Deserialize)]
struct ProductView {
    sku: String,
    name: String,
    category: String,
    price_cents: i64,
}

#[derive(Debug, Deserialize)]
struct ProductsPage {
    items: Vec<ProductView>,
}

#[derive(Debug, Deserialize)]
struct StockView {
    available: u64,
    reserved: u64,
    sold: u64,
}

#[derive(Debug, Deserialize)]
struct OrderView {
    customer_id: String,
    status: String,
    total_cents: i64,
    cancel_reason: Option<String>,
}

/// One reading of everything the demo touched; a missing entry is a 404.
#[derive(Debug, Default)]
struct Snapshot {
    listed: usize,
    products: BTreeMap<String, ProductView>,
    stock: BTreeMap<String, StockView>,
    orders: BTreeMap<String, OrderView>,
}

/// Polls until the read side matches `expected` or `timeout` passes, then prints it.
pub async fn show(
    url: &str,
    api_key: Option<&str>,
    catalogue: &[Product],
    expected: &Expected,
    timeout: Duration,
) -> Result<(), ReadSideError> {
    let base = url.trim_end_matches('/');
    println!(
        "\n[5/5] read side ({base}), waiting up to {} s for the projections",
        timeout.as_secs()
    );
    let http = crate::http_client(api_key, REQUEST_TIMEOUT)?;
    let started = Instant::now();
    let (snapshot, problems) = poll(&http, base, catalogue, expected, timeout).await;
    if let Some(snapshot) = &snapshot {
        print_tables(snapshot, catalogue, expected);
    }
    if problems.is_empty() {
        println!(
            "  read side caught up after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    Err(ReadSideError::Behind {
        url: base.to_string(),
        waited: timeout,
        problems: summary(&problems),
    })
}

/// The first few problems, joined.
fn summary(problems: &[String]) -> String {
    let mut shown: Vec<String> = problems.iter().take(SHOWN_PROBLEMS).cloned().collect();
    if problems.len() > SHOWN_PROBLEMS {
        shown.push(format!("and {} more", problems.len() - SHOWN_PROBLEMS));
    }
    shown.join("; ")
}

/// The last good snapshot and what still differs from `expected` (empty: caught up).
async fn poll(
    http: &reqwest::Client,
    base: &str,
    catalogue: &[Product],
    expected: &Expected,
    timeout: Duration,
) -> (Option<Snapshot>, Vec<String>) {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        let problems = match fetch(http, base, catalogue, expected).await {
            Ok(snapshot) => {
                let problems = differences(&snapshot, catalogue, expected);
                last = Some(snapshot);
                problems
            }
            Err(err) => vec![err],
        };
        if problems.is_empty() || Instant::now() >= deadline {
            return (last, problems);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn fetch(
    http: &reqwest::Client,
    base: &str,
    catalogue: &[Product],
    expected: &Expected,
) -> Result<Snapshot, String> {
    let mut snapshot = Snapshot::default();
    let page: Option<ProductsPage> = get(http, &format!("{base}/products?limit=50")).await?;
    let items = page.map(|p| p.items).unwrap_or_default();
    snapshot.listed = items.len();
    snapshot.products = items.into_iter().map(|p| (p.sku.clone(), p)).collect();
    for product in catalogue {
        // Earlier runs may fill the first page: fetch ours one by one if not listed.
        if !snapshot.products.contains_key(&product.sku) {
            if let Some(view) =
                get::<ProductView>(http, &format!("{base}/products/{}", product.sku)).await?
            {
                snapshot.products.insert(product.sku.clone(), view);
            }
        }
        if let Some(stock) = get(http, &format!("{base}/stock/{}", product.sku)).await? {
            snapshot.stock.insert(product.sku.clone(), stock);
        }
    }
    for order in &expected.orders {
        if let Some(view) = get(http, &format!("{base}/orders/{}", order.order_id)).await? {
            snapshot.orders.insert(order.order_id.clone(), view);
        }
    }
    Ok(snapshot)
}

/// `GET url` as JSON; `None` on 404.
async fn get<T: DeserializeOwned>(http: &reqwest::Client, url: &str) -> Result<Option<T>, String> {
    let response = http.get(url).send().await.map_err(|err| {
        format!(
            "GET {url}: {} (is the query service running?)",
            transport_problem(&err)
        )
    })?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !response.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", response.status()));
    }
    response
        .json()
        .await
        .map(Some)
        .map_err(|err| format!("GET {url}: unexpected body: {err}"))
}

fn transport_problem(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        format!("no answer within {REQUEST_TIMEOUT:?}")
    } else if err.is_connect() {
        "cannot connect".to_string()
    } else {
        err.to_string()
    }
}

/// Every way `snapshot` differs from `expected`.
fn differences(snapshot: &Snapshot, catalogue: &[Product], expected: &Expected) -> Vec<String> {
    let mut problems = Vec::new();
    for product in catalogue {
        if !snapshot.products.contains_key(&product.sku) {
            problems.push(format!("product {} not projected", product.sku));
        }
    }
    for (sku, want) in &expected.stock {
        match snapshot.stock.get(sku) {
            None => problems.push(format!("stock {sku} not projected")),
            Some(got)
                if (got.available, got.reserved, got.sold)
                    != (want.available, want.reserved, want.sold) =>
            {
                problems.push(format!(
                    "stock {sku} is {}/{}/{} (available/reserved/sold), expected {}/{}/{}",
                    got.available, got.reserved, got.sold, want.available, want.reserved, want.sold
                ));
            }
            Some(_) => {}
        }
    }
    for order in &expected.orders {
        match snapshot.orders.get(&order.order_id) {
            None => problems.push(format!("order {} not projected", order.order_id)),
            Some(got) => problems.extend(order_difference(order, got)),
        }
    }
    problems
}

fn order_difference(want: &ExpectedOrder, got: &OrderView) -> Option<String> {
    let id = &want.order_id;
    match want.status {
        Some(status) if got.status != status => {
            Some(format!("order {id} is {}, expected {status}", got.status))
        }
        _ if got.total_cents != want.total_cents => Some(format!(
            "order {id} totals {}, expected {}",
            money(got.total_cents),
            money(want.total_cents)
        )),
        _ => None,
    }
}

fn print_tables(snapshot: &Snapshot, catalogue: &[Product], expected: &Expected) {
    println!(
        "  GET /products?limit=50 listed {} product(s)\n",
        snapshot.listed
    );
    print_stock(snapshot, catalogue);
    print_orders(snapshot, expected);
}

fn print_stock(snapshot: &Snapshot, catalogue: &[Product]) {
    let header = [
        "sku",
        "name",
        "category",
        "price",
        "available",
        "reserved",
        "sold",
    ];
    let [sku, name, category, price, available, reserved, sold] = header;
    println!(
        "  {sku:<14} {name:<20} {category:<12} {price:>10} {available:>10} {reserved:>9} {sold:>6}"
    );
    for product in catalogue {
        let view = snapshot.products.get(&product.sku);
        let (name, category) = view.map_or(("-", "-"), |v| (v.name.as_str(), v.category.as_str()));
        let price = view.map_or("-".to_string(), |v| money(v.price_cents));
        let [available, reserved, sold] = match snapshot.stock.get(&product.sku) {
            Some(s) => [s.available, s.reserved, s.sold].map(|n| n.to_string()),
            None => ["-"; 3].map(str::to_string),
        };
        let sku = &product.sku;
        println!("  {sku:<14} {name:<20} {category:<12} {price:>10} {available:>10} {reserved:>9} {sold:>6}");
    }
}

fn print_orders(snapshot: &Snapshot, expected: &Expected) {
    println!(
        "\n  {:<16} {:<14} {:<10} {:>10}  note",
        "order", "customer", "status", "total"
    );
    for order in &expected.orders {
        let Some(view) = snapshot.orders.get(&order.order_id) else {
            println!("  {:<16} (not projected)", order.order_id);
            continue;
        };
        let note = view.cancel_reason.as_deref().unwrap_or("");
        let total = money(view.total_cents);
        let row = format!(
            "  {:<16} {:<14} {:<10} {total:>10}  {note}",
            order.order_id, view.customer_id, view.status
        );
        println!("{}", row.trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::plan::{catalogue, orders};

    #[test]
    fn a_lagging_read_side_is_described() {
        let catalogue = catalogue("r1");
        let plans = orders("r1", 2);
        let ended: Vec<_> = plans.into_iter().map(|p| (p, Outcome::Confirmed)).collect();
        let expected = Expected::new(&catalogue, &ended);
        let mut snapshot = Snapshot::default();
        let placed = OrderView {
            customer_id: "c".into(),
            status: "placed".into(),
            total_cents: 14_700,
            cancel_reason: None,
        };
        snapshot.orders.insert("ord-r1-01".into(), placed);
        let problems = differences(&snapshot, &catalogue, &expected);
        assert!(
            problems.contains(&"order ord-r1-01 is placed, expected confirmed".to_string()),
            "{problems:?}"
        );
        assert!(
            problems.contains(&"order ord-r1-02 not projected".to_string()),
            "{problems:?}"
        );
        assert!(
            problems.contains(&"stock KBD-r1 not projected".to_string()),
            "{problems:?}"
        );
    }
}
