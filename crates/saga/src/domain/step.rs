//! The steps of the fulfilment saga and the command each one sends.
//!
//! A step's command id is `saga:<order_id>:<step>`: deterministic, so a step resent
//! after a lost reply (or by a saga restarted mid-step) is the same command to the
//! service that executes it, whose command log applies it once and answers it the same.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::OrderFacts;

/// The prefix of every command id the saga issues.
pub const COMMAND_ID_PREFIX: &str = "saga:";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Reserve,
    Authorize,
    Capture,
    Confirm,
    Commit,
    NotifyConfirmed,
    Void,
    Refund,
    Release,
    Cancel,
    NotifyCancelled,
}

impl Step {
    pub const ALL: [Step; 11] = [
        Step::Reserve,
        Step::Authorize,
        Step::Capture,
        Step::Confirm,
        Step::Commit,
        Step::NotifyConfirmed,
        Step::Void,
        Step::Refund,
        Step::Release,
        Step::Cancel,
        Step::NotifyCancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Reserve => "reserve",
            Step::Authorize => "authorize",
            Step::Capture => "capture",
            Step::Confirm => "confirm",
            Step::Commit => "commit",
            Step::NotifyConfirmed => "notify_confirmed",
            Step::Void => "void",
            Step::Refund => "refund",
            Step::Release => "release",
            Step::Cancel => "cancel",
            Step::NotifyCancelled => "notify_cancelled",
        }
    }

    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|step| step.name() == name)
    }

    /// The routing key of the step's command on the `commands` exchange.
    pub fn routing_key(self) -> &'static str {
        match self {
            Step::Reserve => "inventory.ReserveStock",
            Step::Commit => "inventory.CommitReservation",
            Step::Release => "inventory.ReleaseStock",
            Step::Authorize => "payment.AuthorizePayment",
            Step::Capture => "payment.CapturePayment",
            Step::Void => "payment.VoidPayment",
            Step::Refund => "payment.RefundPayment",
            Step::Confirm => "order.ConfirmOrder",
            Step::Cancel => "order.CancelOrder",
            Step::NotifyConfirmed | Step::NotifyCancelled => "notification.SendNotification",
        }
    }

    /// The step's command id for `order_id`.
    pub fn command_id(self, order_id: &str) -> String {
        format!("{COMMAND_ID_PREFIX}{order_id}:{}", self.name())
    }

    /// The order and step a saga command id names, or `None` for any other id.
    pub fn parse_command_id(command_id: &str) -> Option<(&str, Step)> {
        let rest = command_id.strip_prefix(COMMAND_ID_PREFIX)?;
        let (order_id, step) = rest.rsplit_once(':')?;
        let step = Step::from_name(step)?;
        (!order_id.is_empty()).then_some((order_id, step))
    }

    /// The body of the step's command. `reason` is why the saga compensates, for the
    /// cancellation, the refund and the customer's notice.
    pub fn body(self, order: &OrderFacts, reason: Option<&str>) -> Value {
        let order_id = order.order_id.as_str();
        let reason = reason.unwrap_or("order fulfilment failed");
        match self {
            Step::Reserve => json!({"order_id": order_id, "lines": order.lines}),
            Step::Commit | Step::Release | Step::Confirm => json!({"order_id": order_id}),
            Step::Authorize => json!({
                "payment_id": order.payment_id(), "order_id": order_id,
                "customer_id": order.customer_id, "amount_cents": order.total_cents,
                "card_token": order.card_token,
            }),
            Step::Capture | Step::Void => json!({"payment_id": order.payment_id()}),
            Step::Refund => json!({"payment_id": order.payment_id(), "reason": reason}),
            Step::Cancel => json!({"order_id": order_id, "reason": reason}),
            Step::NotifyConfirmed => notice(self, order, "order_confirmed", None),
            Step::NotifyCancelled => notice(self, order, "order_cancelled", Some(reason)),
        }
    }
}

fn notice(step: Step, order: &OrderFacts, template: &str, reason: Option<&str>) -> Value {
    let mut data = json!({
        "order_id": order.order_id,
        "total_cents": order.total_cents.to_string(),
    });
    if let Some(reason) = reason {
        data["reason"] = json!(reason);
    }
    json!({
        "notification_id": step.command_id(&order.order_id),
        "customer_id": order.customer_id,
        "channel": "email",
        "template": template,
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_id_names_its_order_and_step() {
        let id = Step::NotifyCancelled.command_id("o:1");
        assert_eq!(id, "saga:o:1:notify_cancelled");
        assert_eq!(
            Step::parse_command_id(&id),
            Some(("o:1", Step::NotifyCancelled))
        );
    }

    #[test]
    fn a_foreign_command_id_is_not_a_saga_step() {
        assert_eq!(Step::parse_command_id("cli-123"), None);
        assert_eq!(Step::parse_command_id("saga::reserve"), None);
        assert_eq!(Step::parse_command_id("saga:o1:ship"), None);
    }
}
