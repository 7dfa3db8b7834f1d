//! Property tests of the order aggregate: arbitrary sequences of `PlaceOrder` (any
//! customer standing, empty, zero, negative and huge lines), `ConfirmOrder` and
//! `CancelOrder` (blank reasons too) run in memory through `handle`/`apply`, with the
//! state machine and the total checked after every step.

use cqrs_es::Aggregate;
use platform::cqrs::handle_in_memory;
use proptest::prelude::*;

use super::order::{
    CustomerStanding, Order, OrderCommand, OrderError, OrderEvent, OrderLine, OrderStatus,
    Placement,
};

fn line() -> impl Strategy<Value = OrderLine> {
    let quantity = prop_oneof![4 => 1u64..10, 1 => Just(0u64), 1 => Just(u64::MAX)];
    let price = prop_oneof![4 => 0i64..10_000, 1 => Just(-1i64), 1 => Just(i64::MAX)];
    (quantity, price).prop_map(|(quantity, unit_price_cents)| OrderLine {
        sku: "A".into(),
        quantity,
        unit_price_cents,
    })
}

fn standing() -> impl Strategy<Value = CustomerStanding> {
    prop_oneof![
        4 => Just(CustomerStanding::Active),
        1 => Just(CustomerStanding::Unknown),
        1 => Just(CustomerStanding::Deactivated),
    ]
}

fn command() -> impl Strategy<Value = OrderCommand> {
    let place = (prop::collection::vec(line(), 0..4), standing()).prop_map(|(lines, customer)| {
        OrderCommand::PlaceOrder(Placement {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            card_token: "tok_ok".into(),
            lines,
            customer,
        })
    });
    let confirm = Just(OrderCommand::ConfirmOrder {
        order_id: "o1".into(),
    });
    let cancel = prop_oneof![Just(""), Just(" "), Just("out of stock")].prop_map(|reason| {
        OrderCommand::CancelOrder {
            order_id: "o1".into(),
            reason: reason.into(),
        }
    });
    prop_oneof![place, confirm, cancel]
}

/// The total computed independently, wide enough never to overflow; `None` when a
/// line is invalid.
fn expected_total(lines: &[OrderLine]) -> Option<i128> {
    let valid = lines
        .iter()
        .all(|l| l.quantity > 0 && l.unit_price_cents >= 0);
    valid.then(|| {
        lines
            .iter()
            .map(|l| i128::from(l.quantity) * i128::from(l.unit_price_cents))
            .fold(0, i128::saturating_add)
    })
}

/// Whether the running total, line by line, leaves `i64` before an invalid line is
/// met. A quantity past `i64` counts even at a price of zero: the domain refuses it
/// rather than multiply by it.
fn overflows(lines: &[OrderLine]) -> bool {
    let mut total: i128 = 0;
    for line in lines {
        if line.quantity == 0 || line.unit_price_cents < 0 {
            return false;
        }
        total = total.saturating_add(i128::from(line.quantity) * i128::from(line.unit_price_cents));
        if i64::try_from(line.quantity).is_err() || i64::try_from(total).is_err() {
            return true;
        }
    }
    false
}

/// The moves the domain documents: placed, then confirmed or cancelled, and a
/// confirmed order cancelled by the saga's compensation.
fn allowed(from: OrderStatus, to: OrderStatus) -> bool {
    use OrderStatus::*;
    from == to
        || matches!(
            (from, to),
            (New, Placed) | (Placed, Confirmed | Cancelled) | (Confirmed, Cancelled)
        )
}

/// A successful placement totals its lines exactly, and only an unrepresentable total
/// is refused as an overflow.
fn check_placement(placement: &Placement, result: &Result<Vec<OrderEvent>, OrderError>) {
    let expected = expected_total(&placement.lines);
    match result {
        Ok(events) => {
            let [OrderEvent::OrderPlaced {
                total_cents, lines, ..
            }] = events.as_slice()
            else {
                panic!("a placement appends one OrderPlaced: {events:?}");
            };
            assert_eq!(lines, &placement.lines);
            assert_eq!(Some(i128::from(*total_cents)), expected);
        }
        Err(OrderError::TotalOverflow) => assert!(overflows(&placement.lines)),
        Err(OrderError::InvalidLine) => assert_eq!(expected, None),
        Err(_) => {}
    }
}

fn step(order: &Order, command: OrderCommand) -> Order {
    let confirming = matches!(command, OrderCommand::ConfirmOrder { .. });
    let placement = match &command {
        OrderCommand::PlaceOrder(placement) => Some(placement.clone()),
        _ => None,
    };
    let (after, result) = handle_in_memory(order, command, &());
    if let Some(placement) = placement.filter(|_| order.status == OrderStatus::New) {
        check_placement(&placement, &result);
    }
    match result {
        Ok(events) => {
            assert!(events.len() <= 1, "{events:?}");
            assert!(
                allowed(order.status, after.status),
                "{:?} -> {:?}",
                order.status,
                after.status
            );
            if order.status == OrderStatus::Cancelled {
                assert!(events.is_empty(), "a cancelled order moved: {events:?}");
            }
            after
        }
        Err(err) => {
            assert_eq!(&after, order, "a rejected command changed the order");
            if confirming && order.status == OrderStatus::Cancelled {
                assert_eq!(err, OrderError::Cancelled("o1".into()));
            }
            after
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_order_only_moves_forward_and_totals_its_lines(
        commands in prop::collection::vec(command(), 0..12),
    ) {
        let mut order = Order::default();
        for command in commands {
            order = step(&order, command);
        }
    }

    #[test]
    fn a_cancelled_order_never_confirms_whatever_follows(
        lines in prop::collection::vec(line(), 1..3),
        confirmed_first in any::<bool>(),
        then in prop::collection::vec(command(), 0..8),
    ) {
        let placed = OrderEvent::OrderPlaced {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            card_token: "tok_ok".into(),
            lines,
            total_cents: 1,
        };
        let mut order = Order::default();
        order.apply(placed);
        if confirmed_first {
            order.apply(OrderEvent::OrderConfirmed { order_id: "o1".into() });
        }
        order.apply(OrderEvent::OrderCancelled { order_id: "o1".into(), reason: "r".into() });
        for command in then {
            order = step(&order, command);
            prop_assert_eq!(order.status, OrderStatus::Cancelled);
        }
    }
}
