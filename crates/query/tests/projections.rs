//! The first views (products, stock, orders, profiles) and the query API against the
//! real MongoDB and Redis on loopback; the other views have a test file each.
//!
//! Each test owns a fresh MongoDB database and Redis key prefix, and drives
//! [`Projections::apply`] directly, on version 1 of each view, with crafted envelopes (the broker is not involved:
//! a test consuming the shared `query.projections` queue would steal other processes'
//! events).

mod support;

use chrono::{Duration, Utc};
use query::projector::{Outcome, ProjectionError};
use serde_json::{json, Value};

use support::{
    envelope, order_placed, order_placed_at, product_added, stock_event, user_event, Fixture,
};
#[tokio::test]
async fn product_events_build_the_product_list_and_the_stock_levels() {
    let fx = Fixture::new().await;
    fx.apply(&product_added("A-1", "tools")).await;
    fx.apply(&stock_event("A-1", 2, "StockAdded", 10)).await;
    fx.apply(&stock_event("A-1", 3, "StockAllocated", 3)).await;
    fx.apply(&stock_event("A-1", 4, "AllocationCommitted", 2))
        .await;
    let last = stock_event("A-1", 5, "AllocationReleased", 1);
    // product_list, stock_levels (Redis and MongoDB) and category_tree.
    assert_eq!(fx.apply(&last).await, [Outcome::Applied; 3]);

    let product = fx.document("product_list", "A-1").await;
    assert_eq!(product.get_str("name"), Ok("Product A-1"));
    assert_eq!(product.get_str("category"), Ok("tools"));
    assert_eq!(product.get_i64("price_cents"), Ok(1250));
    let counters = ["available", "reserved", "sold", "version"].map(|f| product.get_i64(f).ok());
    assert_eq!(counters, [Some(8), Some(0), Some(2), Some(5)]);
    let expected = [
        ("available", 8),
        ("reserved", 0),
        ("sold", 2),
        ("version", 5),
    ]
    .map(|(field, value)| (field.to_string(), value));
    assert_eq!(fx.stock_hash("A-1").await, expected);
    fx.drop_all().await;
}

#[tokio::test]
async fn order_events_move_an_order_from_placed_to_cancelled() {
    let fx = Fixture::new().await;
    let placed = order_placed("o-1");
    fx.apply(&placed).await;
    assert_eq!(
        fx.document("order_details", "o-1").await.get_str("status"),
        Ok("placed")
    );
    let reason = json!({"order_id": "o-1", "reason": "out of stock"});
    fx.apply(&envelope(
        "order",
        "Order",
        "o-1",
        2,
        "OrderCancelled",
        reason,
    ))
    .await;

    let order = fx.document("order_details", "o-1").await;
    assert_eq!(order.get_str("status"), Ok("cancelled"));
    assert_eq!(order.get_str("cancel_reason"), Ok("out of stock"));
    assert_eq!(order.get_str("customer_id"), Ok("c-7"));
    assert_eq!(order.get_i64("total_cents"), Ok(2700));
    assert_eq!(order.get_array("lines").map(Vec::len), Ok(2));
    assert_eq!(order.get_i64("version"), Ok(2));
    let placed_at = order
        .get_datetime("placed_at")
        .expect("placed_at")
        .timestamp_millis();
    assert_eq!(placed_at, placed.occurred_at.timestamp_millis());
    fx.drop_all().await;
}

#[tokio::test]
async fn replaying_an_event_changes_nothing() {
    let fx = Fixture::new().await;
    let events = [
        product_added("A-1", "tools"),
        stock_event("A-1", 2, "StockAdded", 4),
        order_placed("o-1"),
    ];
    for event in &events {
        fx.apply(event).await;
    }
    let confirmed = envelope(
        "order",
        "Order",
        "o-1",
        2,
        "OrderConfirmed",
        json!({"order_id": "o-1"}),
    );
    fx.apply(&confirmed).await;
    let before = (
        fx.document("product_list", "A-1").await,
        fx.document("order_details", "o-1").await,
    );
    let stock_before = fx.stock_hash("A-1").await;

    for event in events.iter().chain([&confirmed]) {
        let outcomes = fx.apply(event).await;
        assert!(
            outcomes.iter().all(|o| *o == Outcome::AlreadyApplied),
            "{outcomes:?}"
        );
    }
    let after = (
        fx.document("product_list", "A-1").await,
        fx.document("order_details", "o-1").await,
    );
    assert_eq!(after, before);
    assert_eq!(fx.stock_hash("A-1").await, stock_before);
    fx.drop_all().await;
}

#[tokio::test]
async fn a_malformed_event_is_refused_for_good_and_an_unknown_one_is_skipped() {
    let fx = Fixture::new().await;
    let malformed = envelope(
        "inventory",
        "Product",
        "A-1",
        1,
        "StockAdded",
        json!({"sku": "A-1"}),
    );
    let refused = fx.projections.apply(1, &malformed).await;
    assert!(
        matches!(&refused, Err(e @ ProjectionError::Malformed(_)) if !e.is_retryable()),
        "{refused:?}"
    );
    let reserved = envelope(
        "inventory",
        "Reservation",
        "o-1",
        1,
        "StockReserved",
        json!({}),
    );
    assert!(fx.apply(&reserved).await.is_empty());
    fx.drop_all().await;
}

#[tokio::test]
async fn a_corrupted_stock_hash_fails_the_event_without_moving_any_counter() {
    let fx = Fixture::new().await;
    fx.apply(&stock_event("A-1", 1, "StockAdded", 5)).await;
    let key = fx.store.stock_key(1, "A-1");
    let mut redis = fx.store.redis.clone();
    let _: i64 = redis::cmd("HSET")
        .arg(&key)
        .arg("reserved")
        .arg("garbage")
        .query_async(&mut redis)
        .await
        .expect("HSET");
    let failed = fx
        .projections
        .apply(1, &stock_event("A-1", 2, "StockAllocated", 2))
        .await;
    assert!(
        matches!(&failed, Err(e @ ProjectionError::Redis(_)) if e.is_retryable()),
        "{failed:?}"
    );
    let available: i64 = redis::cmd("HGET")
        .arg(&key)
        .arg("available")
        .query_async(&mut redis)
        .await
        .expect("HGET");
    assert_eq!(available, 5);
    fx.drop_all().await;
}

#[tokio::test]
async fn unknown_ids_are_answered_with_404_and_a_reason() {
    let fx = Fixture::new().await;
    let base = fx.serve().await;
    for path in ["/products/NOPE", "/orders/no-such-order", "/stock/NOPE"] {
        let response = reqwest::get(format!("{base}{path}"))
            .await
            .expect("HTTP answer");
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.expect("JSON body");
        assert_eq!(body["error"], "not_found", "{path}");
        assert!(body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("NOPE") || r.contains("no-such-order")));
    }
    fx.drop_all().await;
}

#[tokio::test]
async fn products_are_listed_by_category_one_page_at_a_time() {
    let fx = Fixture::new().await;
    for (sku, category) in [
        ("T-3", "tools"),
        ("G-1", "garden"),
        ("T-1", "tools"),
        ("T-2", "tools"),
    ] {
        fx.apply(&product_added(sku, category)).await;
    }
    let base = fx.serve().await;
    let page: Value = reqwest::get(format!("{base}/products?category=tools&limit=2&offset=1"))
        .await
        .expect("HTTP answer")
        .json()
        .await
        .expect("JSON body");
    let skus: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["sku"].as_str())
        .collect();
    assert_eq!(skus, ["T-2", "T-3"]);
    assert_eq!(
        (page["limit"].as_i64(), page["offset"].as_i64()),
        (Some(2), Some(1))
    );
    assert!(
        page["items"][0].get("_id").is_none(),
        "storage ids stay internal"
    );

    let stock: Value = reqwest::get(format!("{base}/stock/G-1"))
        .await
        .expect("HTTP answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        stock,
        json!({"sku": "G-1", "available": 0, "reserved": 0, "sold": 0})
    );
    for bad in ["limit=0", "limit=501", "limit=ten", "offset=-1"] {
        let response = reqwest::get(format!("{base}/products?{bad}"))
            .await
            .expect("HTTP answer");
        assert_eq!(response.status(), 400, "{bad}");
    }
    fx.drop_all().await;
}

#[tokio::test]
async fn user_events_build_one_profile_per_user_and_replays_change_nothing() {
    let fx = Fixture::new().await;
    let registered = json!({"user_id": "u-1", "email": "Ann@example.com", "name": "Ann"});
    let events = [
        user_event("u-1", 1, "UserRegistered", registered),
        user_event(
            "u-1",
            2,
            "ProfileUpdated",
            json!({"user_id": "u-1", "name": "Ann Lee"}),
        ),
        user_event("u-1", 3, "UserDeactivated", json!({"user_id": "u-1"})),
    ];
    // user_profile, user_summary and user_activity.
    for event in &events {
        assert_eq!(fx.apply(event).await, [Outcome::Applied; 3]);
    }
    let profile = fx.document("user_profile", "u-1").await;
    assert_eq!(profile.get_str("email"), Ok("Ann@example.com"));
    assert_eq!(profile.get_str("name"), Ok("Ann Lee"));
    assert_eq!(profile.get_bool("active"), Ok(false));
    assert_eq!(profile.get_i64("version"), Ok(3));
    let registered_at = profile
        .get_datetime("registered_at")
        .map(|d| d.timestamp_millis());
    assert_eq!(registered_at, Ok(events[0].occurred_at.timestamp_millis()));

    for event in &events {
        assert_eq!(fx.apply(event).await, [Outcome::AlreadyApplied; 3]);
    }
    assert_eq!(fx.document("user_profile", "u-1").await, profile);

    let base = fx.serve().await;
    let served: Value = reqwest::get(format!("{base}/users/u-1"))
        .await
        .expect("HTTP answer")
        .json()
        .await
        .expect("JSON body");
    assert_eq!(
        (served["name"].clone(), served["active"].clone()),
        (json!("Ann Lee"), json!(false))
    );
    assert!(
        served.get("_id").is_none() && served.get("version").is_none(),
        "{served}"
    );
    let unknown = reqwest::get(format!("{base}/users/NOPE"))
        .await
        .expect("HTTP answer");
    assert_eq!(unknown.status(), 404);
    fx.drop_all().await;
}

#[tokio::test]
async fn a_customers_orders_are_listed_newest_first_one_page_at_a_time() {
    let fx = Fixture::new().await;
    let start = Utc::now();
    for (order_id, customer_id, minutes) in [
        ("o-1", "c-1", 0),
        ("o-2", "c-2", 1),
        ("o-3", "c-1", 2),
        ("o-4", "c-1", 3),
    ] {
        let placed_at = start + Duration::minutes(minutes);
        fx.apply(&order_placed_at(order_id, customer_id, placed_at))
            .await;
    }
    let base = fx.serve().await;
    let ids = |page: &Value| -> Vec<String> {
        let items = page["items"].as_array().cloned().unwrap_or_default();
        items
            .iter()
            .filter_map(|o| o["order_id"].as_str().map(String::from))
            .collect()
    };
    let get = |query: &'static str| {
        let url = format!("{base}/customers/c-1/orders{query}");
        async move { reqwest::get(url).await.expect("HTTP answer") }
    };
    let all: Value = get("").await.json().await.expect("JSON body");
    assert_eq!(ids(&all), ["o-4", "o-3", "o-1"]);
    assert!(
        all["items"][0].get("_id").is_none(),
        "storage ids stay internal"
    );
    let page: Value = get("?limit=1&offset=1")
        .await
        .json()
        .await
        .expect("JSON body");
    assert_eq!(ids(&page), ["o-3"]);
    assert_eq!(
        (page["limit"].as_i64(), page["offset"].as_i64()),
        (Some(1), Some(1))
    );

    let unknown = reqwest::get(format!("{base}/customers/nobody/orders"))
        .await
        .expect("HTTP answer");
    assert_eq!(unknown.status(), 200);
    let body: Value = unknown.json().await.expect("JSON body");
    assert_eq!(body["items"], json!([]));
    for bad in ["?limit=0", "?limit=501", "?limit=ten", "?offset=-1"] {
        let response = get(bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.expect("JSON body");
        assert!(
            body["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{bad}: {body}"
        );
    }
    fx.drop_all().await;
}
