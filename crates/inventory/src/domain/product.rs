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
    /// Changes the price, the category, or both (`None` keeps the current value).
    UpdateProduct {
        sku: String,
        price_cents: Option<i64>,
        category: Option<String>,
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
    /// The price or category changed; both carry their new (or unchanged) value, so a
    /// reader needs no earlier event to know the product's terms from then on.
    ProductUpdated {
        sku: String,
        price_cents: i64,
        category: String,
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
            Self::ProductUpdated { .. } => "ProductUpdated",
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
    /// The current terms, kept so an update that changes nothing appends nothing.
    pub price_cents: i64,
    pub category: String,
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

    /// Every unit ever added: available, allocated or sold. Saturating, though
    /// [`add_stock`] keeps it below `u64::MAX`.
    pub fn total_stock(&self) -> u64 {
        self.allocated
            .values()
            .fold(self.available.saturating_add(self.sold), |total, q| {
                total.saturating_add(*q)
            })
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

/// Decides `AddStock`: only a known product receives stock, at least one unit at a time,
/// and never so much that its stock could no longer be counted.
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
    // Every unit ever added stays counted in one bucket, so the total bounds them all.
    product
        .total_stock()
        .checked_add(quantity)
        .ok_or(InventoryError::QuantityOverflow)?;
    Ok(vec![ProductEvent::StockAdded { sku, quantity }])
}

/// Decides `UpdateProduct`: a known product takes a new price and/or category; an
/// update that changes neither appends nothing (so a repeated update is harmless and
/// readers never see a change that is not one).
pub fn update_product(
    product: &Product,
    sku: String,
    price_cents: Option<i64>,
    category: Option<String>,
) -> Result<Vec<ProductEvent>, InventoryError> {
    if !product.exists() {
        return Err(InventoryError::UnknownProduct(sku));
    }
    if price_cents.is_none() && category.is_none() {
        return Err(InventoryError::NothingToUpdate);
    }
    if price_cents.is_some_and(|p| p < 0) {
        return Err(InventoryError::NegativePrice);
    }
    if category.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err(InventoryError::MissingProductDetails);
    }
    let price_cents = price_cents.unwrap_or(product.price_cents);
    let category = category.unwrap_or_else(|| product.category.clone());
    if price_cents == product.price_cents && category == product.category {
        return Ok(vec![]);
    }
    Ok(vec![ProductEvent::ProductUpdated {
        sku,
        price_cents,
        category,
    }])
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
            ProductCommand::UpdateProduct {
                sku,
                price_cents,
                category,
            } => update_product(self, sku, price_cents, category)?,
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ProductEvent::ProductAdded {
                sku,
                category,
                price_cents,
                ..
            } => {
                self.sku = Some(sku);
                self.price_cents = price_cents;
                self.category = category;
            }
            ProductEvent::ProductUpdated {
                price_cents,
                category,
                ..
            } => {
                self.price_cents = price_cents;
                self.category = category;
            }
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
#[path = "product_tests.rs"]
mod tests;
