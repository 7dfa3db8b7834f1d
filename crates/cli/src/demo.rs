//! `commerce demo`: a workload a person can watch.
//!
//! 1. adds four products in two categories (skus suffixed with a run id, so the demo
//!    can be re-run), with stock, one of them scarce; registers three customers;
//! 2. places orders paid with cards the provider simulator approves, declines, fails
//!    once, or never answers; the last order asks for more than the scarce stock;
//! 3. watches each order's saga to its end (`GET /sagas/{order_id}`): completed, or
//!    cancelled with its compensation (out of stock, declined, timed out);
//! 4. sends deliberately invalid commands to show validation;
//! 5. polls the read side until it shows the final state, and prints it.

mod plan;
mod read_side;
mod sagas;

use std::time::{Duration, Instant};

use platform::command_bus::{CommandReply, ReplyStatus};
use serde_json::{json, Value};

use crate::args::DemoArgs;
use crate::client::{ClientError, CommandClient, SendOptions};
use plan::{OrderPlan, Outcome, Product};

/// How long an order waits for its new customer to be known to the order service.
const CUSTOMER_WAIT: Duration = Duration::from_secs(15);

/// The demo ran and everything ended as expected.
pub const EXIT_SUCCESS: u8 = 0;
/// The demo ran, but a step failed or the read side never caught up.
pub const EXIT_UNEXPECTED: u8 = 1;
/// The broker could not be used.
pub const EXIT_FAILURE: u8 = 2;

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{routing_key} failed: {source}")]
    Command {
        routing_key: String,
        source: ClientError,
    },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0} was rejected: {1}")]
    Setup(String, String),
    #[error(transparent)]
    ReadSide(#[from] read_side::ReadSideError),
}

impl DemoError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Command { .. } | Self::Client(_) => EXIT_FAILURE,
            Self::Setup(..) | Self::ReadSide(_) => EXIT_UNEXPECTED,
        }
    }
}

/// Runs the demo against the broker at `amqp_url` and the query service of `args`.
pub async fn run(amqp_url: &str, args: &DemoArgs) -> Result<u8, DemoError> {
    let run_id: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(6)
        .collect();
    println!("commerce demo · run {run_id} · {} orders", args.orders);
    let client = CommandClient::connect(amqp_url).await?;
    let demo = Demo {
        client,
        catalogue: plan::catalogue(&run_id),
    };
    let result = demo.play(&run_id, args).await;
    demo.client.close().await;
    result
}

struct Demo {
    client: CommandClient,
    catalogue: Vec<Product>,
}

impl Demo {
    async fn play(&self, run_id: &str, args: &DemoArgs) -> Result<u8, DemoError> {
        self.stock_catalogue().await?;
        self.register_customers(run_id).await?;
        let placed = self
            .place_orders(&plan::orders(run_id, args.orders))
            .await?;
        let saga_timeout = Duration::from_secs(args.saga_timeout_secs);
        let ended = sagas::watch(
            &args.saga_url,
            args.api_key.as_deref(),
            &self.catalogue,
            &placed,
            saga_timeout,
        )
        .await?;
        let validated = self.show_validation().await?;
        let expected = read_side::Expected::new(&self.catalogue, &ended);
        let timeout = Duration::from_secs(args.read_timeout_secs);
        read_side::show(
            &args.query_url,
            args.api_key.as_deref(),
            &self.catalogue,
            &expected,
            timeout,
        )
        .await?;
        let failed = ended
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed { .. }))
            .count();
        if failed > 0 || !validated {
            println!("\n✗ the demo did not end as expected ({failed} order(s) failed)");
            return Ok(EXIT_UNEXPECTED);
        }
        println!("\n✓ demo complete");
        Ok(EXIT_SUCCESS)
    }

    /// Sends one command under `correlation_id` and waits for its reply.
    async fn send(
        &self,
        routing_key: &str,
        body: Value,
        correlation_id: &str,
    ) -> Result<CommandReply, DemoError> {
        let options = SendOptions::default().correlation_id(correlation_id);
        self.client
            .send_json(routing_key, &body, options)
            .await
            .map_err(|source| DemoError::Command {
                routing_key: routing_key.to_string(),
                source,
            })
    }

    /// Sends a setup command that must be accepted.
    async fn setup(&self, routing_key: &str, body: Value) -> Result<(), DemoError> {
        let reply = self.send(routing_key, body, "demo-setup").await?;
        match rejection(&reply) {
            None => Ok(()),
            Some(reason) => Err(DemoError::Setup(routing_key.to_string(), reason)),
        }
    }

    async fn stock_catalogue(&self) -> Result<(), DemoError> {
        println!("\n[1/5] catalogue and customers");
        for p in &self.catalogue {
            let product = json!({"sku": p.sku, "name": p.name, "category": p.category, "price_cents": p.price_cents});
            self.setup("inventory.AddProduct", product).await?;
            self.setup(
                "inventory.AddStock",
                json!({"sku": p.sku, "quantity": p.stock}),
            )
            .await?;
            let scarce = if p.stock <= 2 { "  (scarce)" } else { "" };
            println!(
                "  + {:<14} {:<20} {:<12} {:>10}  stock {}{scarce}",
                p.sku,
                p.name,
                p.category,
                money(p.price_cents),
                p.stock
            );
        }
        Ok(())
    }

    async fn register_customers(&self, run_id: &str) -> Result<(), DemoError> {
        for (user_id, name, email) in plan::customers(run_id) {
            let body = json!({"user_id": user_id, "name": name, "email": email});
            self.setup("user.RegisterUser", body).await?;
            println!("  + customer {user_id:<17} {email}");
        }
        Ok(())
    }

    /// Places every order; returns those the order service accepted.
    async fn place_orders(&self, orders: &[OrderPlan]) -> Result<Vec<OrderPlan>, DemoError> {
        println!("\n[2/5] orders (the saga takes each one from here)");
        let mut placed = Vec::with_capacity(orders.len());
        for order in orders {
            let basket = order.basket(&self.catalogue);
            let total = money(order.total_cents(&self.catalogue));
            match self.place(order).await? {
                None => {
                    println!(
                        "  {}  {basket:<17} {total:>10}  {:<11} placed",
                        order.order_id, order.card
                    );
                    placed.push(order.clone());
                }
                Some(reason) => println!(
                    "  {}  {basket:<17} {total:>10}  REFUSED: {reason}",
                    order.order_id
                ),
            }
        }
        Ok(placed)
    }

    /// Places one order; `Some(reason)` when it was refused. The order service learns
    /// of new customers from the user service's events, so a customer registered a
    /// moment ago may still be unknown to it: such a refusal is retried for a while,
    /// each time as a new command (a command id always gets its first answer).
    async fn place(&self, order: &OrderPlan) -> Result<Option<String>, DemoError> {
        let body = order.place_body(&self.catalogue);
        let started = Instant::now();
        loop {
            let reply = self
                .send("order.PlaceOrder", body.clone(), &order.order_id)
                .await?;
            let unknown = reply
                .error
                .as_ref()
                .is_some_and(|e| e.code == "unknown_customer");
            if !unknown || started.elapsed() > CUSTOMER_WAIT {
                return Ok(rejection(&reply));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends invalid commands; returns whether each was rejected as it should be.
    async fn show_validation(&self) -> Result<bool, DemoError> {
        println!("\n[4/5] validation (commands that must be refused)");
        let sku = self
            .catalogue
            .first()
            .map(|p| p.sku.as_str())
            .unwrap_or("KBD");
        let mut all_rejected = true;
        for (label, routing_key, body) in invalid_commands(sku) {
            let reply = self.send(routing_key, body, "demo-validation").await?;
            match (&reply.status, &reply.error) {
                (ReplyStatus::Rejected, Some(error)) => {
                    println!(
                        "  {label:<28} → rejected: {} ({})",
                        error.code, error.message
                    );
                }
                _ => {
                    all_rejected = false;
                    println!("  {label:<28} → UNEXPECTEDLY {}", reply.status.as_str());
                }
            }
        }
        Ok(all_rejected)
    }
}

/// Commands the services must refuse: a label, the routing key and the body.
fn invalid_commands(sku: &str) -> [(&'static str, &'static str, Value); 2] {
    let no_price = json!({"sku": format!("{sku}-X"), "name": "No price", "category": "misc"});
    [
        (
            "AddStock with quantity 0",
            "inventory.AddStock",
            json!({"sku": sku, "quantity": 0}),
        ),
        (
            "AddProduct without a price",
            "inventory.AddProduct",
            no_price,
        ),
    ]
}

/// `code: message` of a rejected reply, `None` when accepted.
fn rejection(reply: &CommandReply) -> Option<String> {
    match (&reply.status, &reply.error) {
        (ReplyStatus::Accepted, _) => None,
        (ReplyStatus::Rejected, Some(error)) => Some(format!("{}: {}", error.code, error.message)),
        (ReplyStatus::Rejected, None) => Some("rejected".to_string()),
    }
}

/// `$89.00`-style amounts, from cents.
pub(crate) fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}${}.{:02}", cents / 100, cents % 100)
}
