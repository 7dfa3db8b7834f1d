//! Shared infrastructure for every service of the commerce platform.
//!
//! Layout:
//! - [`config`]: typed settings read from environment variables, with local defaults.
//! - [`aggregates`]: the command side of an aggregate type: cqrs-es over an aggregate cache and group commit.
//! - [`append`]: group commit: concurrent commands' events written by one statement.
//! - [`cqrs`]: decoding commands, answering their outcome, running `handle` in memory.
//! - [`telemetry`]: structured logging and the Prometheus recorder.
//! - [`envelope`]: the JSON envelope every event travels in, and the metadata keys.
//! - [`payload`]: an event's payload as a tree or as the JSON text it arrived as.
//! - [`store`]: the `events` table as outbox: reading by commit order, atomic multi-aggregate appends.
//! - [`chain`]: tamper evidence: each event's hash chained to the previous one, sealed in commit order, and its verification.
//! - [`feed`]: a store as a read-only HTTP feed in commit order (`GET /events`), and its client.
//! - [`projection`]: the projection runtime: checkpoints per source, catch-up from the feeds, parking, rebuilds.
//! - [`relay`]: the outbox relay, store to the `events` exchange with publisher confirms.
//! - [`broker`]: RabbitMQ connection and topology (exchanges, queues, dead-lettering).
//! - [`consumer`]: the durable-queue consumer loop every RabbitMQ consumer shares.
//! - [`command_bus`]: the command consumer: decode, validate, de-duplicate, execute, reply.
//! - [`schema`]: JSON Schema registry used to validate command bodies.
//! - [`inbox`]: de-duplication of consumed events by `event_id`.
//! - [`nats`]: NATS JetStream: connection, the provider stream, de-duplicated publishing.
//! - [`http`]: `/health` and `/metrics` routes and the JSON error response.
//! - [`access`]: API keys and the per-key Redis token bucket in front of every HTTP API.
//! - [`service`]: running a write-side service: HTTP, relay and command bus until shutdown.
//! - [`upcast`]: schema evolution: upcasters from an event's old payload versions to the current one.
//! - [`shutdown`]: the process shutdown future.
//! - [`wake`]: the in-process wake-up of a poller (relay, dispatcher) by whoever commits.
//!
//! Services share this crate and nothing else.

pub mod access;
pub mod aggregates;
pub mod append;
pub mod broker;
pub mod chain;
pub mod command_bus;
pub mod config;
pub mod consumer;
pub mod cqrs;
pub mod envelope;
pub mod feed;
pub mod http;
pub mod inbox;
pub mod nats;
pub mod payload;
pub mod projection;
pub mod relay;
pub mod schema;
pub mod service;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod upcast;
pub mod wake;
