//! The claim on an email address, and the registration decision that spans it and the
//! user.
//!
//! Uniqueness cannot be a rule of the user aggregate alone: no single user sees the
//! others. So each address has an `EmailClaim` aggregate of its own, keyed by
//! [`claim_key`] (the lowercased address), and a registration appends `UserRegistered`
//! and `EmailClaimed` together. Since the claim's first event has sequence 1, two
//! registrations of one address collide on the event store's key: one commits, the
//! other is decided again and finds the address taken. A claim is never released, not
//! even by deactivation: an address identifies at most one account, ever.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::email::claim_key;
use super::{user, User, UserError, UserEvent};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmailClaimEvent {
    EmailClaimed { email: String, user_id: String },
}

impl DomainEvent for EmailClaimEvent {
    fn event_type(&self) -> String {
        match self {
            Self::EmailClaimed { .. } => "EmailClaimed",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Who holds an address, if anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailClaim {
    pub holder: Option<String>,
}

/// The events one registration appends: to the user, and to the claim on its address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    pub user: Vec<UserEvent>,
    pub claim: Vec<EmailClaimEvent>,
}

/// Decides `RegisterUser` given the user and the claim on `claim_key(email)`: the
/// user's own rules first, then the address must be free.
pub fn register(
    user: &User,
    claim: &EmailClaim,
    user_id: &str,
    email: &str,
    name: &str,
) -> Result<Registration, UserError> {
    let user_events = user::register(user, user_id.to_string(), email, name.to_string())?;
    let claim_events = match claim.holder.as_deref() {
        None => vec![EmailClaimEvent::EmailClaimed {
            email: claim_key(email),
            user_id: user_id.to_string(),
        }],
        // Both are appended together, so a claim without its user is never written
        // here; should one exist, it does not block its own holder.
        Some(holder) if holder == user_id => vec![],
        Some(_) => return Err(UserError::EmailTaken),
    };
    Ok(Registration {
        user: user_events,
        claim: claim_events,
    })
}

/// A claim is only ever changed by a registration, which spans the user too, so it is
/// not executed through cqrs-es's single-aggregate `handle`: the command type is
/// uninhabited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCommand {}

impl Aggregate for EmailClaim {
    const TYPE: &'static str = "EmailClaim";
    type Command = NoCommand;
    type Event = EmailClaimEvent;
    type Error = UserError;
    type Services = ();

    async fn handle(
        &mut self,
        command: NoCommand,
        _: &(),
        _: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {}
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            EmailClaimEvent::EmailClaimed { user_id, .. } => self.holder = Some(user_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MalformedEmail;

    fn held_by(user_id: &str) -> EmailClaim {
        let mut claim = EmailClaim::default();
        claim.apply(EmailClaimEvent::EmailClaimed {
            email: "ann@example.com".into(),
            user_id: user_id.into(),
        });
        claim
    }

    fn registered_user() -> User {
        let mut user = User::default();
        user.apply(UserEvent::UserRegistered {
            user_id: "u1".into(),
            email: "ann@example.com".into(),
            name: "Ann".into(),
        });
        user
    }

    #[test]
    fn a_free_address_is_claimed_lowercased_with_the_registration() {
        let decision = register(
            &User::default(),
            &EmailClaim::default(),
            "u1",
            " Ann@Example.com",
            "Ann",
        );
        assert_eq!(
            decision,
            Ok(Registration {
                user: vec![UserEvent::UserRegistered {
                    user_id: "u1".into(),
                    email: "Ann@Example.com".into(),
                    name: "Ann".into(),
                }],
                claim: vec![EmailClaimEvent::EmailClaimed {
                    email: "ann@example.com".into(),
                    user_id: "u1".into(),
                }],
            })
        );
    }

    #[test]
    fn an_address_claimed_by_another_user_is_taken() {
        let decision = register(
            &User::default(),
            &held_by("u2"),
            "u1",
            "ANN@example.com",
            "Ann",
        );
        assert_eq!(decision, Err(UserError::EmailTaken));
    }

    #[test]
    fn a_registered_user_is_refused_before_the_address_is_looked_at() {
        let decision = register(&registered_user(), &held_by("u2"), "u1", "x@y.z", "Ann");
        assert_eq!(decision, Err(UserError::AlreadyRegistered("u1".into())));
    }

    #[test]
    fn a_malformed_address_is_refused_whoever_holds_its_key() {
        let decision = register(&User::default(), &held_by("u2"), "u1", "ann@example", "Ann");
        assert_eq!(
            decision,
            Err(UserError::InvalidEmail(MalformedEmail::Domain))
        );
    }

    #[test]
    fn a_blank_name_claims_nothing() {
        let decision = register(
            &User::default(),
            &EmailClaim::default(),
            "u1",
            "ann@example.com",
            " ",
        );
        assert_eq!(decision, Err(UserError::MissingName));
    }

    #[test]
    fn a_claim_already_held_by_the_same_user_is_not_claimed_again() {
        let decision = register(
            &User::default(),
            &held_by("u1"),
            "u1",
            "ann@example.com",
            "Ann",
        )
        .expect("the user's own claim does not block them");
        assert!(decision.claim.is_empty());
        assert_eq!(decision.user.len(), 1);
    }
}
