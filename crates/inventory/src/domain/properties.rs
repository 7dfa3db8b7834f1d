//! Property tests of the inventory domain: arbitrary sequences of product and
//! reservation commands (unknown skus, repeated order ids, zero and huge quantities)
//! run in memory through `handle`/`apply` and the reservation decisions, with the
//! stock invariants checked after every step.

use std::collections::BTreeMap;

use cqrs_es::Aggregate;
use platform::cqrs::handle_in_memory;
use proptest::prelude::*;

use super::product::ProductCommand;
use super::reservation::{commit, normalize, release, reserve, Decision, ReservationStatus};
use super::{InventoryError, Product, ProductEvent, Reservation, StockLine};

const SKUS: [&str; 4] = ["A", "B", "C", "GHOST"];
const ORDERS: [&str; 3] = ["o1", "o2", "o3"];

#[derive(Debug, Clone)]
enum Step {
    Product(ProductCommand),
    Reserve {
        order_id: String,
        lines: Vec<StockLine>,
    },
    Release {
        order_id: String,
    },
    Commit {
        order_id: String,
    },
}

/// A known-looking sku, and now and then one never added.
fn sku() -> impl Strategy<Value = String> {
    prop_oneof![6 => prop::sample::select(&SKUS[..3]), 1 => Just(SKUS[3])].prop_map(String::from)
}

fn order_id() -> impl Strategy<Value = String> {
    prop::sample::select(&ORDERS[..]).prop_map(String::from)
}

/// Mostly small, sometimes zero, sometimes near the top of `u64`.
fn quantity() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 1u64..20,
        1 => Just(0u64),
        1 => 1u64..=1_000_000,
        1 => (u64::MAX - 3)..=u64::MAX,
    ]
}

/// Mostly a real name, sometimes a blank one.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z]{1,5}", 1 => Just(String::new()), 1 => Just(" ".to_string())]
}

fn product_command() -> impl Strategy<Value = ProductCommand> {
    let price = prop_oneof![0i64..10_000, Just(-1i64), Just(i64::MIN)];
    prop_oneof![
        (sku(), name(), price.clone()).prop_map(|(sku, name, price_cents)| {
            ProductCommand::AddProduct {
                sku,
                category: name.clone(),
                name,
                price_cents,
            }
        }),
        (sku(), quantity()).prop_map(|(sku, quantity)| ProductCommand::AddStock { sku, quantity }),
        (
            sku(),
            proptest::option::of(price),
            proptest::option::of("[a-z ]{0,2}")
        )
            .prop_map(
                |(sku, price_cents, category)| ProductCommand::UpdateProduct {
                    sku,
                    price_cents,
                    category
                }
            ),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let line = (sku(), quantity()).prop_map(|(sku, quantity)| StockLine { sku, quantity });
    prop_oneof![
        3 => product_command().prop_map(Step::Product),
        3 => (order_id(), prop::collection::vec(line, 0..4))
            .prop_map(|(order_id, lines)| Step::Reserve { order_id, lines }),
        1 => order_id().prop_map(|order_id| Step::Release { order_id }),
        1 => order_id().prop_map(|order_id| Step::Commit { order_id }),
    ]
}

/// Every aggregate, as the store would rebuild it, and every unit of stock ever added.
#[derive(Debug, Clone, Default)]
struct World {
    products: BTreeMap<String, Product>,
    reservations: BTreeMap<String, Reservation>,
    /// Wider than a quantity, so the ghost count itself never overflows.
    added: BTreeMap<String, u128>,
}

impl World {
    fn reservation(&self, order_id: &str) -> Reservation {
        self.reservations.get(order_id).cloned().unwrap_or_default()
    }

    /// Handles a product command; a rejected one must leave the product untouched.
    fn handle_product(&mut self, command: ProductCommand) -> Result<(), InventoryError> {
        let sku = product_sku(&command).to_string();
        let product = self.products.get(&sku).cloned().unwrap_or_default();
        let (after, result) = handle_in_memory(&product, command, &());
        let events = match result {
            Ok(events) => events,
            Err(err) => {
                assert_eq!(after, product, "a rejected command changed the product");
                return Err(err);
            }
        };
        for event in &events {
            if let ProductEvent::StockAdded { quantity, .. } = event {
                *self.added.entry(sku.clone()).or_default() += u128::from(*quantity);
            }
        }
        self.products.insert(sku, after);
        Ok(())
    }

    /// Appends a reservation decision's events, as the application does in one transaction.
    fn append(&mut self, order_id: &str, decision: Decision) {
        let reservation = self.reservations.entry(order_id.to_string()).or_default();
        decision
            .reservation
            .into_iter()
            .for_each(|e| reservation.apply(e));
        for (sku, events) in decision.products {
            let product = self.products.entry(sku).or_default();
            events.into_iter().for_each(|e| product.apply(e));
        }
    }
}

fn product_sku(command: &ProductCommand) -> &str {
    match command {
        ProductCommand::AddProduct { sku, .. }
        | ProductCommand::AddStock { sku, .. }
        | ProductCommand::UpdateProduct { sku, .. } => sku,
    }
}

fn available(world: &World, sku: &str) -> u64 {
    world.products.get(sku).map_or(0, |p| p.available)
}

fn allocated(world: &World, sku: &str, order_id: &str) -> u64 {
    world
        .products
        .get(sku)
        .map_or(0, |p| p.allocated_to(order_id))
}

/// Runs one step and checks what that step alone promises.
fn run(world: &mut World, step: Step) {
    let before = world.clone();
    match step {
        Step::Product(command) => {
            world.handle_product(command).ok();
        }
        Step::Reserve { order_id, lines } => {
            let decision = reserve(
                &world.reservation(&order_id),
                &world.products,
                &order_id,
                lines.clone(),
            );
            if let Ok(decision) = decision {
                world.append(&order_id, decision);
                check_reserved(&before, world, &order_id, lines);
            }
        }
        Step::Release { order_id } => {
            if let Ok(decision) = release(&world.reservation(&order_id), &world.products, &order_id)
            {
                world.append(&order_id, decision);
                check_settled(&before, world, &order_id, ReservationStatus::Released);
            }
        }
        Step::Commit { order_id } => {
            if let Ok(decision) = commit(&world.reservation(&order_id), &world.products, &order_id)
            {
                world.append(&order_id, decision);
                check_settled(&before, world, &order_id, ReservationStatus::Committed);
            }
        }
    }
    check_closed_reservations_stay_put(&before, world);
}

/// All or nothing: an accepted reservation took every line, whole, from available.
fn check_reserved(before: &World, after: &World, order_id: &str, lines: Vec<StockLine>) {
    for line in normalize(lines).expect("an accepted reservation has valid lines") {
        assert_eq!(
            available(before, &line.sku) - available(after, &line.sku),
            line.quantity
        );
        assert_eq!(allocated(after, &line.sku, order_id), line.quantity);
    }
}

/// A release gives back, and a commit sells, exactly what the order held.
fn check_settled(before: &World, after: &World, order_id: &str, status: ReservationStatus) {
    if before.reservation(order_id).status != ReservationStatus::Reserved {
        return;
    }
    assert_eq!(after.reservation(order_id).status, status);
    for sku in SKUS {
        let held = allocated(before, sku, order_id);
        assert_eq!(allocated(after, sku, order_id), 0);
        let (was, is) = (&before.products.get(sku), &after.products.get(sku));
        let (gained, sold) = match (was, is) {
            (Some(was), Some(is)) => (is.available - was.available, is.sold - was.sold),
            _ => (0, 0),
        };
        match status {
            ReservationStatus::Released => assert_eq!((gained, sold), (held, 0), "{sku}"),
            _ => assert_eq!((gained, sold), (0, held), "{sku}"),
        }
    }
}

/// A committed or released reservation never moves again, whatever is sent.
fn check_closed_reservations_stay_put(before: &World, after: &World) {
    for (order_id, reservation) in &before.reservations {
        if matches!(
            reservation.status,
            ReservationStatus::Released | ReservationStatus::Committed
        ) {
            assert_eq!(
                &after.reservation(order_id),
                reservation,
                "{order_id} moved"
            );
            for sku in SKUS {
                assert_eq!(allocated(after, sku, order_id), 0, "{order_id} holds {sku}");
            }
        }
    }
}

/// Stock is conserved: every unit added is available, allocated or sold, exactly once;
/// and what products hold for an order is what its reservation says.
fn check_conservation(world: &World) {
    for (sku, product) in &world.products {
        let held: u128 = product.allocated.values().copied().map(u128::from).sum();
        let added = world.added.get(sku).copied().unwrap_or(0);
        let total = u128::from(product.available) + held + u128::from(product.sold);
        assert_eq!(total, added, "{sku}: {product:?}");
        assert!(
            product.allocated.values().all(|&q| q > 0),
            "{sku} holds an empty allocation"
        );
    }
    for order_id in ORDERS {
        let reservation = world.reservation(order_id);
        for sku in SKUS {
            let expected = match reservation.status {
                ReservationStatus::Reserved => reservation
                    .lines
                    .iter()
                    .find(|l| l.sku == sku)
                    .map_or(0, |l| l.quantity),
                _ => 0,
            };
            assert_eq!(
                allocated(world, sku, order_id),
                expected,
                "{order_id}/{sku}"
            );
        }
    }
}

/// Products A, B and C with 50 units each, so reservations have stock to take.
fn stocked_products() -> Vec<Step> {
    let add = |sku: &str| ProductCommand::AddProduct {
        sku: sku.into(),
        name: "n".into(),
        category: "c".into(),
        price_cents: 100,
    };
    let stock = |sku: &str| ProductCommand::AddStock {
        sku: sku.into(),
        quantity: 50,
    };
    SKUS[..3]
        .iter()
        .flat_map(|sku| [Step::Product(add(sku)), Step::Product(stock(sku))])
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn stock_is_conserved_whatever_the_commands(
        stocked in any::<bool>(),
        steps in prop::collection::vec(step(), 0..40),
    ) {
        let mut world = World::default();
        let stocking = if stocked { stocked_products() } else { vec![] };
        for step in stocking.into_iter().chain(steps) {
            run(&mut world, step);
            check_conservation(&world);
        }
    }

    #[test]
    fn a_refused_reservation_names_every_real_shortage(
        setup in prop::collection::vec(step(), 0..20),
        order_id in order_id(),
        lines in prop::collection::vec((sku(), quantity()), 1..4),
    ) {
        let mut world = World::default();
        stocked_products().into_iter().chain(setup).for_each(|step| run(&mut world, step));
        let lines: Vec<StockLine> =
            lines.into_iter().map(|(sku, quantity)| StockLine { sku, quantity }).collect();
        let decision = reserve(&world.reservation(&order_id), &world.products, &order_id, lines.clone());
        if let Err(InventoryError::InsufficientStock(shortages)) = &decision {
            let short = normalize(lines).expect("shortages come after valid lines");
            let short: Vec<_> = short.iter().filter(|l| l.quantity > available(&world, &l.sku)).collect();
            prop_assert_eq!(shortages.len(), short.len());
            for (shortage, line) in shortages.iter().zip(short) {
                prop_assert_eq!(&shortage.sku, &line.sku);
                prop_assert_eq!(shortage.requested, line.quantity);
                prop_assert_eq!(shortage.available, available(&world, &line.sku));
            }
        }
    }
}
