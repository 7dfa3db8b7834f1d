//! The inventory domain, pure: no I/O, no async.
//!
//! - [`product`]: a product (one per sku) and its stock: available, allocated per order, sold.
//! - [`reservation`]: an order's all-or-nothing reservation over several products.
//! - [`error`]: the business rules a command can break.
//!
//! Stock never goes negative: every allocation is decided against the product's
//! current `available`, and the append is optimistic, so a concurrent change makes
//! the decision be taken again on fresh state.

pub mod error;
pub mod product;
pub mod reservation;

pub use error::InventoryError;
pub use product::{Product, ProductCommand, ProductEvent};
pub use reservation::{Reservation, ReservationEvent, StockLine};

#[cfg(test)]
mod properties;
