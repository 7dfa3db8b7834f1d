//! The business rules of the user context, one variant each.
//!
//! Messages never repeat the email address or name another user: a rejection is sent
//! to whoever asked, and must not tell them who holds an address.

use super::MalformedEmail;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("the email address is malformed: {0}")]
    InvalidEmail(MalformedEmail),
    #[error("the email address is already used by another user")]
    EmailTaken,
    #[error("a user needs a non-blank name")]
    MissingName,
    #[error("user {0} is already registered")]
    AlreadyRegistered(String),
    #[error("user {0} does not exist")]
    UnknownUser(String),
    #[error("user {0} is deactivated")]
    Deactivated(String),
}

impl platform::cqrs::BusinessRule for UserError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidEmail(_) => "invalid_email",
            Self::EmailTaken => "email_taken",
            Self::MissingName => "missing_name",
            Self::AlreadyRegistered(_) => "already_registered",
            Self::UnknownUser(_) => "unknown_user",
            Self::Deactivated(_) => "user_deactivated",
        }
    }
}

impl From<MalformedEmail> for UserError {
    fn from(reason: MalformedEmail) -> Self {
        Self::InvalidEmail(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_its_own_code() {
        let rules = [
            UserError::InvalidEmail(MalformedEmail::AtSign),
            UserError::EmailTaken,
            UserError::MissingName,
            UserError::AlreadyRegistered("u1".into()),
            UserError::UnknownUser("u1".into()),
            UserError::Deactivated("u1".into()),
        ];
        let mut codes: Vec<_> = rules
            .iter()
            .map(platform::cqrs::BusinessRule::code)
            .collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), rules.len());
    }
}
