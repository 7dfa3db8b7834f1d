//! The notification domain, pure: no I/O, no async.
//!
//! - [`notification`]: a notification to one customer, asked for once, then delivered
//!   (sent) or, after too many failed attempts, abandoned.
//! - [`error`]: the business rules a command can break.
//!
//! Time comes in through the commands (the dispatcher stamps `delivered_at`) and the
//! attempt limit through the aggregate's [`DeliveryPolicy`], so every decision is a
//! pure function of state and command.

pub mod error;
pub mod notification;

pub use error::NotificationError;
pub use notification::{
    Channel, DeliveryOutcome, DeliveryPolicy, Notification, NotificationCommand, NotificationEvent,
    NotificationRequest, NotificationStatus,
};

#[cfg(test)]
mod properties;
