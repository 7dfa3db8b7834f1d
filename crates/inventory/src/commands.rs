//! The commands the inventory service accepts on the broker, decoded from JSON bodies
//! already validated against `schemas/inventory/`.

use serde::Deserialize;

use crate::domain::StockLine;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AddProduct {
    pub sku: String,
    pub name: String,
    pub category: String,
    pub price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AddStock {
    pub sku: String,
    pub quantity: u64,
}

/// At least one of the two is given (the schema requires it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UpdateProduct {
    pub sku: String,
    pub price_cents: Option<i64>,
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReserveStock {
    pub order_id: String,
    pub lines: Vec<StockLine>,
}

/// `ReleaseStock` and `CommitReservation` both name only the order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderRef {
    pub order_id: String,
}

/// Externally tagged (`{"AddStock": {...}}`), as `platform::cqrs::decode_tagged` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum InventoryCommand {
    AddProduct(AddProduct),
    AddStock(AddStock),
    UpdateProduct(UpdateProduct),
    ReserveStock(ReserveStock),
    ReleaseStock(OrderRef),
    CommitReservation(OrderRef),
}

/// Every command the service knows, with its JSON Schema, for the command bus.
pub const SCHEMAS: &[(&str, &str)] = &[
    (
        "AddProduct",
        include_str!("../../../schemas/commands/inventory/AddProduct.v1.json"),
    ),
    (
        "AddStock",
        include_str!("../../../schemas/commands/inventory/AddStock.v1.json"),
    ),
    (
        "UpdateProduct",
        include_str!("../../../schemas/commands/inventory/UpdateProduct.v1.json"),
    ),
    (
        "ReserveStock",
        include_str!("../../../schemas/commands/inventory/ReserveStock.v1.json"),
    ),
    (
        "ReleaseStock",
        include_str!("../../../schemas/commands/inventory/ReleaseStock.v1.json"),
    ),
    (
        "CommitReservation",
        include_str!("../../../schemas/commands/inventory/CommitReservation.v1.json"),
    ),
];

impl InventoryCommand {
    /// The aggregate the command is addressed to: the sku, or the order's reservation.
    pub fn aggregate_id(&self) -> &str {
        match self {
            Self::AddProduct(c) => &c.sku,
            Self::AddStock(c) => &c.sku,
            Self::UpdateProduct(c) => &c.sku,
            Self::ReserveStock(c) => &c.order_id,
            Self::ReleaseStock(c) | Self::CommitReservation(c) => &c.order_id,
        }
    }
}
