-- The star schema of one projection version, in its own schema (__SCHEMA__ is
-- olap_v<n>). Every statement is idempotent: it runs on first use of a version.
--
-- Written by one feed each, so no table depends on the order in which the feeds are
-- read: product_dimension (inventory), order_stage and sales_fact (order),
-- customer_dimension attributes (user; the order feed only adds inferred members),
-- refund_fact (payment). What joins two feeds is resolved when both sides are there:
-- a sale's product row (product_key_at, re-run when a product row opens or closes),
-- a refund against its sale (at query time, sales_line_refund).
--
-- The facts' keys are not declared as foreign keys: the statement that writes a fact
-- selects its keys from the dimension rows, which the same transaction wrote first and
-- nothing ever deletes, so each check would only find what was just selected, at a
-- lookup per key per row (a third of a sales insert's time in a replay). The tests
-- check that every key resolves (crates/analytics/tests).

CREATE SCHEMA IF NOT EXISTS __SCHEMA__;

-- Day grain; a row is added when a fact first needs its day.
CREATE TABLE IF NOT EXISTS __SCHEMA__.time_dimension
(
    date_key integer PRIMARY KEY, -- YYYYMMDD
    date     date     NOT NULL UNIQUE,
    day      smallint NOT NULL,
    month    smallint NOT NULL,
    quarter  smallint NOT NULL,
    year     integer  NOT NULL
);

-- One row per customer (type 1: profile changes overwrite). An order may arrive before
-- its customer's registration (another feed): the row is then inferred from the order
-- (customer_id only, inferred = true) and completed when the registration arrives.
CREATE TABLE IF NOT EXISTS __SCHEMA__.customer_dimension
(
    customer_key   bigserial PRIMARY KEY,
    customer_id    text    NOT NULL UNIQUE,
    email          text,
    name           text,
    registered_at  timestamptz,
    deactivated_at timestamptz,
    is_active      boolean NOT NULL DEFAULT true,
    inferred       boolean NOT NULL DEFAULT true,
    updated_at     timestamptz -- the last user event applied to the row
);

-- Slowly changing, type 2 (see src/scd.rs): one row per period of a product's price
-- and category, [valid_from, valid_to), the last one current.
CREATE TABLE IF NOT EXISTS __SCHEMA__.product_dimension
(
    product_key bigserial PRIMARY KEY,
    sku         text        NOT NULL,
    name        text        NOT NULL,
    category    text        NOT NULL,
    price_cents bigint      NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    is_current  boolean     NOT NULL,
    UNIQUE (sku, valid_from)
);
CREATE UNIQUE INDEX IF NOT EXISTS product_dimension_current
    ON __SCHEMA__.product_dimension (sku) WHERE is_current;

-- Orders as placed: a confirmation names only the order, its sales come from here.
CREATE TABLE IF NOT EXISTS __SCHEMA__.order_stage
(
    order_id     text PRIMARY KEY,
    customer_id  text        NOT NULL,
    placed_at    timestamptz NOT NULL,
    lines        jsonb       NOT NULL,
    confirmed_at timestamptz,
    cancelled_at timestamptz
);

-- One row per line of a confirmed order that is not cancelled (a cancellation, even
-- after confirmation, deletes its rows). The sale's time is the order's placement:
-- the moment the customer bought at the line's price. sku is kept (degenerate) so the
-- product key can be resolved again when the product's rows change.
CREATE TABLE IF NOT EXISTS __SCHEMA__.sales_fact
(
    order_id         text        NOT NULL,
    line_no          integer     NOT NULL,
    date_key         integer     NOT NULL, -- time_dimension
    customer_key     bigint      NOT NULL, -- customer_dimension
    product_key      bigint, -- product_dimension; NULL: product not known yet
    sku              text        NOT NULL,
    sold_at          timestamptz NOT NULL,
    quantity         bigint      NOT NULL,
    unit_price_cents bigint      NOT NULL,
    amount_cents     bigint      NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX IF NOT EXISTS sales_fact_sku ON __SCHEMA__.sales_fact (sku, sold_at);
CREATE INDEX IF NOT EXISTS sales_fact_customer ON __SCHEMA__.sales_fact (customer_key);

-- One row per refund, dated by the refund. It counts against its sale, if the order
-- is one: a refund of an order that was cancelled undoes a sale that never counted.
CREATE TABLE IF NOT EXISTS __SCHEMA__.refund_fact
(
    event_id     uuid PRIMARY KEY,
    payment_id   text        NOT NULL,
    order_id     text        NOT NULL,
    date_key     integer     NOT NULL, -- time_dimension
    refunded_at  timestamptz NOT NULL,
    amount_cents bigint      NOT NULL,
    reason       text        NOT NULL
);
CREATE INDEX IF NOT EXISTS refund_fact_order ON __SCHEMA__.refund_fact (order_id);

-- One row per user event: registered, profile_updated, deactivated, order_placed.
CREATE TABLE IF NOT EXISTS __SCHEMA__.user_activity_fact
(
    event_id     uuid PRIMARY KEY,
    customer_key bigint      NOT NULL, -- customer_dimension
    activity     text        NOT NULL
        CHECK (activity IN ('registered', 'profile_updated', 'deactivated', 'order_placed')),
    date_key     integer     NOT NULL, -- time_dimension
    occurred_at  timestamptz NOT NULL
);

-- The product row valid at `at`: the last one starting at or before it. A sale stamped
-- before the product's first row (clocks of two services) takes the first row. A
-- table function, not a scalar one: joined LATERAL in a set-based insert, PostgreSQL
-- inlines it into the statement's plan (it is SQL, STABLE, not STRICT, one SELECT)
-- instead of running it as a query of its own for every sale line.
CREATE OR REPLACE FUNCTION __SCHEMA__.product_row_at(wanted text, at timestamptz)
    RETURNS TABLE (product_key bigint)
    LANGUAGE sql
    STABLE
AS
$$
SELECT d.product_key
FROM __SCHEMA__.product_dimension d
WHERE d.sku = wanted
ORDER BY d.valid_from <= at DESC,
         CASE WHEN d.valid_from <= at THEN d.valid_from END DESC NULLS LAST,
         d.valid_from
LIMIT 1
$$;

-- The same as a scalar, for an UPDATE's SET.
CREATE OR REPLACE FUNCTION __SCHEMA__.product_key_at(wanted text, at timestamptz)
    RETURNS bigint
    LANGUAGE sql
    STABLE
AS
$$
SELECT product_key FROM __SCHEMA__.product_row_at(wanted, at)
$$;

-- Each sale line's share of its order's refunds, in cents: refunds are capped at the
-- order's amount and spread over its lines in proportion to their amounts, by the
-- floor of the running total, so the shares add up to the refund exactly.
CREATE OR REPLACE VIEW __SCHEMA__.sales_line_refund AS
WITH refunded AS (SELECT order_id, sum(amount_cents) AS cents
                  FROM __SCHEMA__.refund_fact
                  GROUP BY order_id),
     lines AS (SELECT f.order_id,
                      f.line_no,
                      f.amount_cents,
                      sum(f.amount_cents) OVER (PARTITION BY f.order_id ORDER BY f.line_no) AS upto,
                      sum(f.amount_cents) OVER (PARTITION BY f.order_id)                    AS total,
                      r.cents
               FROM __SCHEMA__.sales_fact f
                        JOIN refunded r USING (order_id))
SELECT order_id,
       line_no,
       CASE
           WHEN total <= 0 THEN 0
           ELSE (div(least(cents, total) * upto, total)
               - div(least(cents, total) * (upto - amount_cents), total))::bigint
           END AS refunded_cents
FROM lines;
