//! The business rules of the payment context, one variant each.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("payment {0} was already requested")]
    AlreadyRequested(String),
    #[error("an amount must be at least 1 cent")]
    InvalidAmount,
    #[error("payment {0} was never requested")]
    UnknownPayment(String),
    #[error("payment {0} is not authorized")]
    NotAuthorized(String),
    #[error("payment {0} is already captured: refund it instead")]
    AlreadyCaptured(String),
    #[error("payment {0} is not captured")]
    NotCaptured(String),
    #[error("payment {0} was declined: there is nothing to void")]
    Declined(String),
    #[error("a refund needs a reason")]
    MissingReason,
    #[error("an approval must carry the provider's reference")]
    MissingProviderRef,
}

impl platform::cqrs::BusinessRule for PaymentError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyRequested(_) => "already_requested",
            Self::InvalidAmount => "invalid_amount",
            Self::UnknownPayment(_) => "unknown_payment",
            Self::NotAuthorized(_) => "not_authorized",
            Self::AlreadyCaptured(_) => "already_captured",
            Self::NotCaptured(_) => "not_captured",
            Self::Declined(_) => "payment_declined",
            Self::MissingReason => "missing_reason",
            Self::MissingProviderRef => "missing_provider_ref",
        }
    }
}
