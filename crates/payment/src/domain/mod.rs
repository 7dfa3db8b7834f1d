//! The payment domain, pure: no I/O, no async.
//!
//! - [`payment`]: one card payment for an order: authorization requested at the
//!   provider (retried after transient failures), then authorized or declined, and an
//!   authorized payment captured and perhaps refunded, or voided.
//! - [`error`]: the business rules a command can break.
//!
//! The provider's answers come in through a command (`RecordProviderAnswer`) and the
//! attempt limit through the aggregate's [`AuthorizationPolicy`], so every decision is
//! a pure function of state and command.

pub mod error;
pub mod payment;

pub use error::PaymentError;
pub use payment::{
    AnswerStatus, AuthorizationPolicy, AuthorizationRequest, Payment, PaymentCommand, PaymentEvent,
    PaymentStatus, ProviderAnswer, PROVIDER_UNAVAILABLE,
};

#[cfg(test)]
mod properties;
