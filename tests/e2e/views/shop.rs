//! The shop the views test runs: its products, customers and orders, placed through the
//! saga one at a time, and what the test expects of each.

use e2e::TestStack;
use serde_json::{json, Value};

use crate::support::{assert_accepted, registered_customer};

/// A product of the test: its category once the test has moved it, price and stock.
pub struct Product {
    pub sku: String,
    pub category: &'static str,
    pub price_cents: i64,
    pub stock: i64,
}

/// How an order's saga must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ends {
    Completed,
    /// The provider declined the card: stock released, order cancelled.
    Declined,
    /// The stock was short: cancelled before any payment.
    OutOfStock,
}

/// An order of the test.
pub struct Order {
    pub id: String,
    pub customer: String,
    /// (product index, quantity)
    pub lines: Vec<(usize, i64)>,
    pub card: &'static str,
    pub ends: Ends,
    pub completes: bool,
}

impl Order {
    pub fn total(&self, products: &[Product]) -> i64 {
        self.lines
            .iter()
            .map(|(p, q)| products[*p].price_cents * q)
            .sum()
    }
}

/// Three products in two categories (the second moved from `pans` to `mugs`), two
/// customers, five orders: completed, declined, completed, out of stock, completed
/// after a transient provider failure.
pub async fn shop(stack: &TestStack) -> anyhow::Result<(Vec<Product>, Vec<Order>)> {
    let id = &stack.id[..6];
    let products = vec![
        Product {
            sku: format!("MUG-{id}"),
            category: "mugs",
            price_cents: 300,
            stock: 20,
        },
        Product {
            sku: format!("JUG-{id}"),
            category: "mugs",
            price_cents: 700,
            stock: 20,
        },
        Product {
            sku: format!("PAN-{id}"),
            category: "pans",
            price_cents: 1100,
            stock: 3,
        },
    ];
    for (i, product) in products.iter().enumerate() {
        let first_category = if i == 1 { "pans" } else { product.category };
        let add = json!({"sku": product.sku, "name": format!("Product {}", product.sku),
            "category": first_category, "price_cents": product.price_cents});
        assert_accepted(&stack.send("inventory.AddProduct", add).await?);
        let stock = json!({"sku": product.sku, "quantity": product.stock});
        assert_accepted(&stack.send("inventory.AddStock", stock).await?);
    }
    let moved = json!({"sku": products[1].sku, "category": "mugs"});
    assert_accepted(&stack.send("inventory.UpdateProduct", moved).await?);
    let (ann, bob) = (format!("ann-{id}"), format!("bob-{id}"));
    for customer in [&ann, &bob] {
        registered_customer(stack, customer).await?;
    }
    let order = |n: usize, customer: &str, lines: Vec<(usize, i64)>, card, ends| Order {
        id: format!("view-{n}-{id}"),
        customer: customer.to_string(),
        lines,
        card,
        ends,
        completes: ends == Ends::Completed,
    };
    let orders = vec![
        order(1, &ann, vec![(0, 3), (1, 1)], "tok_ok", Ends::Completed),
        order(2, &ann, vec![(1, 2)], "tok_decline", Ends::Declined),
        order(3, &bob, vec![(0, 1), (2, 2)], "tok_ok", Ends::Completed),
        order(4, &bob, vec![(2, 5)], "tok_ok", Ends::OutOfStock),
        order(5, &bob, vec![(1, 4)], "tok_flaky", Ends::Completed),
    ];
    Ok((products, orders))
}

/// Places each order and waits for its saga, one at a time (so the stock each finds is
/// known); checks each ended as planned.
pub async fn fulfil(
    stack: &TestStack,
    products: &[Product],
    orders: &[Order],
) -> anyhow::Result<()> {
    for order in orders {
        let lines: Vec<Value> = order
            .lines
            .iter()
            .map(|(p, q)| {
                json!({"sku": products[*p].sku, "quantity": q,
                "unit_price_cents": products[*p].price_cents})
            })
            .collect();
        let body = json!({"order_id": order.id, "customer_id": order.customer,
            "card_token": order.card, "lines": lines});
        assert_accepted(&stack.send("order.PlaceOrder", body).await?);
        let saga = stack.saga_finished(&order.id).await?;
        let expected = if order.completes {
            "completed"
        } else {
            "cancelled"
        };
        assert_eq!(saga["status"], expected, "{}: {saga}", order.id);
    }
    Ok(())
}

/// Units sold per product index, from the completed orders.
pub fn sold(products: &[Product], orders: &[Order]) -> Vec<i64> {
    let mut sold = vec![0; products.len()];
    for order in orders.iter().filter(|o| o.completes) {
        for (p, q) in &order.lines {
            sold[*p] += q;
        }
    }
    sold
}
