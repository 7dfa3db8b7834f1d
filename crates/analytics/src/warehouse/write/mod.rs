//! What a page of claimed facts writes into a version's schema, inside the transaction
//! that claimed them in the inbox (see [`super`]): a constant number of statements per
//! page, each taking the page's values as arrays (`unnest`), whatever its size.
//!
//! - [`page`]: the facts sorted and folded by the table they write (pure).
//! - [`dimensions`]: days and customers; [`orders`]: order stage and sales;
//!   [`facts`]: activities and refunds; [`products`]: the product events folded into
//!   the rows they leave (pure), written by [`super::products`].
//!
//! The statements run in an order that lets each find what it needs: orders are
//! staged and confirmations read back before the days and customers they need are
//! added, cancellations are stamped before the sales that stand are added. The result
//! is the one applying the events one at a time leaves (a single event is applied
//! through this same path, as a page of one).
//!
//! Every write is also safe to repeat on its own (inserts keyed by event or by order
//! line, upserts, deletes), but exactly-once comes from the inbox; the keys are a
//! second line of defence, not the mechanism.

pub mod dimensions;
pub mod facts;
pub mod orders;
pub mod page;
pub mod products;

use sqlx::PgConnection;

use page::{Claimed, Page};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// The event contradicts what the schema holds: it is parked, not retried forever.
    #[error("{0}")]
    Refused(String),
}

/// Writes the claimed facts of a page, in page order.
pub async fn write_page(
    db: &mut PgConnection,
    schema: &str,
    claimed: &[Claimed<'_>],
) -> Result<(), WriteError> {
    let mut page = Page::of(claimed)?;
    super::products::write(db, schema, &page.products).await?;
    orders::place(db, schema, &page.placed).await?;
    let confirmed = orders::confirm(db, schema, &page.confirmed).await?;
    // A sale needs its placement's day and customer, whichever page placed it.
    for order in &confirmed {
        page.day(order.placed_at);
    }
    let customers: Vec<&str> = (page.customer_ids.iter().copied())
        .chain(confirmed.iter().map(|o| o.customer_id.as_str()))
        .collect();
    dimensions::days(db, schema, &page.days).await?;
    dimensions::customers(db, schema, &customers).await?;
    dimensions::changes(db, schema, &page.customers).await?;
    facts::activities(db, schema, &page.activities).await?;
    orders::cancel(db, schema, &page.cancelled).await?;
    orders::sales(db, schema, &confirmed).await?;
    facts::refunds(db, schema, &page.refunds).await?;
    Ok(())
}
