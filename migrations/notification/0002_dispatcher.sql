-- The dispatcher follows this service's own events with a row of its own in
-- outbox_checkpoint (relay = 'dispatcher'), beside the relay's.

-- Deliveries waiting for another attempt: a projection of NotificationFailed, written
-- in the same transaction as the dispatcher's checkpoint so a crash can neither lose a
-- scheduled retry nor schedule one twice. Removed once the notification is sent or
-- abandoned, or when its retry is attempted.
CREATE TABLE notification_retry
(
    notification_id text PRIMARY KEY,
    -- Failed attempts so far; the retry is attempt + 1.
    attempt         integer     NOT NULL CHECK (attempt >= 1),
    due_at          timestamptz NOT NULL,
    -- Carried into the metadata of the retry's outcome, for tracing the flow.
    correlation_id  text,
    causation_id    text        NOT NULL
);

CREATE INDEX notification_retry_due ON notification_retry (due_at);
