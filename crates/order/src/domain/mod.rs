//! The order domain, pure: no I/O, no async.
//!
//! An order is placed once with its lines and prices (integer cents), then either
//! confirmed or cancelled; both ends are final.

pub mod order;

pub use order::{Order, OrderCommand, OrderError, OrderEvent, OrderLine, OrderStatus};
