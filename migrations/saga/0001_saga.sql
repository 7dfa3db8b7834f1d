-- The order fulfilment saga's own state. Each input (an event, a reply, a deadline) is
-- handled in one transaction that updates the saga row, appends its timeline and
-- enqueues the commands it decided in saga_outbox: the outbox is the saga's only way
-- to the broker, so state and outgoing commands never disagree (no dual write).

CREATE TABLE sagas
(
    order_id       text PRIMARY KEY,
    -- The domain's Saga, serialized; status and deadline are copied out for queries.
    state          jsonb       NOT NULL,
    status         text        NOT NULL,
    deadline       timestamptz,
    correlation_id text        NOT NULL,
    version        bigint      NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Only running sagas have a deadline; the ticker scans this index.
CREATE INDEX sagas_due ON sagas (deadline) WHERE deadline IS NOT NULL;

-- Commands waiting for the dispatcher. The command id is deterministic
-- (saga:<order_id>:<step>), so a resent command reuses its row's id and the target
-- service's command log answers it once.
CREATE TABLE saga_outbox
(
    id             bigserial PRIMARY KEY,
    command_id     text        NOT NULL,
    routing_key    text        NOT NULL,
    body           jsonb       NOT NULL,
    correlation_id text        NOT NULL,
    causation_id   text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz
);

CREATE INDEX saga_outbox_pending ON saga_outbox (id) WHERE published_at IS NULL;

-- What happened to each saga, in order: inputs taken, commands issued, outcomes.
CREATE TABLE saga_timeline
(
    id         bigserial PRIMARY KEY,
    order_id   text        NOT NULL,
    kind       text        NOT NULL,
    step       text,
    command_id text,
    message    text        NOT NULL,
    detail     jsonb       NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX saga_timeline_order ON saga_timeline (order_id, id);

-- Events consumed, de-duplicated by event id in the same transaction as their effect.
CREATE TABLE inbox
(
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
