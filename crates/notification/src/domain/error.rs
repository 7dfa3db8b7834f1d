//! The business rules of the notification context, one variant each.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("notification {0} was already requested")]
    AlreadyRequested(String),
    #[error("channel {0:?} is not supported: use email or sms")]
    UnsupportedChannel(String),
    #[error("a notification needs a template")]
    MissingTemplate,
    #[error("notification {0} was never requested")]
    UnknownNotification(String),
}

impl platform::cqrs::BusinessRule for NotificationError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyRequested(_) => "already_requested",
            Self::UnsupportedChannel(_) => "unsupported_channel",
            Self::MissingTemplate => "missing_template",
            Self::UnknownNotification(_) => "unknown_notification",
        }
    }
}
