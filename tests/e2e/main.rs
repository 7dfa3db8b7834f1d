//! End-to-end tests: commands over the real broker, events through the real stores and
//! relay, read models in the real MongoDB and Redis, queried over real HTTP.

mod analytics;
mod commands;
mod isolation;
mod kills;
mod notifications;
mod orders;
mod payments;
mod read_side;
mod replay;
mod sagas;
mod support;
mod users;
mod views;
