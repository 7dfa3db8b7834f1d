//! The order aggregate: `placed -> confirmed | cancelled`.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: u64,
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderCommand {
    PlaceOrder {
        order_id: String,
        customer_id: String,
        lines: Vec<OrderLine>,
    },
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

    fn event_version(&self) -> String {
        "1".to_string()
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
    #[error("order {0} is already confirmed")]
    AlreadyConfirmed(String),
    #[error("order {0} is cancelled")]
    Cancelled(String),
    #[error("a cancellation needs a reason")]
    MissingReason,
}

impl platform::cqrs::BusinessRule for OrderError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyPlaced(_) => "already_placed",
            Self::UnknownOrder(_) => "unknown_order",
            Self::NoLines => "no_lines",
            Self::InvalidLine => "invalid_line",
            Self::TotalOverflow => "total_overflow",
            Self::AlreadyConfirmed(_) => "already_confirmed",
            Self::Cancelled(_) => "order_cancelled",
            Self::MissingReason => "missing_reason",
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

/// Decides `PlaceOrder`: a new order with valid lines; the total is computed here, in
/// checked integer cents, so no client-supplied total is ever trusted.
pub fn place(
    order: &Order,
    order_id: String,
    customer_id: String,
    lines: Vec<OrderLine>,
) -> Result<Vec<OrderEvent>, OrderError> {
    if order.status != OrderStatus::New {
        return Err(OrderError::AlreadyPlaced(order_id));
    }
    if lines.is_empty() {
        return Err(OrderError::NoLines);
    }
    let mut total_cents: i64 = 0;
    for line in &lines {
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
    Ok(vec![OrderEvent::OrderPlaced {
        order_id,
        customer_id,
        lines,
        total_cents,
    }])
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

/// Decides `CancelOrder`: a placed order is cancelled; a confirmed one is not (it is
/// refunded instead); cancelling twice is a no-op.
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
        OrderStatus::Placed => Ok(vec![OrderEvent::OrderCancelled { order_id, reason }]),
        OrderStatus::Confirmed => Err(OrderError::AlreadyConfirmed(order_id)),
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
            OrderCommand::PlaceOrder {
                order_id,
                customer_id,
                lines,
            } => place(self, order_id, customer_id, lines)?,
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

    fn place(lines: Vec<OrderLine>) -> OrderCommand {
        OrderCommand::PlaceOrder {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            lines,
        }
    }

    fn placed() -> OrderEvent {
        OrderEvent::OrderPlaced {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            lines: vec![line("A", 2, 150)],
            total_cents: 300,
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
            .then_expect_events(vec![OrderEvent::OrderConfirmed {
                order_id: "o1".into(),
            }]);
    }

    #[test]
    fn confirming_twice_changes_nothing() {
        OrderTest::with(())
            .given(vec![
                placed(),
                OrderEvent::OrderConfirmed {
                    order_id: "o1".into(),
                },
            ])
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
            .then_expect_events(vec![OrderEvent::OrderCancelled {
                order_id: "o1".into(),
                reason: "out of stock".into(),
            }]);
    }

    #[test]
    fn a_confirmed_order_cannot_be_cancelled() {
        OrderTest::with(())
            .given(vec![
                placed(),
                OrderEvent::OrderConfirmed {
                    order_id: "o1".into(),
                },
            ])
            .when(cancel("changed my mind"))
            .then_expect_error(OrderError::AlreadyConfirmed("o1".into()));
    }

    #[test]
    fn a_cancelled_order_cannot_be_confirmed() {
        OrderTest::with(())
            .given(vec![
                placed(),
                OrderEvent::OrderCancelled {
                    order_id: "o1".into(),
                    reason: "r".into(),
                },
            ])
            .when(OrderCommand::ConfirmOrder {
                order_id: "o1".into(),
            })
            .then_expect_error(OrderError::Cancelled("o1".into()));
    }

    #[test]
    fn a_cancellation_needs_a_reason() {
        OrderTest::with(())
            .given(vec![placed()])
            .when(cancel(" "))
            .then_expect_error(OrderError::MissingReason);
    }
}
