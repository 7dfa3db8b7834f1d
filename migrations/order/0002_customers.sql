-- The order service's own read model of customers, fed by the user service's
-- UserRegistered and UserDeactivated events and read before every PlaceOrder, so
-- placing an order never waits on another service.
CREATE TABLE customers
(
    customer_id   text PRIMARY KEY,
    active        boolean     NOT NULL,
    -- The sequence (in the user's aggregate) of the event the row reflects: an event
    -- with a sequence not above it is a redelivery or stale, and changes nothing.
    last_sequence bigint      NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
