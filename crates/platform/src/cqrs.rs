//! Executing commands with cqrs-es, shared by the services: decoding a broker command
//! into a service's command enum and turning the result into the command bus's
//! [`Outcome`]. Executing itself, with retries, is [`crate::aggregates`].

use std::future::Future;
use std::task::{Context, Poll, Waker};

use cqrs_es::{Aggregate, AggregateError};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::command_bus::{Outcome, Unavailable};
use crate::store::StoreError;

/// A business rule a command broke; its stable code goes into the rejected reply.
pub trait BusinessRule: std::error::Error {
    fn code(&self) -> &'static str;
}

/// Why a command did not take effect: a broken rule (answered), or a conflict that
/// outlasted the retries or an unavailable store (both retried later by the bus).
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError<E: std::error::Error> {
    #[error(transparent)]
    Rule(E),
    #[error("too many concurrent changes to the same aggregate, try again")]
    Conflict,
    #[error("event store unavailable: {0}")]
    Store(String),
}

impl<E: std::error::Error> From<StoreError> for ExecutionError<E> {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict => Self::Conflict,
            other => Self::Store(other.to_string()),
        }
    }
}

impl<E: std::error::Error> From<AggregateError<E>> for ExecutionError<E> {
    fn from(err: AggregateError<E>) -> Self {
        match err {
            AggregateError::UserError(rule) => Self::Rule(rule),
            AggregateError::AggregateConflict => Self::Conflict,
            other => Self::Store(other.to_string()),
        }
    }
}

/// The bus's answer to an executed command addressed to `aggregate_id`.
pub fn outcome<E: BusinessRule>(
    aggregate_id: String,
    result: Result<(), ExecutionError<E>>,
) -> Result<Outcome, Unavailable> {
    match result {
        Ok(()) => Ok(Outcome::Accepted { aggregate_id }),
        Err(ExecutionError::Rule(rule)) => Ok(Outcome::Rejected {
            aggregate_id: Some(aggregate_id),
            code: rule.code().to_string(),
            message: rule.to_string(),
        }),
        Err(other) => Err(Unavailable(other.to_string())),
    }
}

/// Decodes the command `name` (from the routing key) into a command enum that serde tags
/// externally (`{"PlaceOrder": {...}}`). A name without a schema in `schemas` is
/// refused as unknown; a schema-valid body the type cannot hold is refused as invalid.
pub fn decode_tagged<C: DeserializeOwned>(
    schemas: &[(&str, &str)],
    name: &str,
    body: Value,
) -> Result<C, Outcome> {
    let reject = |code: &str, message: String| Outcome::Rejected {
        aggregate_id: None,
        code: code.to_string(),
        message,
    };
    if !schemas.iter().any(|(known, _)| *known == name) {
        return Err(reject(
            "unknown_command",
            format!("no command {name:?} here"),
        ));
    }
    serde_json::from_value(serde_json::json!({ name: body }))
        .map_err(|err| reject("invalid_body", err.to_string()))
}

/// Runs an aggregate's `handle` in memory, on a copy of `state`: the copy as `handle`
/// left it, and the events it decided (or the rule the command broke). For property
/// tests of the pure domains, which run thousands of commands without a store.
///
/// # Panics
/// When `handle` waits for anything: a pure domain's never does, so one that does is
/// a bug the test should report.
pub fn handle_in_memory<A: Aggregate + Clone>(
    state: &A,
    command: A::Command,
    services: &A::Services,
) -> (A, Result<Vec<A::Event>, A::Error>) {
    let mut aggregate = state.clone();
    let sink = cqrs_es::event_sink::EventSink::<A>::default();
    let result = at_once(aggregate.handle(command, services, &sink));
    let events = at_once(sink.collect());
    (aggregate, result.map(|()| events))
}

/// Polls a future that must be ready at once.
fn at_once<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a pure aggregate's handle waited"),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    enum Command {
        AddStock { sku: String, quantity: u64 },
    }

    const SCHEMAS: &[(&str, &str)] = &[("AddStock", "{}")];

    #[test]
    fn a_known_command_is_decoded_from_its_name_and_body() {
        let decoded: Result<Command, _> =
            decode_tagged(SCHEMAS, "AddStock", json!({"sku": "A", "quantity": 2}));
        assert_eq!(
            decoded,
            Ok(Command::AddStock {
                sku: "A".into(),
                quantity: 2
            })
        );
    }

    #[test]
    fn an_unknown_name_is_refused_as_unknown() {
        let decoded: Result<Command, _> = decode_tagged(SCHEMAS, "Ship", json!({}));
        assert!(
            matches!(decoded, Err(Outcome::Rejected { code, .. }) if code == "unknown_command")
        );
    }

    #[test]
    fn a_body_the_type_cannot_hold_is_refused_as_invalid() {
        let decoded: Result<Command, _> = decode_tagged(SCHEMAS, "AddStock", json!({"sku": 1}));
        assert!(matches!(decoded, Err(Outcome::Rejected { code, .. }) if code == "invalid_body"));
    }
}
