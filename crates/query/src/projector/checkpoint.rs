//! Per-projection progress: the `projection_checkpoints` collection and the metrics
//! `projection_events_total{projection, outcome}` and `projection_lag_seconds{projection}`.
//!
//! A checkpoint `{_id: "<projection>/<service>"}` records the last event of that
//! service the projection has (or had already) applied. Idempotency itself rests on
//! the per-document versions; the checkpoint is for operators: how far, how late.

use chrono::Utc;
use mongodb::bson::{doc, DateTime};
use mongodb::Database;
use platform::envelope::EventEnvelope;

use super::mongo::{is_duplicate_key, occurred_at};
use crate::store::CHECKPOINTS;

/// Moves the checkpoint of `projection` forward to `envelope`. A redelivered event
/// never moves it back: the filter only matches an older position, and the upsert of
/// a non-matching filter collides on `_id`, which is swallowed.
pub async fn advance(
    db: &Database,
    projection: &str,
    envelope: &EventEnvelope,
) -> Result<(), mongodb::error::Error> {
    let id = format!("{projection}/{}", envelope.service);
    let filter = doc! {"_id": id, "last_global_position": {"$lt": envelope.global_position}};
    let update = doc! {"$set": {
        "last_event_id": envelope.event_id.to_string(),
        "last_global_position": envelope.global_position,
        "last_sequence": envelope.sequence,
        "last_aggregate_id": &envelope.aggregate_id,
        "last_occurred_at": occurred_at(envelope),
        "updated_at": DateTime::now(),
    }};
    let collection = db.collection::<mongodb::bson::Document>(CHECKPOINTS);
    match collection.update_one(filter, update).upsert(true).await {
        Err(err) if !is_duplicate_key(&err) => Err(err),
        _ => Ok(()),
    }
}

/// Counts one event's fate in one projection (`projection = "none"` for events no
/// projection here takes).
pub fn count(projection: &'static str, outcome: &'static str) {
    metrics::counter!("projection_events_total", "projection" => projection, "outcome" => outcome)
        .increment(1);
}

/// How far behind the write side `projection` was when it applied `envelope`.
pub fn record_lag(projection: &'static str, envelope: &EventEnvelope) {
    let lag = (Utc::now() - envelope.occurred_at).num_milliseconds() as f64 / 1000.0;
    metrics::gauge!("projection_lag_seconds", "projection" => projection).set(lag.max(0.0));
}
