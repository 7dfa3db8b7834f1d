//! The user aggregate: `registered -> deactivated`; the name (the profile) changes only
//! while the user is active.
//!
//! `RegisterUser` decides the user's own rules here, but registering also claims the
//! email address, another aggregate: the application never executes it through
//! `handle`, it calls [`crate::domain::registration::register`], which calls
//! [`register`] below and adds the claim.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::{Email, UserError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserCommand {
    RegisterUser {
        user_id: String,
        email: String,
        name: String,
    },
    UpdateProfile {
        user_id: String,
        name: String,
    },
    DeactivateUser {
        user_id: String,
    },
}

impl UserCommand {
    /// The user the command is addressed to.
    pub fn user_id(&self) -> &str {
        match self {
            Self::RegisterUser { user_id, .. }
            | Self::UpdateProfile { user_id, .. }
            | Self::DeactivateUser { user_id } => user_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserEvent {
    UserRegistered {
        user_id: String,
        email: String,
        name: String,
    },
    ProfileUpdated {
        user_id: String,
        name: String,
    },
    UserDeactivated {
        user_id: String,
    },
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        match self {
            Self::UserRegistered { .. } => "UserRegistered",
            Self::ProfileUpdated { .. } => "ProfileUpdated",
            Self::UserDeactivated { .. } => "UserDeactivated",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserStatus {
    #[default]
    New,
    Active,
    Deactivated,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub status: UserStatus,
    pub email: String,
    pub name: String,
}

fn require_name(name: &str) -> Result<(), UserError> {
    if name.trim().is_empty() {
        return Err(UserError::MissingName);
    }
    Ok(())
}

/// Decides the user's part of `RegisterUser`: a new user, a well-formed address (kept
/// as given, without surrounding whitespace) and a name.
pub fn register(
    user: &User,
    user_id: String,
    email: &str,
    name: String,
) -> Result<Vec<UserEvent>, UserError> {
    if user.status != UserStatus::New {
        return Err(UserError::AlreadyRegistered(user_id));
    }
    let email = Email::parse(email)?;
    require_name(&name)?;
    Ok(vec![UserEvent::UserRegistered {
        user_id,
        email: email.as_str().to_string(),
        name,
    }])
}

/// Decides `UpdateProfile`: only an active user changes their name.
pub fn update_profile(
    user: &User,
    user_id: String,
    name: String,
) -> Result<Vec<UserEvent>, UserError> {
    match user.status {
        UserStatus::New => Err(UserError::UnknownUser(user_id)),
        UserStatus::Deactivated => Err(UserError::Deactivated(user_id)),
        UserStatus::Active => {
            require_name(&name)?;
            Ok(vec![UserEvent::ProfileUpdated { user_id, name }])
        }
    }
}

/// Decides `DeactivateUser`: an active user is deactivated; deactivating twice is a
/// no-op, so a retrying sender needs no special case.
pub fn deactivate(user: &User, user_id: String) -> Result<Vec<UserEvent>, UserError> {
    match user.status {
        UserStatus::New => Err(UserError::UnknownUser(user_id)),
        UserStatus::Active => Ok(vec![UserEvent::UserDeactivated { user_id }]),
        UserStatus::Deactivated => Ok(vec![]),
    }
}

impl Aggregate for User {
    const TYPE: &'static str = "User";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = match command {
            UserCommand::RegisterUser {
                user_id,
                email,
                name,
            } => register(self, user_id, &email, name)?,
            UserCommand::UpdateProfile { user_id, name } => update_profile(self, user_id, name)?,
            UserCommand::DeactivateUser { user_id } => deactivate(self, user_id)?,
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            UserEvent::UserRegistered { email, name, .. } => {
                self.status = UserStatus::Active;
                self.email = email;
                self.name = name;
            }
            UserEvent::ProfileUpdated { name, .. } => self.name = name,
            UserEvent::UserDeactivated { .. } => self.status = UserStatus::Deactivated,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::domain::MalformedEmail;

    type UserTest = TestFramework<User>;

    fn register(email: &str, name: &str) -> UserCommand {
        UserCommand::RegisterUser {
            user_id: "u1".into(),
            email: email.into(),
            name: name.into(),
        }
    }

    fn registered() -> UserEvent {
        UserEvent::UserRegistered {
            user_id: "u1".into(),
            email: "Ann@Example.com".into(),
            name: "Ann".into(),
        }
    }

    fn deactivated() -> UserEvent {
        UserEvent::UserDeactivated {
            user_id: "u1".into(),
        }
    }

    fn update(name: &str) -> UserCommand {
        UserCommand::UpdateProfile {
            user_id: "u1".into(),
            name: name.into(),
        }
    }

    fn deactivate() -> UserCommand {
        UserCommand::DeactivateUser {
            user_id: "u1".into(),
        }
    }

    #[test]
    fn a_user_registers_with_the_address_as_given_without_surrounding_whitespace() {
        UserTest::with(())
            .given_no_previous_events()
            .when(register(" Ann@Example.com ", "Ann"))
            .then_expect_events(vec![registered()]);
    }

    #[test]
    fn a_malformed_address_is_refused() {
        UserTest::with(())
            .given_no_previous_events()
            .when(register("ann@localhost", "Ann"))
            .then_expect_error(UserError::InvalidEmail(MalformedEmail::Domain));
    }

    #[test]
    fn a_user_needs_a_name() {
        UserTest::with(())
            .given_no_previous_events()
            .when(register("ann@example.com", "  "))
            .then_expect_error(UserError::MissingName);
    }

    #[test]
    fn a_user_registers_only_once() {
        UserTest::with(())
            .given(vec![registered()])
            .when(register("other@example.com", "Ann"))
            .then_expect_error(UserError::AlreadyRegistered("u1".into()));
    }

    #[test]
    fn an_active_user_changes_their_name() {
        UserTest::with(())
            .given(vec![registered()])
            .when(update("Ann Lee"))
            .then_expect_events(vec![UserEvent::ProfileUpdated {
                user_id: "u1".into(),
                name: "Ann Lee".into(),
            }]);
    }

    #[test]
    fn a_profile_needs_a_name() {
        UserTest::with(())
            .given(vec![registered()])
            .when(update(""))
            .then_expect_error(UserError::MissingName);
    }

    #[test]
    fn an_unknown_user_has_no_profile_to_update() {
        UserTest::with(())
            .given_no_previous_events()
            .when(update("Ann"))
            .then_expect_error(UserError::UnknownUser("u1".into()));
    }

    #[test]
    fn a_deactivated_user_cannot_update_their_profile() {
        UserTest::with(())
            .given(vec![registered(), deactivated()])
            .when(update("Ann Lee"))
            .then_expect_error(UserError::Deactivated("u1".into()));
    }

    #[test]
    fn an_active_user_is_deactivated() {
        UserTest::with(())
            .given(vec![registered()])
            .when(deactivate())
            .then_expect_events(vec![deactivated()]);
    }

    #[test]
    fn deactivating_twice_changes_nothing() {
        UserTest::with(())
            .given(vec![registered(), deactivated()])
            .when(deactivate())
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_unknown_user_cannot_be_deactivated() {
        UserTest::with(())
            .given_no_previous_events()
            .when(deactivate())
            .then_expect_error(UserError::UnknownUser("u1".into()));
    }

    #[test]
    fn a_deactivated_user_cannot_register_again() {
        UserTest::with(())
            .given(vec![registered(), deactivated()])
            .when(register("ann@example.com", "Ann"))
            .then_expect_error(UserError::AlreadyRegistered("u1".into()));
    }
}
