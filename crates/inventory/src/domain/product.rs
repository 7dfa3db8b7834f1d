//! A product and its stock. One aggregate per sku.
//!
//! Stock moves between three buckets: `available` (can be allocated), allocated to an
//! order (held by a reservation), and `sold` (allocation committed). Allocation events
//! are decided by [`super::reservation`], which spans several products.

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::InventoryError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProductCommand {
    AddProduct {
        sku: String,
        name: String,
        category: String,
        price_cents: i64,
    },
    AddStock {
        sku: String,
        quantity: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProductEvent {
    ProductAdded {
        sku: String,
        name: String,
        category: String,
        price_cents: i64,
    },
    StockAdded {
        sku: String,
        quantity: u64,
    },
    StockAllocated {
        sku: String,
        order_id: String,
        quantity: u64,
    },
    AllocationReleased {
        sku: String,
        order_id: String,
        quantity: u64,
    },
    AllocationCommitted {
        sku: String,
        order_id: String,
        quantity: u64,
    },
}

impl DomainEvent for ProductEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ProductAdded { .. } => "ProductAdded",
            Self::StockAdded { .. } => "StockAdded",
            Self::StockAllocated { .. } => "StockAllocated",
            Self::AllocationReleased { .. } => "AllocationReleased",
            Self::AllocationCommitted { .. } => "AllocationCommitted",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: Option<String>,
    pub available: u64,
    /// Quantity held for each order by its reservation.
    pub allocated: BTreeMap<String, u64>,
    pub sold: u64,
}

impl Product {
    pub fn exists(&self) -> bool {
        self.sku.is_some()
    }

    pub fn allocated_to(&self, order_id: &str) -> u64 {
        self.allocated.get(order_id).copied().unwrap_or(0)
    }
}

/// Decides `AddProduct`: a sku is registered once, with its details and a price.
pub fn add_product(
    product: &Product,
    sku: String,
    name: String,
    category: String,
    price_cents: i64,
) -> Result<Vec<ProductEvent>, InventoryError> {
    if product.exists() {
        return Err(InventoryError::ProductAlreadyExists(sku));
    }
    if [&sku, &name, &category].iter().any(|s| s.trim().is_empty()) {
        return Err(InventoryError::MissingProductDetails);
    }
    if price_cents < 0 {
        return Err(InventoryError::NegativePrice);
    }
    Ok(vec![ProductEvent::ProductAdded {
        sku,
        name,
        category,
        price_cents,
    }])
}

/// Decides `AddStock`: only a known product receives stock, at least one unit at a time.
pub fn add_stock(
    product: &Product,
    sku: String,
    quantity: u64,
) -> Result<Vec<ProductEvent>, InventoryError> {
    if !product.exists() {
        return Err(InventoryError::UnknownProduct(sku));
    }
    if quantity == 0 {
        return Err(InventoryError::InvalidQuantity);
    }
    Ok(vec![ProductEvent::StockAdded { sku, quantity }])
}

impl Aggregate for Product {
    const TYPE: &'static str = "Product";
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Error = InventoryError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = match command {
            ProductCommand::AddProduct {
                sku,
                name,
                category,
                price_cents,
            } => add_product(self, sku, name, category, price_cents)?,
            ProductCommand::AddStock { sku, quantity } => add_stock(self, sku, quantity)?,
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ProductEvent::ProductAdded { sku, .. } => self.sku = Some(sku),
            ProductEvent::StockAdded { quantity, .. } => self.available += quantity,
            ProductEvent::StockAllocated {
                order_id, quantity, ..
            } => {
                self.available = self.available.saturating_sub(quantity);
                *self.allocated.entry(order_id).or_default() += quantity;
            }
            ProductEvent::AllocationReleased {
                order_id, quantity, ..
            } => {
                self.allocated.remove(&order_id);
                self.available += quantity;
            }
            ProductEvent::AllocationCommitted {
                order_id, quantity, ..
            } => {
                self.allocated.remove(&order_id);
                self.sold += quantity;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    type ProductTest = TestFramework<Product>;

    fn added(sku: &str) -> ProductEvent {
        ProductEvent::ProductAdded {
            sku: sku.into(),
            name: "Mug".into(),
            category: "kitchen".into(),
            price_cents: 1299,
        }
    }

    fn add(sku: &str, price_cents: i64) -> ProductCommand {
        ProductCommand::AddProduct {
            sku: sku.into(),
            name: "Mug".into(),
            category: "kitchen".into(),
            price_cents,
        }
    }

    #[test]
    fn a_new_product_is_added() {
        ProductTest::with(())
            .given_no_previous_events()
            .when(add("MUG-1", 1299))
            .then_expect_events(vec![added("MUG-1")]);
    }

    #[test]
    fn a_sku_cannot_be_added_twice() {
        ProductTest::with(())
            .given(vec![added("MUG-1")])
            .when(add("MUG-1", 1299))
            .then_expect_error(InventoryError::ProductAlreadyExists("MUG-1".into()));
    }

    #[test]
    fn a_price_cannot_be_negative() {
        ProductTest::with(())
            .given_no_previous_events()
            .when(add("MUG-1", -1))
            .then_expect_error(InventoryError::NegativePrice);
    }

    #[test]
    fn a_product_needs_a_name() {
        let command = ProductCommand::AddProduct {
            sku: "MUG-1".into(),
            name: " ".into(),
            category: "kitchen".into(),
            price_cents: 1,
        };
        ProductTest::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(InventoryError::MissingProductDetails);
    }

    #[test]
    fn stock_is_added_to_a_known_product() {
        ProductTest::with(())
            .given(vec![added("MUG-1")])
            .when(ProductCommand::AddStock {
                sku: "MUG-1".into(),
                quantity: 5,
            })
            .then_expect_events(vec![ProductEvent::StockAdded {
                sku: "MUG-1".into(),
                quantity: 5,
            }]);
    }

    #[test]
    fn stock_cannot_be_added_to_an_unknown_product() {
        ProductTest::with(())
            .given_no_previous_events()
            .when(ProductCommand::AddStock {
                sku: "NOPE".into(),
                quantity: 5,
            })
            .then_expect_error(InventoryError::UnknownProduct("NOPE".into()));
    }

    #[test]
    fn zero_stock_cannot_be_added() {
        ProductTest::with(())
            .given(vec![added("MUG-1")])
            .when(ProductCommand::AddStock {
                sku: "MUG-1".into(),
                quantity: 0,
            })
            .then_expect_error(InventoryError::InvalidQuantity);
    }

    #[test]
    fn an_allocation_moves_stock_from_available_to_the_order() {
        let mut product = Product::default();
        product.apply(added("MUG-1"));
        product.apply(ProductEvent::StockAdded {
            sku: "MUG-1".into(),
            quantity: 5,
        });
        product.apply(ProductEvent::StockAllocated {
            sku: "MUG-1".into(),
            order_id: "o1".into(),
            quantity: 3,
        });
        assert_eq!((product.available, product.allocated_to("o1")), (2, 3));
        product.apply(ProductEvent::AllocationCommitted {
            sku: "MUG-1".into(),
            order_id: "o1".into(),
            quantity: 3,
        });
        assert_eq!(
            (product.available, product.allocated_to("o1"), product.sold),
            (2, 0, 3)
        );
    }
}
