//! The events of the four sources, appended to the bench's stores as the services
//! would write them.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::Bench;

/// An order line: `(sku, quantity, unit_price_cents)`.
pub type Line<'a> = (&'a str, i64, i64);

impl Bench {
    pub async fn product(
        &mut self,
        sku: &str,
        category: &str,
        price_cents: i64,
        when: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let payload = json!({"sku": sku, "name": format!("Product {sku}"),
            "category": category, "price_cents": price_cents});
        self.append("inventory", ("Product", sku), "ProductAdded", payload, when)
            .await
    }

    pub async fn update_product(
        &mut self,
        sku: &str,
        category: &str,
        price_cents: i64,
        when: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let payload = json!({"sku": sku, "category": category, "price_cents": price_cents});
        self.append(
            "inventory",
            ("Product", sku),
            "ProductUpdated",
            payload,
            when,
        )
        .await
    }

    pub async fn register(&mut self, user_id: &str, when: DateTime<Utc>) -> anyhow::Result<()> {
        let payload = json!({"user_id": user_id, "email": format!("{user_id}@example.com"),
            "name": format!("Customer {user_id}")});
        self.append("user", ("User", user_id), "UserRegistered", payload, when)
            .await
    }

    pub async fn rename(&mut self, user_id: &str, when: DateTime<Utc>) -> anyhow::Result<()> {
        let payload = json!({"user_id": user_id, "name": "Renamed"});
        self.append("user", ("User", user_id), "ProfileUpdated", payload, when)
            .await
    }

    pub async fn deactivate(&mut self, user_id: &str, when: DateTime<Utc>) -> anyhow::Result<()> {
        let payload = json!({"user_id": user_id});
        self.append("user", ("User", user_id), "UserDeactivated", payload, when)
            .await
    }

    pub async fn place(
        &mut self,
        order_id: &str,
        customer_id: &str,
        lines: &[Line<'_>],
        when: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let lines: Vec<_> = lines
            .iter()
            .map(|(sku, quantity, price)| {
                json!({"sku": sku, "quantity": quantity, "unit_price_cents": price})
            })
            .collect();
        let total: i64 = lines
            .iter()
            .map(|l| {
                l["quantity"].as_i64().unwrap_or(0) * l["unit_price_cents"].as_i64().unwrap_or(0)
            })
            .sum();
        let payload = json!({"order_id": order_id, "customer_id": customer_id,
            "card_token": "tok_ok", "lines": lines, "total_cents": total});
        self.append("order", ("Order", order_id), "OrderPlaced", payload, when)
            .await
    }

    pub async fn confirm(&mut self, order_id: &str, when: DateTime<Utc>) -> anyhow::Result<()> {
        let payload = json!({"order_id": order_id});
        self.append(
            "order",
            ("Order", order_id),
            "OrderConfirmed",
            payload,
            when,
        )
        .await
    }

    pub async fn cancel(&mut self, order_id: &str, when: DateTime<Utc>) -> anyhow::Result<()> {
        let payload = json!({"order_id": order_id, "reason": "compensation"});
        self.append(
            "order",
            ("Order", order_id),
            "OrderCancelled",
            payload,
            when,
        )
        .await
    }

    /// A confirmed sale: placed, then confirmed a second later.
    pub async fn sale(
        &mut self,
        order_id: &str,
        customer_id: &str,
        lines: &[Line<'_>],
        when: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.place(order_id, customer_id, lines, when).await?;
        self.confirm(order_id, when + chrono::Duration::seconds(1))
            .await
    }

    pub async fn refund(
        &mut self,
        order_id: &str,
        amount_cents: i64,
        when: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let payload = json!({"payment_id": order_id, "order_id": order_id,
            "amount_cents": amount_cents, "reason": "returned"});
        self.append(
            "payment",
            ("Payment", order_id),
            "PaymentRefunded",
            payload,
            when,
        )
        .await
    }
}
