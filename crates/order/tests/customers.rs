//! The `customers` read model against the real PostgreSQL, in a database of the test's
//! own: each change applies only over an older sequence of the user's aggregate, so a
//! redelivered, stale or out-of-order event never undoes a later one; and a lookup that
//! fails makes `PlaceOrder` unavailable (retried), never rejected.

use order::customers::{table, CustomerChange};
use order::domain::CustomerStanding;
use order::Orders;
use platform::command_bus::{CommandHandler, IncomingCommand, Unavailable};
use platform::envelope::MessageContext;
use serde_json::json;
use sqlx::PgPool;

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Runs `scenario` on a fresh, migrated database, then drops it whatever the outcome.
async fn with_database(
    scenario: impl AsyncFnOnce(&PgPool) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let name = format!("order_customers_{}", uuid::Uuid::new_v4().simple());
    let admin = PgPool::connect(ADMIN_URL).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let pool = PgPool::connect(&format!("postgres://postgres@127.0.0.1:5432/{name}")).await?;
    let result = async {
        sqlx::migrate!("../../migrations/order").run(&pool).await?;
        scenario(&pool).await
    }
    .await;
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    result
}

fn change(active: bool, sequence: i64) -> CustomerChange {
    CustomerChange {
        customer_id: "ann".into(),
        active,
        sequence,
    }
}

#[tokio::test]
async fn a_customer_is_unknown_until_registered_then_active_then_deactivated() -> anyhow::Result<()>
{
    with_database(async |pool| {
        assert_eq!(
            table::standing(pool, "ann").await?,
            CustomerStanding::Unknown
        );
        assert!(table::apply(pool, &change(true, 1)).await?);
        assert_eq!(
            table::standing(pool, "ann").await?,
            CustomerStanding::Active
        );
        assert!(table::apply(pool, &change(false, 3)).await?);
        assert_eq!(
            table::standing(pool, "ann").await?,
            CustomerStanding::Deactivated
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_redelivered_or_stale_event_changes_nothing() -> anyhow::Result<()> {
    with_database(async |pool| {
        assert!(table::apply(pool, &change(true, 1)).await?);
        assert!(!table::apply(pool, &change(true, 1)).await?, "redelivery");
        assert!(table::apply(pool, &change(false, 3)).await?);
        assert!(!table::apply(pool, &change(true, 1)).await?, "stale");
        assert_eq!(
            table::standing(pool, "ann").await?,
            CustomerStanding::Deactivated
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_deactivation_that_overtakes_the_registration_still_wins() -> anyhow::Result<()> {
    with_database(async |pool| {
        assert!(table::apply(pool, &change(false, 3)).await?);
        assert!(!table::apply(pool, &change(true, 1)).await?);
        assert_eq!(
            table::standing(pool, "ann").await?,
            CustomerStanding::Deactivated
        );
        let other = table::standing(pool, "bob").await?;
        assert_eq!(other, CustomerStanding::Unknown, "rows are per customer");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_customer_lookup_that_fails_leaves_the_order_to_be_retried() -> anyhow::Result<()> {
    with_database(async |pool| {
        let orders = Orders::new(pool.clone());
        // A closed pool fails every query, as an unreachable database would.
        pool.close().await;
        let command = IncomingCommand {
            name: "PlaceOrder".into(),
            context: MessageContext::default(),
            body: json!({"order_id": "o1", "customer_id": "ann", "card_token": "tok_ok",
                "lines": [{"sku": "A", "quantity": 1, "unit_price_cents": 100}]}),
        };
        let answer = CommandHandler::execute(&orders, command).await;
        assert!(
            matches!(&answer, Err(Unavailable(reason)) if reason.contains("customer lookup")),
            "unavailable, not answered: {answer:?}"
        );
        Ok(())
    })
    .await
}
