//! The pure domain of the fulfilment saga: its steps, its state, and the decisions
//! that move it. No I/O: the application feeds it inputs and persists what it decides.

mod saga;
mod step;

pub use saga::{
    compensation, decide, start, Decision, Input, OrderFacts, Saga, Status, StockLine, Timing,
};
pub use step::{Step, COMMAND_ID_PREFIX};
