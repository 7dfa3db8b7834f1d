//! The business rules of the inventory context, one variant each.

use platform::cqrs::BusinessRule;
use serde::{Deserialize, Serialize};

/// A line that cannot be reserved, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortage {
    pub sku: String,
    pub requested: u64,
    pub available: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error("product {0} already exists")]
    ProductAlreadyExists(String),
    #[error("product {0} does not exist")]
    UnknownProduct(String),
    #[error("a product needs a non-empty sku, name and category")]
    MissingProductDetails,
    #[error("a price cannot be negative")]
    NegativePrice,
    #[error("an update must give a new price or category")]
    NothingToUpdate,
    #[error("a quantity must be at least 1")]
    InvalidQuantity,
    #[error("the quantity would take the stock past the largest countable amount")]
    QuantityOverflow,
    #[error("a reservation needs at least one line")]
    NoLines,
    #[error("not enough stock: {}", describe(.0))]
    InsufficientStock(Vec<Shortage>),
    #[error("order {0} already holds a reservation")]
    AlreadyReserved(String),
    #[error("order {0} holds no reservation")]
    NotReserved(String),
    #[error("the reservation of order {0} is already committed")]
    AlreadyCommitted(String),
    #[error("the reservation of order {0} was released and cannot be used again")]
    ReservationClosed(String),
}

fn describe(shortages: &[Shortage]) -> String {
    shortages
        .iter()
        .map(|s| {
            format!(
                "{} requested {} available {}",
                s.sku, s.requested, s.available
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl BusinessRule for InventoryError {
    fn code(&self) -> &'static str {
        match self {
            Self::ProductAlreadyExists(_) => "product_already_exists",
            Self::UnknownProduct(_) => "unknown_product",
            Self::MissingProductDetails => "missing_product_details",
            Self::NegativePrice => "negative_price",
            Self::NothingToUpdate => "nothing_to_update",
            Self::InvalidQuantity => "invalid_quantity",
            Self::QuantityOverflow => "quantity_overflow",
            Self::NoLines => "no_lines",
            Self::InsufficientStock(_) => "insufficient_stock",
            Self::AlreadyReserved(_) => "already_reserved",
            Self::NotReserved(_) => "not_reserved",
            Self::AlreadyCommitted(_) => "already_committed",
            Self::ReservationClosed(_) => "reservation_closed",
        }
    }
}
