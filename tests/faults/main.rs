//! Fault injection: every test runs a steady stream of orders through the whole
//! platform while it breaks something (a broker restarted, NATS killed, Redis flushed,
//! PostgreSQL backends terminated, a service SIGKILLed, every message delivered twice or
//! late and out of order, the originals out of order across aggregates, commands racing
//! on one aggregate), then checks the invariants: every order completed or fully
//! compensated, stock conserved, no effect applied twice, every read model equal to a
//! rebuild from the event stores.
//!
//! A separate test binary, so CI runs it after the rest of the suite: the restarts and
//! the load would disturb the other tests' timing.

mod concurrency;
mod delivery;
mod kills;
mod reorder;
mod servers;
mod stream;
#[path = "../e2e/support.rs"]
#[allow(dead_code)]
mod support;
