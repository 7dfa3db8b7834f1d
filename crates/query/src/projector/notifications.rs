//! The notification views:
//!
//! - `delivery_status`: one document per notification (`_id` its id), versioned by its
//!   sequence: `customer_id`, `channel`, `template`, `status` (`requested`, `sent`,
//!   `failed` while retries remain, `abandoned`), `attempts` (deliveries tried),
//!   `last_error`, `requested_at`, `delivered_at`.
//! - `template_usage` (one document per template) and `channel_performance` (one per
//!   channel): how many notifications were `requested`, `sent` and `abandoned`, and how
//!   many delivery attempts `failed`. They add up many notifications, so each counter
//!   move is guarded by the feed position (see [`super::guard`]); only the request names
//!   the template (and the abandonment no channel), so each keeps a memo of every
//!   notification's template or channel, written once, before the first count.

use mongodb::bson::{doc, Bson, Document};

use super::events::NotificationEvent;
use super::guard::{apply_once, Applying, Memo};
use super::mongo::versioned_write;
use super::Outcome;
use crate::store::{
    CHANNEL_PERFORMANCE, CHANNEL_PERFORMANCE_NOTIFICATIONS, DELIVERY_STATUS, TEMPLATE_USAGE,
    TEMPLATE_USAGE_NOTIFICATIONS,
};

/// Applies a notification event to `delivery_status`. Only the request creates the
/// document.
pub async fn apply_delivery(
    event: &Applying<'_>,
    notification: &NotificationEvent,
) -> Result<Outcome, mongodb::error::Error> {
    let (mut set, inc) = delivery_change(event, notification);
    set.insert("version", event.sequence());
    set.insert("updated_at", event.at());
    let mut update = doc! {"$set": set};
    if let Some(inc) = inc {
        update.insert("$inc", inc);
    }
    let creates = matches!(notification, NotificationEvent::Requested(_));
    let deliveries = event.collection(DELIVERY_STATUS);
    versioned_write(&deliveries, event.envelope, update, creates).await
}

/// The fields an event sets, and the counters it moves.
fn delivery_change(
    event: &Applying<'_>,
    notification: &NotificationEvent,
) -> (Document, Option<Document>) {
    match notification {
        NotificationEvent::Requested(requested) => {
            let set = doc! {
                "notification_id": &requested.notification_id,
                "customer_id": &requested.customer_id, "channel": &requested.channel,
                "template": &requested.template, "status": "requested", "attempts": 0_i64,
                "last_error": Bson::Null, "requested_at": event.at(), "delivered_at": Bson::Null,
            };
            (set, None)
        }
        NotificationEvent::Failed(failed) => {
            let set = doc! {"status": "failed", "attempts": failed.attempt,
            "last_error": &failed.reason, "channel": &failed.channel};
            (set, None)
        }
        // The sent event does not number its attempt: it is one more than the failures.
        NotificationEvent::Sent(sent) => {
            let delivered_at =
                mongodb::bson::DateTime::from_millis(sent.delivered_at.timestamp_millis());
            let set = doc! {"status": "sent", "delivered_at": delivered_at,
            "channel": &sent.channel};
            (set, Some(doc! {"attempts": 1_i64}))
        }
        NotificationEvent::Abandoned(abandoned) => {
            let set = doc! {"status": "abandoned", "attempts": abandoned.attempts};
            (set, None)
        }
    }
}

/// Counters of notifications per value of one of their fields (template, channel).
#[derive(Debug, Clone, Copy)]
pub struct Tally {
    view: &'static str,
    memo: &'static str,
    /// The notification field counted by: `template` or `channel`.
    field: &'static str,
}

/// `template_usage`.
pub const TEMPLATES: Tally = Tally {
    view: TEMPLATE_USAGE,
    memo: TEMPLATE_USAGE_NOTIFICATIONS,
    field: "template",
};

/// `channel_performance`.
pub const CHANNELS: Tally = Tally {
    view: CHANNEL_PERFORMANCE,
    memo: CHANNEL_PERFORMANCE_NOTIFICATIONS,
    field: "channel",
};

/// The counter an event moves.
fn counter(notification: &NotificationEvent) -> &'static str {
    match notification {
        NotificationEvent::Requested(_) => "requested",
        NotificationEvent::Sent(_) => "sent",
        NotificationEvent::Failed(_) => "failed",
        NotificationEvent::Abandoned(_) => "abandoned",
    }
}

impl Tally {
    /// Counts a notification event under its template or channel.
    pub async fn apply(
        &self,
        event: &Applying<'_>,
        notification: &NotificationEvent,
    ) -> Result<Outcome, mongodb::error::Error> {
        let Some(key) = self.key(event, notification).await? else {
            tracing::warn!(
                notification_id = notification.notification_id(),
                view = self.view,
                "event of a notification never requested; skipped"
            );
            return Ok(Outcome::AlreadyApplied);
        };
        // Every counter is written, so a document looks the same whatever created it.
        let mut inc = doc! {"requested": 0_i64, "sent": 0_i64, "failed": 0_i64, "abandoned": 0_i64};
        inc.insert(counter(notification), 1_i64);
        let update = doc! {"$inc": inc, "$set": {self.field: &key}};
        apply_once(&event.collection(self.view), &key, event, update, true).await
    }

    /// The template or channel of the notification: from the request (remembered then),
    /// else from the memo.
    async fn key(
        &self,
        event: &Applying<'_>,
        notification: &NotificationEvent,
    ) -> Result<Option<String>, mongodb::error::Error> {
        let memo = Memo::of(event, self.memo);
        let id = notification.notification_id();
        if let NotificationEvent::Requested(requested) = notification {
            let key = match self.field {
                "template" => requested.template.clone(),
                _ => requested.channel.clone(),
            };
            memo.remember(id, doc! {self.field: &key}).await?;
            return Ok(Some(key));
        }
        let remembered = memo.get::<Document>(id).await?;
        Ok(remembered.and_then(|(fields, _)| fields.get_str(self.field).ok().map(String::from)))
    }
}
