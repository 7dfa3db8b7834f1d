//! An order's reservation: all of its lines are allocated, or none is.
//!
//! A reservation spans several products, so its decisions take the products' current
//! state and return the events of every aggregate they touch; the application appends
//! them in one transaction. The lifecycle is `reserved -> released | committed`, and a
//! release that arrives before its reservation closes it, so a late `ReserveStock`
//! (a saga retrying after it already compensated) cannot allocate stock for a
//! cancelled order.

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::error::Shortage;
use super::{InventoryError, Product, ProductEvent};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    pub sku: String,
    pub quantity: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReservationEvent {
    StockReserved {
        order_id: String,
        lines: Vec<StockLine>,
    },
    StockReleased {
        order_id: String,
        lines: Vec<StockLine>,
    },
    ReservationCommitted {
        order_id: String,
        lines: Vec<StockLine>,
    },
}

impl DomainEvent for ReservationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::StockReserved { .. } => "StockReserved",
            Self::StockReleased { .. } => "StockReleased",
            Self::ReservationCommitted { .. } => "ReservationCommitted",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReservationStatus {
    #[default]
    Open,
    Reserved,
    Released,
    Committed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub status: ReservationStatus,
    pub lines: Vec<StockLine>,
}

/// The events one decision appends: to the reservation, and to each product by sku.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub reservation: Vec<ReservationEvent>,
    pub products: BTreeMap<String, Vec<ProductEvent>>,
}

/// Merges lines of the same sku, so an order listing a sku twice is checked against
/// its total (refused if that total does not fit in a quantity).
pub fn normalize(lines: Vec<StockLine>) -> Result<Vec<StockLine>, InventoryError> {
    if lines.is_empty() {
        return Err(InventoryError::NoLines);
    }
    let mut merged: BTreeMap<String, u64> = BTreeMap::new();
    for line in lines {
        if line.quantity == 0 {
            return Err(InventoryError::InvalidQuantity);
        }
        let total = merged.entry(line.sku).or_default();
        *total = total
            .checked_add(line.quantity)
            .ok_or(InventoryError::QuantityOverflow)?;
    }
    Ok(merged
        .into_iter()
        .map(|(sku, quantity)| StockLine { sku, quantity })
        .collect())
}

/// Decides `ReserveStock`: every line is allocated from available stock, or the whole
/// command is refused with every shortage listed.
pub fn reserve(
    reservation: &Reservation,
    products: &BTreeMap<String, Product>,
    order_id: &str,
    lines: Vec<StockLine>,
) -> Result<Decision, InventoryError> {
    match reservation.status {
        ReservationStatus::Open => {}
        ReservationStatus::Reserved => {
            return Err(InventoryError::AlreadyReserved(order_id.into()))
        }
        ReservationStatus::Released | ReservationStatus::Committed => {
            return Err(InventoryError::ReservationClosed(order_id.into()))
        }
    }
    let lines = normalize(lines)?;
    let mut shortages = Vec::new();
    for line in &lines {
        let product = products.get(&line.sku).filter(|p| p.exists());
        let available = product
            .ok_or_else(|| InventoryError::UnknownProduct(line.sku.clone()))?
            .available;
        if available < line.quantity {
            shortages.push(Shortage {
                sku: line.sku.clone(),
                requested: line.quantity,
                available,
            });
        }
    }
    if !shortages.is_empty() {
        return Err(InventoryError::InsufficientStock(shortages));
    }
    let allocate = |l: &StockLine| ProductEvent::StockAllocated {
        sku: l.sku.clone(),
        order_id: order_id.into(),
        quantity: l.quantity,
    };
    Ok(Decision {
        products: lines
            .iter()
            .map(|l| (l.sku.clone(), vec![allocate(l)]))
            .collect(),
        reservation: vec![ReservationEvent::StockReserved {
            order_id: order_id.into(),
            lines,
        }],
    })
}

/// Decides `ReleaseStock`: allocated stock returns to available. Releasing twice is a
/// no-op, and releasing before reserving closes the reservation.
pub fn release(
    reservation: &Reservation,
    products: &BTreeMap<String, Product>,
    order_id: &str,
) -> Result<Decision, InventoryError> {
    match reservation.status {
        ReservationStatus::Released => Ok(Decision::default()),
        ReservationStatus::Committed => Err(InventoryError::AlreadyCommitted(order_id.into())),
        ReservationStatus::Open => Ok(Decision {
            reservation: vec![ReservationEvent::StockReleased {
                order_id: order_id.into(),
                lines: vec![],
            }],
            products: BTreeMap::new(),
        }),
        ReservationStatus::Reserved => {
            Ok(settle(reservation, products, order_id, Settlement::Release))
        }
    }
}

/// Decides `CommitReservation`: allocated stock becomes sold. Committing twice is a no-op.
pub fn commit(
    reservation: &Reservation,
    products: &BTreeMap<String, Product>,
    order_id: &str,
) -> Result<Decision, InventoryError> {
    match reservation.status {
        ReservationStatus::Committed => Ok(Decision::default()),
        ReservationStatus::Open | ReservationStatus::Released => {
            Err(InventoryError::NotReserved(order_id.into()))
        }
        ReservationStatus::Reserved => {
            Ok(settle(reservation, products, order_id, Settlement::Commit))
        }
    }
}

#[derive(Clone, Copy)]
enum Settlement {
    Release,
    Commit,
}

/// Ends a held reservation: each product gives up exactly what it holds for the order.
fn settle(
    reservation: &Reservation,
    products: &BTreeMap<String, Product>,
    order_id: &str,
    how: Settlement,
) -> Decision {
    let mut decision = Decision::default();
    for line in &reservation.lines {
        let held = products
            .get(&line.sku)
            .map_or(0, |p| p.allocated_to(order_id));
        if held == 0 {
            continue;
        }
        let (sku, order_id, quantity) = (line.sku.clone(), order_id.to_string(), held);
        let event = match how {
            Settlement::Release => ProductEvent::AllocationReleased {
                sku,
                order_id,
                quantity,
            },
            Settlement::Commit => ProductEvent::AllocationCommitted {
                sku,
                order_id,
                quantity,
            },
        };
        decision.products.insert(line.sku.clone(), vec![event]);
    }
    let (order_id, lines) = (order_id.to_string(), reservation.lines.clone());
    decision.reservation.push(match how {
        Settlement::Release => ReservationEvent::StockReleased { order_id, lines },
        Settlement::Commit => ReservationEvent::ReservationCommitted { order_id, lines },
    });
    decision
}

/// Reservation commands span products, so they are not executed through cqrs-es's
/// single-aggregate `handle`: the application loads every aggregate involved, calls the
/// decisions above and appends atomically. The command type is therefore uninhabited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCommand {}

impl Aggregate for Reservation {
    const TYPE: &'static str = "Reservation";
    type Command = NoCommand;
    type Event = ReservationEvent;
    type Error = InventoryError;
    type Services = ();

    async fn handle(
        &mut self,
        command: NoCommand,
        _: &(),
        _: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {}
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ReservationEvent::StockReserved { lines, .. } => {
                self.status = ReservationStatus::Reserved;
                self.lines = lines;
            }
            ReservationEvent::StockReleased { .. } => self.status = ReservationStatus::Released,
            ReservationEvent::ReservationCommitted { .. } => {
                self.status = ReservationStatus::Committed
            }
        }
    }
}

#[cfg(test)]
#[path = "reservation_tests.rs"]
mod tests;
