//! What the demo does, decided up front and without I/O: the catalogue (unique skus per
//! run, one product deliberately scarce), the orders, the command bodies, and the
//! final state the read side must show once every order has ended.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

/// A product of the demo catalogue, with the stock it starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub sku: String,
    pub name: &'static str,
    pub category: &'static str,
    pub price_cents: i64,
    pub stock: u64,
}

/// One line of an order: a product (by index in the catalogue) and a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub product: usize,
    pub quantity: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPlan {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<Line>,
    /// The card token, which decides the payment provider simulator's answer.
    pub card: &'static str,
}

/// The cards the orders cycle through: approved, approved, declined, approved on the
/// second attempt, never answered (so the saga's payment timeout voids it).
pub const CARDS: [&str; 5] = [
    "tok_ok",
    "tok_ok",
    "tok_decline",
    "tok_flaky",
    "tok_timeout",
];

/// The demo's customers: id, name, email.
pub fn customers(run_id: &str) -> Vec<(String, String, String)> {
    (1..=3)
        .map(|n| {
            let id = format!("cust-{run_id}-{n}");
            (
                id.clone(),
                format!("Customer {n}"),
                format!("{id}@example.com"),
            )
        })
        .collect()
}

/// How one order ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Confirmed,
    Cancelled {
        reason: String,
    },
    /// A step was refused unexpectedly; the demo will end unsuccessfully.
    Failed {
        step: String,
    },
}

/// The index of the scarce product in [`catalogue`].
pub const SCARCE: usize = 3;

/// Four products in two categories; the chair is scarce (2 units).
pub fn catalogue(run_id: &str) -> Vec<Product> {
    let product = |code: &str, name, category, price_cents, stock| Product {
        sku: format!("{code}-{run_id}"),
        name,
        category,
        price_cents,
        stock,
    };
    vec![
        product("KBD", "Mechanical keyboard", "peripherals", 8_900, 25),
        product("MOUSE", "Wireless mouse", "peripherals", 2_900, 40),
        product("LAMP", "Desk lamp", "home-office", 4_500, 15),
        product("CHAIR", "Ergonomic chair", "home-office", 32_900, 2),
    ]
}

/// `count` orders cycling through four baskets, every other one with a chair, and
/// through the [`CARDS`]; the last one asks for more chairs than exist, so at least one
/// order is always cancelled for want of stock.
pub fn orders(run_id: &str, count: u32) -> Vec<OrderPlan> {
    let line = |product, quantity| Line { product, quantity };
    (0..count)
        .map(|i| {
            let lines = if i + 1 == count {
                vec![line(SCARCE, 3)]
            } else {
                match i % 4 {
                    0 => vec![line(0, 1), line(1, 2)],
                    1 => vec![line(SCARCE, 1), line(2, 1)],
                    2 => vec![line(2, 2), line(1, 1)],
                    _ => vec![line(SCARCE, 1), line(1, 1)],
                }
            };
            let last = i + 1 == count;
            OrderPlan {
                order_id: format!("ord-{run_id}-{:02}", i + 1),
                customer_id: format!("cust-{run_id}-{}", i % 3 + 1),
                lines,
                card: if last {
                    "tok_ok"
                } else {
                    CARDS[i as usize % CARDS.len()]
                },
            }
        })
        .collect()
}

impl OrderPlan {
    /// The order total, priced from the catalogue.
    pub fn total_cents(&self, catalogue: &[Product]) -> i64 {
        self.priced(catalogue)
            .map(|(product, line)| product.price_cents * line.quantity as i64)
            .sum()
    }

    /// The `order.PlaceOrder` body.
    pub fn place_body(&self, catalogue: &[Product]) -> Value {
        let lines: Vec<Value> = self
            .priced(catalogue)
            .map(|(p, l)| json!({"sku": p.sku, "quantity": l.quantity, "unit_price_cents": p.price_cents}))
            .collect();
        json!({"order_id": self.order_id, "customer_id": self.customer_id,
            "card_token": self.card, "lines": lines})
    }

    /// `2×LAMP, 1×MOUSE`, for progress lines.
    pub fn basket(&self, catalogue: &[Product]) -> String {
        self.priced(catalogue)
            .map(|(p, l)| {
                format!(
                    "{}×{}",
                    l.quantity,
                    p.sku.split('-').next().unwrap_or(&p.sku)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn priced<'a>(
        &'a self,
        catalogue: &'a [Product],
    ) -> impl Iterator<Item = (&'a Product, &'a Line)> {
        self.lines
            .iter()
            .filter_map(|line| catalogue.get(line.product).map(|product| (product, line)))
    }
}

/// The stock the read side should show for one sku.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockLevels {
    pub available: u64,
    pub reserved: u64,
    pub sold: u64,
}

/// The final state the read side should reach: stock per sku (skus touched by a failed
/// order are left out: their state is unknown) and status per order (failed ones left out).
pub fn expected_stock(
    catalogue: &[Product],
    ended: &[(OrderPlan, Outcome)],
) -> BTreeMap<String, StockLevels> {
    let mut sold: BTreeMap<usize, u64> = BTreeMap::new();
    let mut unknown = BTreeSet::new();
    for (order, outcome) in ended {
        for line in &order.lines {
            match outcome {
                Outcome::Confirmed => *sold.entry(line.product).or_default() += line.quantity,
                Outcome::Failed { .. } => {
                    unknown.insert(line.product);
                }
                Outcome::Cancelled { .. } => {}
            }
        }
    }
    catalogue
        .iter()
        .enumerate()
        .filter(|(index, _)| !unknown.contains(index))
        .map(|(index, product)| {
            let sold = sold.get(&index).copied().unwrap_or(0);
            let levels = StockLevels {
                available: product.stock.saturating_sub(sold),
                reserved: 0,
                sold,
            };
            (product.sku.clone(), levels)
        })
        .collect()
}

/// The status each order should show on the read side: `confirmed` or `cancelled`.
pub fn expected_status(outcome: &Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::Confirmed => Some("confirmed"),
        Outcome::Cancelled { .. } => Some("cancelled"),
        Outcome::Failed { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_order_always_outruns_the_scarce_stock() {
        let catalogue = catalogue("r1");
        for count in [1, 2, 8] {
            let plans = orders("r1", count);
            let last = plans.last().map(|o| o.lines.clone());
            assert_eq!(
                last,
                Some(vec![Line {
                    product: SCARCE,
                    quantity: 3
                }])
            );
        }
        assert!(catalogue[SCARCE].stock < 3);
    }

    #[test]
    fn an_order_is_priced_from_the_catalogue() {
        let catalogue = catalogue("r1");
        let first = &orders("r1", 8)[0];
        assert_eq!(first.total_cents(&catalogue), 8_900 + 2 * 2_900);
        assert_eq!(
            first.place_body(&catalogue)["lines"][1]["unit_price_cents"],
            2_900
        );
        assert_eq!(first.basket(&catalogue), "1×KBD, 2×MOUSE");
    }

    #[test]
    fn confirmed_orders_are_sold_and_failed_ones_unknown() {
        let catalogue = catalogue("r1");
        let plans = orders("r1", 3);
        let ended = vec![
            (plans[0].clone(), Outcome::Confirmed),
            (
                plans[1].clone(),
                Outcome::Failed {
                    step: "ConfirmOrder".into(),
                },
            ),
            (
                plans[2].clone(),
                Outcome::Cancelled {
                    reason: "out of stock".into(),
                },
            ),
        ];
        let stock = expected_stock(&catalogue, &ended);
        let keyboard = stock.get("KBD-r1").copied();
        assert_eq!(
            keyboard,
            Some(StockLevels {
                available: 24,
                reserved: 0,
                sold: 1
            })
        );
        assert!(!stock.contains_key("CHAIR-r1") && !stock.contains_key("LAMP-r1"));
    }
}
