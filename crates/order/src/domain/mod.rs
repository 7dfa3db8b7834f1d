//! The order domain, pure: no I/O, no async.
//!
//! An order is placed once, for a registered and active customer, with its lines and
//! prices (integer cents) and the customer's payment method; then confirmed, or
//! cancelled. A confirmed order may still be cancelled (the fulfilment saga's
//! compensation when a later step fails); a cancelled one is final. The customer's
//! standing comes in with the command, looked up by the application, so every decision
//! is a pure function of state and command.

pub mod order;

pub use order::{
    CustomerStanding, Order, OrderCommand, OrderError, OrderEvent, OrderLine, OrderStatus,
    Placement,
};

#[cfg(test)]
mod properties;
