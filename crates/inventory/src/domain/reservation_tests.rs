//! Given/when/then tests of reservations: given products with stock and the
//! reservation's history, when a decision is taken, then these events (or this error).

use super::*;
use crate::domain::error::Shortage;

struct Given {
    products: BTreeMap<String, Product>,
    reservation: Reservation,
}

fn given_stock(stock: &[(&str, u64)]) -> Given {
    let mut products = BTreeMap::new();
    for (sku, quantity) in stock {
        let mut product = Product::default();
        product.apply(ProductEvent::ProductAdded {
            sku: (*sku).into(),
            name: "n".into(),
            category: "c".into(),
            price_cents: 100,
        });
        product.apply(ProductEvent::StockAdded {
            sku: (*sku).into(),
            quantity: *quantity,
        });
        products.insert((*sku).to_string(), product);
    }
    Given {
        products,
        reservation: Reservation::default(),
    }
}

impl Given {
    /// Applies a decision as the store would, to build up history.
    fn and(mut self, decision: Result<Decision, InventoryError>) -> Self {
        let decision = decision.expect("the given decision succeeds");
        for event in decision.reservation {
            self.reservation.apply(event);
        }
        for (sku, events) in decision.products {
            let product = self.products.entry(sku).or_default();
            events.into_iter().for_each(|e| product.apply(e));
        }
        self
    }

    fn reserved(self, order_id: &str, wanted: &[(&str, u64)]) -> Self {
        let decision = reserve(&self.reservation, &self.products, order_id, lines(wanted));
        self.and(decision)
    }
}

fn lines(wanted: &[(&str, u64)]) -> Vec<StockLine> {
    wanted
        .iter()
        .map(|(sku, quantity)| StockLine {
            sku: (*sku).into(),
            quantity: *quantity,
        })
        .collect()
}

fn allocated(sku: &str, quantity: u64) -> (String, Vec<ProductEvent>) {
    (
        sku.into(),
        vec![ProductEvent::StockAllocated {
            sku: sku.into(),
            order_id: "o1".into(),
            quantity,
        }],
    )
}

#[test]
fn every_line_is_allocated_when_all_are_in_stock() {
    let given = given_stock(&[("A", 5), ("B", 2)]);
    let decision = reserve(
        &given.reservation,
        &given.products,
        "o1",
        lines(&[("A", 3), ("B", 2)]),
    );
    assert_eq!(
        decision,
        Ok(Decision {
            reservation: vec![ReservationEvent::StockReserved {
                order_id: "o1".into(),
                lines: lines(&[("A", 3), ("B", 2)])
            }],
            products: BTreeMap::from([allocated("A", 3), allocated("B", 2)]),
        })
    );
}

#[test]
fn nothing_is_allocated_when_one_line_is_short() {
    let given = given_stock(&[("A", 5), ("B", 1)]);
    let decision = reserve(
        &given.reservation,
        &given.products,
        "o1",
        lines(&[("A", 3), ("B", 2)]),
    );
    assert_eq!(
        decision,
        Err(InventoryError::InsufficientStock(vec![Shortage {
            sku: "B".into(),
            requested: 2,
            available: 1
        }]))
    );
}

#[test]
fn the_same_sku_twice_is_checked_against_its_total() {
    let given = given_stock(&[("A", 5)]);
    let decision = reserve(
        &given.reservation,
        &given.products,
        "o1",
        lines(&[("A", 3), ("A", 3)]),
    );
    assert!(matches!(
        decision,
        Err(InventoryError::InsufficientStock(_))
    ));
}

#[test]
fn an_unknown_sku_is_refused() {
    let given = given_stock(&[("A", 5)]);
    let decision = reserve(
        &given.reservation,
        &given.products,
        "o1",
        lines(&[("A", 1), ("Z", 1)]),
    );
    assert_eq!(decision, Err(InventoryError::UnknownProduct("Z".into())));
}

#[test]
fn lines_of_one_sku_adding_up_past_the_largest_quantity_are_refused() {
    let given = given_stock(&[("A", 5)]);
    assert_eq!(
        reserve(
            &given.reservation,
            &given.products,
            "o1",
            lines(&[("A", u64::MAX), ("A", 1)])
        ),
        Err(InventoryError::QuantityOverflow)
    );
}

#[test]
fn a_reservation_needs_lines_of_at_least_one_unit() {
    let given = given_stock(&[("A", 5)]);
    assert_eq!(
        reserve(&given.reservation, &given.products, "o1", vec![]),
        Err(InventoryError::NoLines)
    );
    assert_eq!(
        reserve(
            &given.reservation,
            &given.products,
            "o1",
            lines(&[("A", 0)])
        ),
        Err(InventoryError::InvalidQuantity)
    );
}

#[test]
fn stock_allocated_to_one_order_is_not_available_to_another() {
    let given = given_stock(&[("A", 5)]).reserved("o1", &[("A", 4)]);
    let decision = reserve(
        &Reservation::default(),
        &given.products,
        "o2",
        lines(&[("A", 2)]),
    );
    assert!(matches!(
        decision,
        Err(InventoryError::InsufficientStock(_))
    ));
}

#[test]
fn an_order_cannot_reserve_twice() {
    let given = given_stock(&[("A", 5)]).reserved("o1", &[("A", 1)]);
    let decision = reserve(
        &given.reservation,
        &given.products,
        "o1",
        lines(&[("A", 1)]),
    );
    assert_eq!(decision, Err(InventoryError::AlreadyReserved("o1".into())));
}

#[test]
fn releasing_returns_each_allocation_to_available() {
    let given = given_stock(&[("A", 5), ("B", 2)]).reserved("o1", &[("A", 3), ("B", 2)]);
    let decision = release(&given.reservation, &given.products, "o1").expect("released");
    let released = |sku: &str, quantity| {
        (
            sku.to_string(),
            vec![ProductEvent::AllocationReleased {
                sku: sku.into(),
                order_id: "o1".into(),
                quantity,
            }],
        )
    };
    assert_eq!(
        decision.products,
        BTreeMap::from([released("A", 3), released("B", 2)])
    );
    let after = given.and(Ok(decision));
    assert_eq!(after.products["A"].available, 5);
}

#[test]
fn releasing_twice_changes_nothing() {
    let given = given_stock(&[("A", 5)]).reserved("o1", &[("A", 3)]);
    let first = release(&given.reservation, &given.products, "o1");
    let given = given.and(first);
    assert_eq!(
        release(&given.reservation, &given.products, "o1"),
        Ok(Decision::default())
    );
}

#[test]
fn a_release_before_the_reservation_keeps_a_late_reservation_out() {
    let given = given_stock(&[("A", 5)]);
    let early = release(&given.reservation, &given.products, "o1");
    let given = given.and(early);
    let late = reserve(
        &given.reservation,
        &given.products,
        "o1",
        lines(&[("A", 1)]),
    );
    assert_eq!(late, Err(InventoryError::ReservationClosed("o1".into())));
}

#[test]
fn committing_turns_allocations_into_sales() {
    let given = given_stock(&[("A", 5)]).reserved("o1", &[("A", 3)]);
    let decision = commit(&given.reservation, &given.products, "o1");
    let after = given.and(decision);
    let a = &after.products["A"];
    assert_eq!((a.available, a.allocated_to("o1"), a.sold), (2, 0, 3));
    assert_eq!(
        commit(&after.reservation, &after.products, "o1"),
        Ok(Decision::default())
    );
}

#[test]
fn a_committed_reservation_cannot_be_released() {
    let given = given_stock(&[("A", 5)]).reserved("o1", &[("A", 3)]);
    let decision = commit(&given.reservation, &given.products, "o1");
    let given = given.and(decision);
    assert_eq!(
        release(&given.reservation, &given.products, "o1"),
        Err(InventoryError::AlreadyCommitted("o1".into()))
    );
}

#[test]
fn nothing_can_be_committed_without_a_reservation() {
    let given = given_stock(&[("A", 5)]);
    assert_eq!(
        commit(&given.reservation, &given.products, "o1"),
        Err(InventoryError::NotReserved("o1".into()))
    );
}
