-- The cubes of one projection version (__SCHEMA__ is olap_v<n>), as materialized views
-- refreshed from the facts (src/warehouse/cubes.rs), not as tables maintained event by
-- event. Why: a cube cell depends on facts from several feeds that arrive in no defined
-- order and revise one another (a late price or category change re-keys past sales, a
-- cancellation after a confirmation removes a sale, a refund may come before the sale
-- it reverses). Recomputed from the facts, a cube is the same whatever that order, and
-- a rebuild's cubes equal the live ones; kept by deltas, each revision would have to be
-- replayed into every cell it touched. REFRESH ... CONCURRENTLY (hence the unique
-- indexes) lets queries read the previous contents meanwhile; a refresh runs only
-- when facts changed, at most every ANALYTICS_REFRESH_MS, and before a rebuilt
-- version becomes current.
--
-- Grouping sets give each month (or sku) one row per category, at the category the
-- product had when it was sold (all_categories = false; '' for a product not known
-- yet), plus one row for all categories (all_categories = true, category '').
-- Orders are counted distinct per row, so a category row counts the orders with a
-- line in it.

CREATE MATERIALIZED VIEW IF NOT EXISTS __SCHEMA__.monthly_sales_cube AS
WITH lines AS (SELECT t.year * 100 + t.month          AS month_key,
                      coalesce(p.category, '')        AS category,
                      f.order_id,
                      f.quantity,
                      f.amount_cents,
                      coalesce(r.refunded_cents, 0) AS refunded_cents
               FROM __SCHEMA__.sales_fact f
                        JOIN __SCHEMA__.time_dimension t USING (date_key)
                        LEFT JOIN __SCHEMA__.product_dimension p USING (product_key)
                        LEFT JOIN __SCHEMA__.sales_line_refund r USING (order_id, line_no))
SELECT month_key,
       grouping(category) = 1                                     AS all_categories,
       CASE WHEN grouping(category) = 1 THEN '' ELSE category END AS category,
       count(DISTINCT order_id)                                   AS orders,
       sum(quantity)::bigint                                      AS units,
       sum(amount_cents)::bigint                                  AS revenue_cents,
       sum(refunded_cents)::bigint                                AS refunded_cents
FROM lines
GROUP BY GROUPING SETS ((month_key, category), (month_key));
CREATE UNIQUE INDEX IF NOT EXISTS monthly_sales_cube_cell
    ON __SCHEMA__.monthly_sales_cube (month_key, all_categories, category);

-- Per customer (every one known, with zeros when nothing was bought): the sales that
-- stand, their refunds, and the days of the first and last of them.
CREATE MATERIALIZED VIEW IF NOT EXISTS __SCHEMA__.customer_ltv_analysis AS
WITH orders AS (SELECT f.customer_key,
                       f.order_id,
                       min(t.date)                             AS date,
                       sum(f.amount_cents)                     AS revenue,
                       sum(coalesce(r.refunded_cents, 0)) AS refunded
                FROM __SCHEMA__.sales_fact f
                         JOIN __SCHEMA__.time_dimension t USING (date_key)
                         LEFT JOIN __SCHEMA__.sales_line_refund r USING (order_id, line_no)
                GROUP BY f.customer_key, f.order_id)
SELECT c.customer_key,
       c.customer_id,
       count(o.order_id)                   AS orders,
       coalesce(sum(o.revenue), 0)::bigint  AS revenue_cents,
       coalesce(sum(o.refunded), 0)::bigint AS refunded_cents,
       min(o.date)                         AS first_order_date,
       max(o.date)                         AS last_order_date
FROM __SCHEMA__.customer_dimension c
         LEFT JOIN orders o USING (customer_key)
GROUP BY c.customer_key, c.customer_id;
CREATE UNIQUE INDEX IF NOT EXISTS customer_ltv_analysis_customer
    ON __SCHEMA__.customer_ltv_analysis (customer_key);
CREATE UNIQUE INDEX IF NOT EXISTS customer_ltv_analysis_customer_id
    ON __SCHEMA__.customer_ltv_analysis (customer_id);

-- Per sku, for the top products: the same measures as the monthly cube.
CREATE MATERIALIZED VIEW IF NOT EXISTS __SCHEMA__.product_sales_cube AS
WITH lines AS (SELECT f.sku,
                      coalesce(p.category, '')        AS category,
                      f.order_id,
                      f.quantity,
                      f.amount_cents,
                      coalesce(r.refunded_cents, 0) AS refunded_cents
               FROM __SCHEMA__.sales_fact f
                        LEFT JOIN __SCHEMA__.product_dimension p USING (product_key)
                        LEFT JOIN __SCHEMA__.sales_line_refund r USING (order_id, line_no))
SELECT sku,
       grouping(category) = 1                                     AS all_categories,
       CASE WHEN grouping(category) = 1 THEN '' ELSE category END AS category,
       count(DISTINCT order_id)                                   AS orders,
       sum(quantity)::bigint                                      AS units,
       sum(amount_cents)::bigint                                  AS revenue_cents,
       sum(refunded_cents)::bigint                                AS refunded_cents
FROM lines
GROUP BY GROUPING SETS ((sku, category), (sku));
CREATE UNIQUE INDEX IF NOT EXISTS product_sales_cube_cell
    ON __SCHEMA__.product_sales_cube (sku, all_categories, category);
