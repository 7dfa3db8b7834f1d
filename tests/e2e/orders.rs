//! Orders end to end: placed for registered, active customers only, reserved
//! all-or-nothing, confirmed or cancelled, and the read models following every step.

use e2e::TestStack;
use platform::command_bus::ReplyStatus;
use serde_json::json;

use crate::support::{
    assert_accepted, assert_rejected, customer_becomes, order_becomes, place_order,
    product_in_stock, registered_customer, sku, stock_becomes,
};

#[tokio::test]
async fn a_reserved_and_confirmed_order_turns_allocated_stock_into_sold_stock() -> anyhow::Result<()>
{
    let stack = TestStack::start().await?;
    let sku = sku(&stack, "MUG");
    product_in_stock(&stack, &sku, 1299, 10).await?;
    registered_customer(&stack, "c-1").await?;
    let order_id = format!("order-{}", stack.id);
    let lines = json!([{"sku": sku, "quantity": 3, "unit_price_cents": 1299}]);
    assert_accepted(
        &stack
            .send("order.PlaceOrder", place_order(&order_id, "c-1", lines))
            .await?,
    );
    let placed = order_becomes(&stack, &order_id, "placed").await?;
    assert_eq!(placed["total_cents"], 3 * 1299);

    let reserved = stack
        .send(
            "inventory.ReserveStock",
            json!({"order_id": order_id, "lines": [{"sku": sku, "quantity": 3}]}),
        )
        .await?;
    assert_accepted(&reserved);
    assert_eq!(reserved.aggregate_id.as_deref(), Some(order_id.as_str()));
    assert_eq!(
        reserved.events,
        vec!["StockReserved".to_string(), "StockAllocated".to_string()]
    );
    stock_becomes(&stack, &sku, 7, 3, 0).await?;

    assert_accepted(
        &stack
            .send("order.ConfirmOrder", json!({"order_id": order_id}))
            .await?,
    );
    assert_accepted(
        &stack
            .send("inventory.CommitReservation", json!({"order_id": order_id}))
            .await?,
    );
    order_becomes(&stack, &order_id, "confirmed").await?;
    stock_becomes(&stack, &sku, 7, 0, 3).await?;
    stack.stop().await
}

#[tokio::test]
async fn a_reservation_short_on_one_line_allocates_nothing_and_the_order_is_cancelled(
) -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let (plenty, scarce) = (sku(&stack, "PLENTY"), sku(&stack, "SCARCE"));
    product_in_stock(&stack, &plenty, 500, 10).await?;
    product_in_stock(&stack, &scarce, 900, 1).await?;
    registered_customer(&stack, "c-2").await?;
    let order_id = format!("order-{}", stack.id);
    let lines = json!([{"sku": plenty, "quantity": 2, "unit_price_cents": 500}, {"sku": scarce, "quantity": 2, "unit_price_cents": 900}]);
    assert_accepted(
        &stack
            .send("order.PlaceOrder", place_order(&order_id, "c-2", lines))
            .await?,
    );

    let wanted = json!([{"sku": plenty, "quantity": 2}, {"sku": scarce, "quantity": 2}]);
    let reply = stack
        .send(
            "inventory.ReserveStock",
            json!({"order_id": order_id, "lines": wanted}),
        )
        .await?;
    assert_rejected(&reply, "insufficient_stock");
    assert!(
        reply
            .error
            .as_ref()
            .is_some_and(|e| e.message.contains(&scarce)),
        "the shortage names the sku: {reply:?}"
    );

    let cancel = json!({"order_id": order_id, "reason": "out of stock"});
    assert_accepted(&stack.send("order.CancelOrder", cancel).await?);
    let cancelled = order_becomes(&stack, &order_id, "cancelled").await?;
    assert_eq!(cancelled["cancel_reason"], "out of stock");
    stock_becomes(&stack, &plenty, 10, 0, 0).await?;
    stock_becomes(&stack, &scarce, 1, 0, 0).await?;
    stack.stop().await
}

#[tokio::test]
async fn concurrent_reservations_never_oversell() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let sku = sku(&stack, "HOT");
    product_in_stock(&stack, &sku, 100, 5).await?;
    let attempts = (0..12).map(|n| {
        let body = json!({"order_id": format!("rush-{n}"), "lines": [{"sku": sku, "quantity": 1}]});
        stack.send("inventory.ReserveStock", body)
    });
    let replies = futures::future::try_join_all(attempts).await?;
    let accepted = replies
        .iter()
        .filter(|r| r.status == ReplyStatus::Accepted)
        .count();
    assert_eq!(
        accepted, 5,
        "exactly the stock on hand is reserved: {replies:?}"
    );
    for reply in replies.iter().filter(|r| r.status == ReplyStatus::Rejected) {
        assert_rejected(reply, "insufficient_stock");
    }
    stock_becomes(&stack, &sku, 0, 5, 0).await?;
    // Releasing one reserved order gives its unit back, and releasing it again does not.
    let holder = replies
        .iter()
        .find(|r| r.status == ReplyStatus::Accepted)
        .and_then(|r| r.aggregate_id.clone());
    let release = json!({"order_id": holder});
    let released = stack
        .send("inventory.ReleaseStock", release.clone())
        .await?;
    assert_eq!(
        released.events,
        vec![
            "StockReleased".to_string(),
            "AllocationReleased".to_string()
        ]
    );
    let again = stack.send("inventory.ReleaseStock", release).await?;
    assert_accepted(&again);
    assert!(
        again.events.is_empty(),
        "a second release changes nothing: {again:?}"
    );
    stock_becomes(&stack, &sku, 1, 4, 0).await?;
    stack.stop().await
}

#[tokio::test]
async fn an_order_for_a_customer_never_registered_is_refused() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let lines = json!([{"sku": "ANY-1", "quantity": 1, "unit_price_cents": 100}]);
    let order_id = format!("stranger-{}", stack.id);
    let reply = stack
        .send("order.PlaceOrder", place_order(&order_id, "nobody", lines))
        .await?;
    assert_rejected(&reply, "unknown_customer");
    assert!(
        reply
            .error
            .as_ref()
            .is_some_and(|e| e.message.contains("nobody")),
        "the rejection names the customer: {reply:?}"
    );
    stack.stop().await
}

#[tokio::test]
async fn an_order_for_a_deactivated_customer_is_refused() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let lines = json!([{"sku": "ANY-1", "quantity": 1, "unit_price_cents": 100}]);
    registered_customer(&stack, "leaver").await?;
    let before = place_order(&format!("before-{}", stack.id), "leaver", lines.clone());
    assert_accepted(&stack.send("order.PlaceOrder", before).await?);

    let deactivate = json!({"user_id": "leaver"});
    assert_accepted(&stack.send("user.DeactivateUser", deactivate).await?);
    customer_becomes(&stack, "leaver", false).await?;
    let after = place_order(&format!("after-{}", stack.id), "leaver", lines);
    assert_rejected(
        &stack.send("order.PlaceOrder", after).await?,
        "customer_inactive",
    );
    stack.stop().await
}
