//! Helpers around cqrs-es shared by the services.

use std::collections::HashMap;

use cqrs_es::{Aggregate, AggregateError, CqrsFramework, EventStore};

/// Executes a command, re-deciding it on fresh state when another writer appended to
/// the same aggregate first. After `attempts` lost races the conflict is returned.
pub async fn execute_with_retry<A, ES>(
    cqrs: &CqrsFramework<A, ES>,
    aggregate_id: &str,
    command: A::Command,
    metadata: HashMap<String, String>,
    attempts: usize,
) -> Result<(), AggregateError<A::Error>>
where
    A: Aggregate,
    A::Command: Clone,
    ES: EventStore<A>,
{
    for _ in 1..attempts.max(1) {
        match cqrs
            .execute_with_metadata(aggregate_id, command.clone(), metadata.clone())
            .await
        {
            Err(AggregateError::AggregateConflict) => {
                metrics::counter!("command_conflicts_total", "aggregate" => A::TYPE).increment(1);
            }
            other => return other,
        }
    }
    cqrs.execute_with_metadata(aggregate_id, command, metadata)
        .await
}
