//! The order aggregate: `placed -> confirmed -> cancelled`, or `placed -> cancelled`.
//!
//! A confirmed order can still be cancelled: the fulfilment saga confirms an order once
//! its payment is authorized and its stock reserved, and cancels it again (its
//! compensation) when a later step, capturing the payment or committing the stock,
//! fails. A cancelled order is final.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: u64,
    pub unit_price_cents: i64,
}

/// What the order service knows of a customer when an order is placed: the service's
/// own read model of the user service's events, looked up by the application before
/// the decision, so that [`place`] stays pure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CustomerStanding {
    /// Never registered, or not heard of yet. The default, so a command nobody looked
    /// the customer up for is refused rather than let through.
    #[default]
    Unknown,
    Active,
    Deactivated,
}

/// What `PlaceOrder` asks for, as [`place`] decides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub order_id: String,
    pub customer_id: String,
    /// The customer's payment method, passed on to `AuthorizePayment` by the saga.
    pub card_token: String,
    pub lines: Vec<OrderLine>,
    /// Filled in by the application from its customer read model; never taken from
    /// the wire, where a client could claim any standing it liked.
    #[serde(skip, default)]
    pub customer: CustomerStanding,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderCommand {
    /// A newtype variant: serde reads it from the same `{"PlaceOrder": {...}}` shape.
    PlaceOrder(Placement),
    ConfirmOrder {
        order_id: String,
    },
    CancelOrder {
        order_id: String,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    OrderPlaced {
        order_id: String,
        customer_id: String,
        // Orders stored before the field existed still load, with an empty token.
        #[serde(default)]
        card_token: String,
        lines: Vec<OrderLine>,
        total_cents: i64,
    },
    OrderConfirmed {
        order_id: String,
    },
    OrderCancelled {
        order_id: String,
        reason: String,
    },
}

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> String {
        match self {
            Self::OrderPlaced { .. } => "OrderPlaced",
            Self::OrderConfirmed { .. } => "OrderConfirmed",
            Self::OrderCancelled { .. } => "OrderCancelled",
        }
        .to_string()
    }

    /// `OrderPlaced` is at version 2 (it gained `card_token`); the others never changed.
    /// Version 1 events of this store still load: `card_token` defaults to empty.
    fn event_version(&self) -> String {
        match self {
            Self::OrderPlaced { .. } => "2",
            _ => "1",
        }
        .to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("order {0} was already placed")]
    AlreadyPlaced(String),
    #[error("order {0} does not exist")]
    UnknownOrder(String),
    #[error("an order needs at least one line")]
    NoLines,
    #[error("a line needs a quantity of at least 1 and a non-negative price")]
    InvalidLine,
    #[error("the order total does not fit in cents")]
    TotalOverflow,
    #[error("order {0} is cancelled")]
    Cancelled(String),
    #[error("a cancellation needs a reason")]
    MissingReason,
    #[error("customer {0} is not registered")]
    UnknownCustomer(String),
    #[error("customer {0} is deactivated")]
    CustomerInactive(String),
}

impl platform::cqrs::BusinessRule for OrderError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyPlaced(_) => "already_placed",
            Self::UnknownOrder(_) => "unknown_order",
            Self::NoLines => "no_lines",
            Self::InvalidLine => "invalid_line",
            Self::TotalOverflow => "total_overflow",
            Self::Cancelled(_) => "order_cancelled",
            Self::MissingReason => "missing_reason",
            Self::UnknownCustomer(_) => "unknown_customer",
            Self::CustomerInactive(_) => "customer_inactive",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStatus {
    #[default]
    New,
    Placed,
    Confirmed,
    Cancelled,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub status: OrderStatus,
    pub total_cents: i64,
}

/// Decides `PlaceOrder`: a new order, for a registered and active customer, with valid
/// lines; the total is computed here, in checked integer cents, so no client-supplied
/// total is ever trusted.
pub fn place(order: &Order, placement: Placement) -> Result<Vec<OrderEvent>, OrderError> {
    let Placement {
        order_id,
        customer_id,
        card_token,
        lines,
        customer,
    } = placement;
    // An order placed before is answered as such, whatever its customer became since.
    if order.status != OrderStatus::New {
        return Err(OrderError::AlreadyPlaced(order_id));
    }
    match customer {
        CustomerStanding::Active => {}
        CustomerStanding::Unknown => return Err(OrderError::UnknownCustomer(customer_id)),
        CustomerStanding::Deactivated => return Err(OrderError::CustomerInactive(customer_id)),
    }
    let total_cents = total_of(&lines)?;
    Ok(vec![OrderEvent::OrderPlaced {
        order_id,
        customer_id,
        card_token,
        lines,
        total_cents,
    }])
}

/// The total of at least one valid line, in cents, refused if it overflows.
fn total_of(lines: &[OrderLine]) -> Result<i64, OrderError> {
    if lines.is_empty() {
        return Err(OrderError::NoLines);
    }
    let mut total_cents: i64 = 0;
    for line in lines {
        if line.quantity == 0 || line.unit_price_cents < 0 {
            return Err(OrderError::InvalidLine);
        }
        let amount = i64::try_from(line.quantity)
            .ok()
            .and_then(|q| q.checked_mul(line.unit_price_cents))
            .ok_or(OrderError::TotalOverflow)?;
        total_cents = total_cents
            .checked_add(amount)
            .ok_or(OrderError::TotalOverflow)?;
    }
    Ok(total_cents)
}

/// Decides `ConfirmOrder`: only a placed order is confirmed; confirming twice is a no-op.
pub fn confirm(order: &Order, order_id: String) -> Result<Vec<OrderEvent>, OrderError> {
    match order.status {
        OrderStatus::New => Err(OrderError::UnknownOrder(order_id)),
        OrderStatus::Placed => Ok(vec![OrderEvent::OrderConfirmed { order_id }]),
        OrderStatus::Confirmed => Ok(vec![]),
        OrderStatus::Cancelled => Err(OrderError::Cancelled(order_id)),
    }
}

/// Decides `CancelOrder`: a placed order is cancelled, and so is a confirmed one (the
/// saga's compensation when capturing the payment or committing the stock fails);
/// cancelling twice is a no-op.
pub fn cancel(
    order: &Order,
    order_id: String,
    reason: String,
) -> Result<Vec<OrderEvent>, OrderError> {
    if reason.trim().is_empty() {
        return Err(OrderError::MissingReason);
    }
    match order.status {
        OrderStatus::New => Err(OrderError::UnknownOrder(order_id)),
        OrderStatus::Placed | OrderStatus::Confirmed => {
            Ok(vec![OrderEvent::OrderCancelled { order_id, reason }])
        }
        OrderStatus::Cancelled => Ok(vec![]),
    }
}

impl Aggregate for Order {
    const TYPE: &'static str = "Order";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = match command {
            OrderCommand::PlaceOrder(placement) => place(self, placement)?,
            OrderCommand::ConfirmOrder { order_id } => confirm(self, order_id)?,
            OrderCommand::CancelOrder { order_id, reason } => cancel(self, order_id, reason)?,
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            OrderEvent::OrderPlaced { total_cents, .. } => {
                self.status = OrderStatus::Placed;
                self.total_cents = total_cents;
            }
            OrderEvent::OrderConfirmed { .. } => self.status = OrderStatus::Confirmed,
            OrderEvent::OrderCancelled { .. } => self.status = OrderStatus::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    type OrderTest = TestFramework<Order>;

    fn line(sku: &str, quantity: u64, unit_price_cents: i64) -> OrderLine {
        OrderLine {
            sku: sku.into(),
            quantity,
            unit_price_cents,
        }
    }

    /// `PlaceOrder` for customer `c1`, in the given standing.
    fn place_for(customer: CustomerStanding, lines: Vec<OrderLine>) -> OrderCommand {
        OrderCommand::PlaceOrder(Placement {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            card_token: "tok_ok".into(),
            lines,
            customer,
        })
    }

    fn place(lines: Vec<OrderLine>) -> OrderCommand {
        place_for(CustomerStanding::Active, lines)
    }

    fn placed() -> OrderEvent {
        OrderEvent::OrderPlaced {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            card_token: "tok_ok".into(),
            lines: vec![line("A", 2, 150)],
            total_cents: 300,
        }
    }

    fn confirmed() -> OrderEvent {
        OrderEvent::OrderConfirmed {
            order_id: "o1".into(),
        }
    }

    fn cancelled(reason: &str) -> OrderEvent {
        OrderEvent::OrderCancelled {
            order_id: "o1".into(),
            reason: reason.into(),
        }
    }

    fn cancel(reason: &str) -> OrderCommand {
        OrderCommand::CancelOrder {
            order_id: "o1".into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn an_order_is_placed_with_its_total_in_cents() {
        OrderTest::with(())
            .given_no_previous_events()
            .when(place(vec![line("A", 2, 150)]))
            .then_expect_events(vec![placed()]);
    }

    #[test]
    fn an_order_carries_the_customers_payment_method_to_the_saga() {
        let events = super::place(&Order::default(), placement(CustomerStanding::Active));
        let Ok([OrderEvent::OrderPlaced { card_token, .. }]) = events.as_deref() else {
            panic!("one OrderPlaced expected: {events:?}");
        };
        assert_eq!(card_token, "tok_ok");
    }

    fn placement(customer: CustomerStanding) -> Placement {
        match place_for(customer, vec![line("A", 1, 1)]) {
            OrderCommand::PlaceOrder(placement) => placement,
            other => panic!("not a placement: {other:?}"),
        }
    }

    #[test]
    fn an_order_for_a_customer_never_registered_is_refused() {
        OrderTest::with(())
            .given_no_previous_events()
            .when(place_for(CustomerStanding::Unknown, vec![line("A", 1, 1)]))
            .then_expect_error(OrderError::UnknownCustomer("c1".into()));
    }

    #[test]
    fn an_order_for_a_deactivated_customer_is_refused() {
        OrderTest::with(())
            .given_no_previous_events()
            .when(place_for(
                CustomerStanding::Deactivated,
                vec![line("A", 1, 1)],
            ))
            .then_expect_error(OrderError::CustomerInactive("c1".into()));
    }

    #[test]
    fn an_order_placed_before_is_answered_as_such_whatever_its_customer_became() {
        OrderTest::with(())
            .given(vec![placed()])
            .when(place_for(
                CustomerStanding::Deactivated,
                vec![line("A", 1, 1)],
            ))
            .then_expect_error(OrderError::AlreadyPlaced("o1".into()));
    }

    #[test]
    fn a_standing_sent_over_the_wire_is_ignored() {
        let body = serde_json::json!({"PlaceOrder": {"order_id": "o1", "customer_id": "c1",
            "card_token": "tok_ok", "lines": [], "customer": "Active"}});
        let command: OrderCommand = serde_json::from_value(body).expect("decodes");
        let OrderCommand::PlaceOrder(placement) = command else {
            panic!("not a placement: {command:?}");
        };
        assert_eq!(placement.customer, CustomerStanding::Unknown);
    }

    #[test]
    fn an_order_cannot_be_placed_twice() {
        OrderTest::with(())
            .given(vec![placed()])
            .when(place(vec![line("A", 1, 1)]))
            .then_expect_error(OrderError::AlreadyPlaced("o1".into()));
    }

    #[test]
    fn an_order_needs_lines() {
        OrderTest::with(())
            .given_no_previous_events()
            .when(place(vec![]))
            .then_expect_error(OrderError::NoLines);
    }

    #[test]
    fn a_line_of_zero_units_is_refused() {
        OrderTest::with(())
            .given_no_previous_events()
            .when(place(vec![line("A", 0, 1)]))
            .then_expect_error(OrderError::InvalidLine);
    }

    #[test]
    fn a_total_that_overflows_is_refused() {
        OrderTest::with(())
            .given_no_previous_events()
            .when(place(vec![line("A", 2, i64::MAX)]))
            .then_expect_error(OrderError::TotalOverflow);
    }

    #[test]
    fn a_placed_order_is_confirmed() {
        OrderTest::with(())
            .given(vec![placed()])
            .when(OrderCommand::ConfirmOrder {
                order_id: "o1".into(),
            })
            .then_expect_events(vec![confirmed()]);
    }

    #[test]
    fn confirming_twice_changes_nothing() {
        OrderTest::with(())
            .given(vec![placed(), confirmed()])
            .when(OrderCommand::ConfirmOrder {
                order_id: "o1".into(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_unknown_order_cannot_be_confirmed() {
        OrderTest::with(())
            .given_no_previous_events()
            .when(OrderCommand::ConfirmOrder {
                order_id: "o1".into(),
            })
            .then_expect_error(OrderError::UnknownOrder("o1".into()));
    }

    #[test]
    fn a_placed_order_is_cancelled_with_its_reason() {
        OrderTest::with(())
            .given(vec![placed()])
            .when(cancel("out of stock"))
            .then_expect_events(vec![cancelled("out of stock")]);
    }

    #[test]
    fn a_confirmed_order_is_cancelled_when_a_later_step_fails() {
        OrderTest::with(())
            .given(vec![placed(), confirmed()])
            .when(cancel("payment capture failed"))
            .then_expect_events(vec![cancelled("payment capture failed")]);
    }

    #[test]
    fn cancelling_a_cancelled_order_changes_nothing() {
        OrderTest::with(())
            .given(vec![
                placed(),
                confirmed(),
                cancelled("stock commit failed"),
            ])
            .when(cancel("stock commit failed"))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_cancelled_order_cannot_be_confirmed() {
        OrderTest::with(())
            .given(vec![placed(), cancelled("r")])
            .when(OrderCommand::ConfirmOrder {
                order_id: "o1".into(),
            })
            .then_expect_error(OrderError::Cancelled("o1".into()));
    }

    #[test]
    fn an_order_cancelled_after_its_confirmation_cannot_be_confirmed_again() {
        OrderTest::with(())
            .given(vec![
                placed(),
                confirmed(),
                cancelled("payment capture failed"),
            ])
            .when(OrderCommand::ConfirmOrder {
                order_id: "o1".into(),
            })
            .then_expect_error(OrderError::Cancelled("o1".into()));
    }

    #[test]
    fn an_unknown_order_cannot_be_cancelled() {
        OrderTest::with(())
            .given_no_previous_events()
            .when(cancel("r"))
            .then_expect_error(OrderError::UnknownOrder("o1".into()));
    }

    #[test]
    fn a_cancellation_needs_a_reason() {
        OrderTest::with(())
            .given(vec![placed()])
            .when(cancel(" "))
            .then_expect_error(OrderError::MissingReason);
    }
}
