//! The user domain, pure: no I/O, no async.
//!
//! - [`user`]: a user (one per user id): registered, with a name that can change while
//!   active, until deactivated.
//! - [`email`]: the validator of email addresses and the case-insensitive claim key.
//! - [`registration`]: the claim on an email address, and the registration decision
//!   that spans the user and that claim.
//! - [`error`]: the business rules a command can break.
//!
//! An email address belongs to at most one user: the claim on it is an aggregate of its
//! own, keyed by the lowercased address, and a registration appends the user's and the
//! claim's events in one transaction. Two registrations racing for one address both
//! append to the same claim, so one of them conflicts and is decided again on fresh
//! state, where the address is taken.

pub mod email;
pub mod error;
pub mod registration;
pub mod user;

pub use email::{Email, MalformedEmail};
pub use error::UserError;
pub use registration::{EmailClaim, EmailClaimEvent, Registration};
pub use user::{User, UserCommand, UserEvent, UserStatus};

#[cfg(test)]
mod properties;
