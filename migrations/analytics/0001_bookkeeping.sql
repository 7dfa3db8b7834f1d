-- The analytics service's bookkeeping, in the public schema; the star schema itself
-- lives in one schema per projection version (olap_v<n>), created on first use by the
-- service (crates/analytics/src/warehouse/schema.rs), not by migrations.

-- Per projection, version and source service: the feed cursor of the last page applied.
CREATE TABLE projection_checkpoints
(
    projection text        NOT NULL,
    version    integer     NOT NULL,
    source     text        NOT NULL,
    tx_id      bigint      NOT NULL,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, version, source)
);

-- Events that kept failing, set aside with their error for an operator.
CREATE TABLE parked_events
(
    projection text        NOT NULL,
    version    integer     NOT NULL,
    event_id   uuid        NOT NULL,
    event      jsonb       NOT NULL,
    error      text        NOT NULL,
    parked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, version, event_id)
);

-- The version queries read; a projection without a row reads version 1.
CREATE TABLE projection_versions
(
    projection  text PRIMARY KEY,
    current     integer     NOT NULL,
    promoted_at timestamptz NOT NULL DEFAULT now()
);

-- The inbox: each event applied to a version, claimed in the same transaction as its
-- effect, so a page applied again after a crash changes nothing.
CREATE TABLE applied_events
(
    projection text        NOT NULL,
    version    integer     NOT NULL,
    event_id   uuid        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, version, event_id)
);
