//! The synthetic history the bench replays: about a year of trade, as the five write
//! sides would have stored it. Pure and deterministic (a seed picks every choice).
//!
//! Events are the services' own domain events ([`inventory::domain`],
//! [`order::domain`], [`user::domain`], [`payment::domain`],
//! [`notification::domain`]), serialized by
//! [`platform::store::serialize_events`] exactly as the services serialize them, and
//! grouped in the transactions the services would write: a registration appends the
//! user and its email claim together, a reservation the reservation and every product
//! it moves. The catalogue and the customers come first; then, step after step, orders
//! run the fulfilment saga's paths (completed; out of stock; payment declined; captured
//! then undone because the reservation could not be committed: cancelled, refunded,
//! released), each ending with the customer's notification (sent, now and then after a
//! failed attempt), among restocks, price and category changes, profile changes,
//! deactivations and new registrations. Stock never goes negative.
//!
//! Each transaction carries its instant in the metadata ([`RECORDED_AT`]): the stores
//! are stamped with it after filling, so the history spans months, not seconds.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::Aggregate;
use inventory::domain::{Product, ProductEvent};
use platform::envelope::{CAUSATION_ID, COMMAND_ID, CORRELATION_ID};
use platform::store::{serialize_events, AggregateAppend, StoreError};
use user::domain::{EmailClaim, EmailClaimEvent, User, UserEvent};

/// The metadata key holding a transaction's synthetic instant (RFC 3339).
pub const RECORDED_AT: &str = "bench_recorded_at";

const CATEGORIES: [&str; 6] = ["kitchen", "garden", "toys", "books", "sports", "office"];
/// The history spans about this long.
const SPAN_SECONDS: i64 = 365 * 24 * 3600;

/// A write side whose store the bench fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Inventory,
    Order,
    User,
    Payment,
    Notification,
}

impl Service {
    pub const ALL: [Service; 5] = [
        Service::Inventory,
        Service::Order,
        Service::User,
        Service::Payment,
        Service::Notification,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Inventory => "inventory",
            Service::Order => "order",
            Service::User => "user",
            Service::Payment => "payment",
            Service::Notification => "notification",
        }
    }
}

/// One transaction of one store: every aggregate's events, appended all or none.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub service: Service,
    pub appends: Vec<AggregateAppend>,
}

impl Transaction {
    pub fn events(&self) -> u64 {
        self.appends.iter().map(|a| a.events.len() as u64).sum()
    }
}

/// One line of a completed order, as a sales fact would hold it (for the PostgreSQL
/// bulk write).
#[derive(Debug, Clone, PartialEq)]
pub struct SaleLine {
    pub order_id: String,
    pub line_no: i32,
    pub customer_key: i64,
    pub product_key: i64,
    pub sku: String,
    pub sold_at: DateTime<Utc>,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    /// In commit order, per store and overall.
    pub transactions: Vec<Transaction>,
    pub sales: Vec<SaleLine>,
}

impl History {
    /// How many events `service`'s store holds.
    pub fn events(&self, service: Service) -> u64 {
        self.transactions
            .iter()
            .filter(|t| t.service == service)
            .map(Transaction::events)
            .sum()
    }

    pub fn total_events(&self) -> u64 {
        self.transactions.iter().map(Transaction::events).sum()
    }
}

/// About `target` events (the last order runs to its end), chosen by `seed`.
pub fn generate(target: u64, seed: u64) -> Result<History, StoreError> {
    let mut generator = Generator::new(target, seed);
    generator.catalogue()?;
    while generator.events < target {
        generator.step()?;
    }
    Ok(generator.history)
}

/// xorshift64*: small, fast, reproducible; no cryptographic use.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// In `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

#[derive(Debug, Clone)]
struct ProductState {
    sku: String,
    category: &'static str,
    price_cents: i64,
    available: u64,
}

#[derive(Debug, Clone)]
struct Customer {
    id: String,
    active: bool,
}

/// An order on its way through the saga.
#[derive(Debug, Clone)]
struct Placed {
    order_id: String,
    customer: usize,
    /// `(product index, quantity)`.
    lines: Vec<(usize, u64)>,
    total_cents: i64,
    placed_at: DateTime<Utc>,
}

struct Generator {
    target: u64,
    rng: Rng,
    clock: DateTime<Utc>,
    /// Mean seconds between two transactions.
    gap: u64,
    sequences: HashMap<(&'static str, String), usize>,
    products: Vec<ProductState>,
    customers: Vec<Customer>,
    orders: u64,
    commands: u64,
    events: u64,
    history: History,
}

impl Generator {
    fn new(target: u64, seed: u64) -> Self {
        // About 2.4 events per transaction.
        let transactions = (target * 10 / 24).max(1);
        Self {
            target,
            rng: Rng::new(seed),
            clock: DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_089), // 2025-01-01
            gap: (SPAN_SECONDS as u64 / transactions).max(1),
            sequences: HashMap::new(),
            products: Vec::new(),
            customers: Vec::new(),
            orders: 0,
            commands: 0,
            events: 0,
            history: History::default(),
        }
    }

    /// Products (added, then stocked) and the first customers.
    fn catalogue(&mut self) -> Result<(), StoreError> {
        for _ in 0..(self.target / 100).clamp(10, 500) {
            self.add_product()?;
        }
        for _ in 0..(self.target / 40).clamp(10, 2_000) {
            self.register()?;
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), StoreError> {
        match self.rng.below(100) {
            0..=79 => self.order(),
            80..=87 => self.restock(),
            88..=91 => self.reprice(),
            92..=95 => self.rename(),
            96 => self.deactivate(),
            _ => self.register(),
        }
    }

    /// The metadata of a command's events, stamped with the synthetic clock.
    fn metadata(&mut self, command_id: String, correlation: &str) -> HashMap<String, String> {
        self.commands += 1;
        HashMap::from([
            (CAUSATION_ID.to_string(), command_id.clone()),
            (COMMAND_ID.to_string(), command_id),
            (CORRELATION_ID.to_string(), correlation.to_string()),
            (RECORDED_AT.to_string(), self.clock.to_rfc3339()),
        ])
    }

    /// `events` of the aggregate `id`, numbered after what it already holds.
    fn aggregate<A: Aggregate>(
        &mut self,
        id: &str,
        events: &[A::Event],
        metadata: &HashMap<String, String>,
    ) -> Result<AggregateAppend, StoreError> {
        let sequence = self.sequences.entry((A::TYPE, id.to_string())).or_default();
        let append = serialize_events::<A>(id, *sequence, events, metadata)?;
        *sequence += events.len();
        Ok(append)
    }

    /// Records a transaction and moves the clock on.
    fn commit(&mut self, service: Service, appends: Vec<AggregateAppend>) {
        let transaction = Transaction { service, appends };
        self.events += transaction.events();
        self.history.transactions.push(transaction);
        let step = 1 + self.rng.below(2 * self.gap);
        self.clock += Duration::seconds(step as i64);
    }

    /// One command on one aggregate: its own transaction.
    fn single<A: Aggregate>(
        &mut self,
        service: Service,
        id: &str,
        events: Vec<A::Event>,
        correlation: &str,
    ) -> Result<(), StoreError> {
        let metadata = self.metadata(format!("cmd-{}", self.commands + 1), correlation);
        let append = self.aggregate::<A>(id, &events, &metadata)?;
        self.commit(service, vec![append]);
        Ok(())
    }

    fn add_product(&mut self) -> Result<(), StoreError> {
        let n = self.products.len() + 1;
        let sku = format!("SKU-{n:04}");
        let category = CATEGORIES[self.rng.index(CATEGORIES.len())];
        let price_cents = 199 + 50 * self.rng.below(200) as i64;
        let added = ProductEvent::ProductAdded {
            sku: sku.clone(),
            name: format!("Product {n}"),
            category: category.to_string(),
            price_cents,
        };
        self.single::<Product>(Service::Inventory, &sku, vec![added], &sku)?;
        self.products.push(ProductState {
            sku,
            category,
            price_cents,
            available: 0,
        });
        let quantity = 10 + self.rng.below(50);
        self.add_stock(self.products.len() - 1, quantity)
    }

    fn add_stock(&mut self, product: usize, quantity: u64) -> Result<(), StoreError> {
        let sku = self.products[product].sku.clone();
        let added = ProductEvent::StockAdded {
            sku: sku.clone(),
            quantity,
        };
        self.single::<Product>(Service::Inventory, &sku, vec![added], &sku)?;
        self.products[product].available += quantity;
        Ok(())
    }

    /// The least stocked of a few products gets 20 to 60 more.
    fn restock(&mut self) -> Result<(), StoreError> {
        let product = (0..3)
            .map(|_| self.rng.index(self.products.len()))
            .min_by_key(|&p| self.products[p].available)
            .unwrap_or(0);
        let quantity = 20 + self.rng.below(41);
        self.add_stock(product, quantity)
    }

    /// A new price (±20 %), and now and then a new category.
    fn reprice(&mut self) -> Result<(), StoreError> {
        let product = self.rng.index(self.products.len());
        let change = 80 + self.rng.below(41) as i64;
        let state = &mut self.products[product];
        state.price_cents = (state.price_cents * change / 100).max(99);
        let sku = state.sku.clone();
        if self.rng.below(5) == 0 {
            self.products[product].category = CATEGORIES[self.rng.index(CATEGORIES.len())];
        }
        let state = &self.products[product];
        let updated = ProductEvent::ProductUpdated {
            sku: sku.clone(),
            price_cents: state.price_cents,
            category: state.category.to_string(),
        };
        self.single::<Product>(Service::Inventory, &sku, vec![updated], &sku)
    }

    /// A registration: the user and the claim on its email, in one transaction.
    fn register(&mut self) -> Result<(), StoreError> {
        let user_id = format!("usr-{:05}", self.customers.len() + 1);
        let email = format!("{user_id}@example.com");
        let metadata = self.metadata(format!("register-{user_id}"), &user_id);
        let registered = UserEvent::UserRegistered {
            user_id: user_id.clone(),
            email: email.clone(),
            name: format!("Customer {}", self.customers.len() + 1),
        };
        let claimed = EmailClaimEvent::EmailClaimed {
            email: email.clone(),
            user_id: user_id.clone(),
        };
        let appends = vec![
            self.aggregate::<User>(&user_id, &[registered], &metadata)?,
            self.aggregate::<EmailClaim>(&email, &[claimed], &metadata)?,
        ];
        self.commit(Service::User, appends);
        self.customers.push(Customer {
            id: user_id,
            active: true,
        });
        Ok(())
    }

    fn rename(&mut self) -> Result<(), StoreError> {
        let Some(customer) = self.pick_customer() else {
            return self.register();
        };
        let user_id = self.customers[customer].id.clone();
        let updated = UserEvent::ProfileUpdated {
            user_id: user_id.clone(),
            name: format!("Customer {user_id} (renamed)"),
        };
        self.single::<User>(Service::User, &user_id, vec![updated], &user_id)
    }

    fn deactivate(&mut self) -> Result<(), StoreError> {
        let Some(customer) = self.pick_customer() else {
            return self.register();
        };
        let user_id = self.customers[customer].id.clone();
        self.customers[customer].active = false;
        let deactivated = UserEvent::UserDeactivated {
            user_id: user_id.clone(),
        };
        self.single::<User>(Service::User, &user_id, vec![deactivated], &user_id)
    }

    /// An active customer, if one is found in a few tries.
    fn pick_customer(&mut self) -> Option<usize> {
        (0..8)
            .map(|_| self.rng.index(self.customers.len()))
            .find(|&c| self.customers.get(c).is_some_and(|c| c.active))
    }

    /// One to three distinct products, one to three of each.
    fn pick_lines(&mut self) -> Vec<(usize, u64)> {
        let mut lines: Vec<(usize, u64)> = Vec::new();
        for _ in 0..1 + self.rng.below(3) {
            let product = self.rng.index(self.products.len());
            if lines.iter().all(|(p, _)| *p != product) {
                lines.push((product, 1 + self.rng.below(3)));
            }
        }
        lines
    }
}

mod orders;

#[cfg(test)]
mod tests;
