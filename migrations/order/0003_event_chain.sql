-- Tamper evidence: each committed event's SHA-256, chained to the previous one.
-- A side table, sealed asynchronously in commit order (tx_id, global_position) by one
-- leader per service, rather than a column filled by a trigger: postgres-es's insert
-- stays unchanged and writers never serialize on a chain lock, so appends stay
-- concurrent. No foreign key to events: a deleted event must be detectable, not prevented.
CREATE TABLE event_chain
(
    chain_seq       bigint PRIMARY KEY CHECK (chain_seq > 0), -- 1, 2, 3... without gaps
    global_position bigint      NOT NULL UNIQUE,
    tx_id           xid8        NOT NULL,
    event_id        uuid        NOT NULL,
    hash            bytea       NOT NULL CHECK (octet_length(hash) = 32),
    sealed_at       timestamptz NOT NULL DEFAULT now()
);
