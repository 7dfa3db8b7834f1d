//! A page of claimed facts sorted by what they write, so each table takes them in one
//! statement: days and customers made distinct, a customer's user events folded into
//! the row they leave, an order's confirmations and cancellations folded into the last
//! one. Pure.
//!
//! The folds give what applying the events one by one, in page order, would leave:
//! every later event overwrites what an earlier one set (the writes are overwrites,
//! not increments), so the last value of each column is the one that stands.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::WriteError;
use crate::calendar::Day;
use crate::events::{Fact, PaymentRefunded};

/// One claimed event: its id, its instant and what it says.
#[derive(Debug, Clone, Copy)]
pub struct Claimed<'a> {
    pub event_id: Uuid,
    pub at: DateTime<Utc>,
    pub fact: &'a Fact,
}

/// What a customer's user events in the page leave on its row; `None` leaves a column
/// as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerChange {
    pub email: Option<String>,
    pub name: Option<String>,
    /// Set by a registration, which also makes the row no longer inferred.
    pub registered_at: Option<DateTime<Utc>>,
    /// Set by a deactivation, which also makes the row inactive.
    pub deactivated_at: Option<DateTime<Utc>>,
    /// The instant of the last user event.
    pub updated_at: DateTime<Utc>,
}

/// A user event or a placement, as a row of `user_activity_fact`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity<'a> {
    pub event_id: Uuid,
    pub customer_id: &'a str,
    pub kind: &'static str,
    pub at: DateTime<Utc>,
}

/// A placement, as a row of `order_stage`.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed<'a> {
    pub order_id: &'a str,
    pub customer_id: &'a str,
    pub at: DateTime<Utc>,
    pub lines: Value,
}

/// The page's facts by the statements that write them.
#[derive(Debug, Default)]
pub struct Page<'a> {
    /// Product events, kept in order: each decides from the rows the last one left.
    pub products: Vec<Claimed<'a>>,
    pub days: BTreeMap<i32, Day>,
    /// Every customer the page names, in the order first named.
    pub customer_ids: Vec<&'a str>,
    pub customers: BTreeMap<&'a str, CustomerChange>,
    pub activities: Vec<Activity<'a>>,
    pub placed: Vec<Placed<'a>>,
    /// Each confirmed order with its last confirmation's instant.
    pub confirmed: BTreeMap<&'a str, DateTime<Utc>>,
    /// Each cancelled order with its last cancellation's instant.
    pub cancelled: BTreeMap<&'a str, DateTime<Utc>>,
    pub refunds: Vec<(Claimed<'a>, &'a PaymentRefunded)>,
    named: HashSet<&'a str>,
}

impl<'a> Page<'a> {
    /// Sorts `claimed` (in page order); refused when an order's lines cannot be kept.
    pub fn of(claimed: &[Claimed<'a>]) -> Result<Self, WriteError> {
        let mut page = Self::default();
        for event in claimed {
            page.add(*event)?;
        }
        Ok(page)
    }

    fn add(&mut self, event: Claimed<'a>) -> Result<(), WriteError> {
        match event.fact {
            Fact::ProductAdded(_) | Fact::ProductUpdated(_) => self.products.push(event),
            Fact::OrderPlaced(placed) => {
                let lines = serde_json::to_value(&placed.lines)
                    .map_err(|e| WriteError::Refused(e.to_string()))?;
                self.placed.push(Placed {
                    order_id: &placed.order_id,
                    customer_id: &placed.customer_id,
                    at: event.at,
                    lines,
                });
                self.activity(event, &placed.customer_id, "order_placed");
            }
            Fact::OrderConfirmed(order) => {
                self.confirmed.insert(&order.order_id, event.at);
            }
            Fact::OrderCancelled(order) => {
                self.cancelled.insert(&order.order_id, event.at);
            }
            Fact::PaymentRefunded(refund) => {
                self.day(event.at);
                self.refunds.push((event, refund));
            }
            _ => self.user_event(event),
        }
        Ok(())
    }

    /// A user event: folded into its customer's change, and an activity.
    fn user_event(&mut self, event: Claimed<'a>) {
        let (user_id, kind) = match event.fact {
            Fact::UserRegistered(user) => (user.user_id.as_str(), "registered"),
            Fact::ProfileUpdated(user) => (user.user_id.as_str(), "profile_updated"),
            Fact::UserDeactivated(user) => (user.user_id.as_str(), "deactivated"),
            _ => return,
        };
        let change = self
            .customers
            .entry(user_id)
            .or_insert_with(|| CustomerChange::at(event.at));
        change.fold(event.fact, event.at);
        self.activity(event, user_id, kind);
    }

    fn activity(&mut self, event: Claimed<'a>, customer_id: &'a str, kind: &'static str) {
        self.day(event.at);
        self.name_customer(customer_id);
        self.activities.push(Activity {
            event_id: event.event_id,
            customer_id,
            kind,
            at: event.at,
        });
    }

    /// Adds the day of `at` to the days the page needs.
    pub fn day(&mut self, at: DateTime<Utc>) {
        let day = Day::at(at);
        self.days.entry(day.date_key).or_insert(day);
    }

    /// Adds a customer the page's facts refer to (a member inferred if new).
    fn name_customer(&mut self, customer_id: &'a str) {
        if self.named.insert(customer_id) {
            self.customer_ids.push(customer_id);
        }
    }
}

impl CustomerChange {
    fn at(at: DateTime<Utc>) -> Self {
        Self {
            email: None,
            name: None,
            registered_at: None,
            deactivated_at: None,
            updated_at: at,
        }
    }

    /// Folds the next user event of the customer in.
    fn fold(&mut self, fact: &Fact, at: DateTime<Utc>) {
        match fact {
            Fact::UserRegistered(user) => {
                self.email = Some(user.email.clone());
                self.name = Some(user.name.clone());
                self.registered_at = Some(at);
            }
            Fact::ProfileUpdated(user) => self.name = Some(user.name.clone()),
            Fact::UserDeactivated(_) => self.deactivated_at = Some(at),
            _ => return,
        }
        self.updated_at = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{OrderRef, ProfileUpdated, UserRef, UserRegistered};

    fn instant(text: &str) -> DateTime<Utc> {
        text.parse().expect("an instant")
    }

    fn claimed<'a>(fact: &'a Fact, at: &str) -> Claimed<'a> {
        Claimed {
            event_id: Uuid::new_v4(),
            at: instant(at),
            fact,
        }
    }

    #[test]
    fn a_customer_s_user_events_fold_into_the_row_the_last_of_them_leaves() {
        let registered = Fact::UserRegistered(UserRegistered {
            user_id: "ann".into(),
            email: "ann@example.com".into(),
            name: "Ann".into(),
        });
        let renamed = Fact::ProfileUpdated(ProfileUpdated {
            user_id: "ann".into(),
            name: "Anne".into(),
        });
        let deactivated = Fact::UserDeactivated(UserRef {
            user_id: "ann".into(),
        });
        let events = [
            claimed(&registered, "2026-01-01T00:00:00Z"),
            claimed(&deactivated, "2026-01-02T00:00:00Z"),
            claimed(&renamed, "2026-01-03T00:00:00Z"),
        ];
        let page = Page::of(&events).expect("a page");
        let expected = CustomerChange {
            email: Some("ann@example.com".into()),
            name: Some("Anne".into()),
            registered_at: Some(instant("2026-01-01T00:00:00Z")),
            deactivated_at: Some(instant("2026-01-02T00:00:00Z")),
            updated_at: instant("2026-01-03T00:00:00Z"),
        };
        assert_eq!(page.customers.get("ann"), Some(&expected));
        assert_eq!(page.activities.len(), 3);
        assert_eq!((page.customer_ids.len(), page.days.len()), (1, 3));
    }

    #[test]
    fn an_order_s_last_confirmation_and_cancellation_are_the_ones_kept() {
        let order = Fact::OrderConfirmed(OrderRef {
            order_id: "o1".into(),
        });
        let cancel = Fact::OrderCancelled(OrderRef {
            order_id: "o1".into(),
        });
        let events = [
            claimed(&order, "2026-01-01T00:00:00Z"),
            claimed(&cancel, "2026-01-02T00:00:00Z"),
            claimed(&order, "2026-01-03T00:00:00Z"),
            claimed(&cancel, "2026-01-04T00:00:00Z"),
        ];
        let page = Page::of(&events).expect("a page");
        assert_eq!(page.confirmed["o1"], instant("2026-01-03T00:00:00Z"));
        assert_eq!(page.cancelled["o1"], instant("2026-01-04T00:00:00Z"));
        assert!(page.days.is_empty() && page.activities.is_empty());
    }
}
