//! The user views against the real MongoDB: `user_summary` (profile from the user feed,
//! counters from the order feed, whichever comes first) and `user_activity` (the
//! user's events and their orders' events, newest first); their routes; idempotence.

mod support;

use chrono::{Duration, Utc};
use platform::envelope::EventEnvelope;
use serde_json::{json, Value};

use support::{assert_same, get, order_cancelled, order_confirmed, order_of, user_event, Fixture};

/// Ann registers, renames herself, places four orders (one confirmed, one cancelled
/// after its confirmation, one cancelled at once, one pending), then leaves.
fn history() -> (Vec<EventEnvelope>, Vec<EventEnvelope>) {
    let start = Utc::now() - Duration::hours(1);
    let registered = json!({"user_id": "ann", "email": "ann@example.com", "name": "Ann"});
    let mut users = vec![
        user_event("ann", 1, "UserRegistered", registered),
        user_event(
            "ann",
            2,
            "ProfileUpdated",
            json!({"user_id": "ann", "name": "Ann Lee"}),
        ),
        user_event("ann", 3, "UserDeactivated", json!({"user_id": "ann"})),
    ];
    let mut orders = vec![
        order_of("o1", "ann", &[("A", 1, 500)]),
        order_confirmed("o1", 2),
        order_of("o2", "ann", &[("B", 3, 100)]),
        order_confirmed("o2", 2),
        order_cancelled("o2", 3, "refused at commit"),
        order_of("o3", "ann", &[("C", 1, 200)]),
        order_cancelled("o3", 2, "payment declined"),
        order_of("o4", "ann", &[("D", 1, 100)]),
    ];
    // A minute apart, registration first, so "newest first" is known.
    for (i, event) in users
        .iter_mut()
        .take(2)
        .chain(orders.iter_mut())
        .enumerate()
    {
        event.occurred_at = start + Duration::minutes(i as i64);
    }
    users[2].occurred_at = start + Duration::minutes(30);
    (users, orders)
}

#[tokio::test]
async fn a_summary_counts_orders_by_status_whichever_feed_comes_first() {
    let fx = Fixture::new().await;
    let (users, orders) = history();
    for event in users.iter().chain(&orders) {
        fx.apply_to(1, event).await;
    }
    // Version 2: the order feed read before the user feed.
    for event in orders.iter().chain(&users) {
        fx.apply_to(2, event).await;
    }
    let summary = fx.document("user_summary", "ann").await;
    let counters = [
        "orders_placed",
        "orders_confirmed",
        "orders_cancelled",
        "total_spent_cents",
    ]
    .map(|f| summary.get_i64(f).ok());
    assert_eq!(counters, [Some(4), Some(1), Some(2), Some(500)]);
    assert_eq!(summary.get_str("name"), Ok("Ann Lee"));
    assert_eq!(summary.get_bool("active"), Ok(false));
    assert_same(
        &fx.snapshot(1).await,
        &fx.snapshot(2).await,
        "feeds read in another order",
    );

    let before = fx.snapshot(1).await;
    for event in users.iter().chain(&orders) {
        fx.apply_to(1, event).await;
    }
    assert_same(&fx.snapshot(1).await, &before, "applied twice");
    fx.drop_all().await;
}

fn kinds(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str().map(String::from))
        .collect()
}

#[tokio::test]
async fn activity_and_summary_are_served_newest_first_with_filters() {
    let fx = Fixture::new().await;
    let (users, orders) = history();
    fx.apply_all(&users).await;
    fx.apply_all(&orders).await;
    fx.apply(&order_of("o9", "bob", &[("A", 1, 1)])).await;
    let base = fx.serve().await;

    let (status, summary) = get(&base, "/users/ann/summary").await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            summary["orders_placed"].clone(),
            summary["total_spent_cents"].clone(),
            summary["email"].clone()
        ),
        (json!(4), json!(500), json!("ann@example.com"))
    );
    assert!(
        summary.get("cursors").is_none() && summary.get("_id").is_none(),
        "{summary}"
    );
    let (status, bob) = get(&base, "/users/bob/summary").await;
    assert_eq!(
        (status, bob["name"].clone(), bob["orders_placed"].clone()),
        (200, json!(null), json!(1))
    );

    let (status, activity) = get(&base, "/users/ann/activity").await;
    assert_eq!(status, 200);
    assert_eq!(
        kinds(&activity),
        [
            "user_deactivated",
            "order_placed",
            "order_cancelled",
            "order_placed",
            "order_cancelled",
            "order_confirmed",
            "order_placed",
            "order_confirmed",
            "order_placed",
            "profile_updated",
            "user_registered",
        ]
    );
    assert_eq!(
        activity["items"][2]["details"],
        json!({"order_id": "o3", "reason": "payment declined"})
    );
    assert_eq!(
        activity["items"][2]["event_id"],
        json!(orders[6].event_id.to_string())
    );
    let (_, placed) = get(
        &base,
        "/users/ann/activity?kind=order_placed&limit=2&offset=1",
    )
    .await;
    let ids: Vec<&str> = placed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["order_id"].as_str())
        .collect();
    assert_eq!(ids, ["o3", "o2"]);
    assert_eq!(placed["items"][0]["details"]["units"], 1);

    for (path, expected) in [
        ("/users/nobody/summary", 404),
        ("/users/ann/activity?kind=login", 400),
        ("/users/ann/activity?limit=0", 400),
    ] {
        let (status, body) = get(&base, path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(
            body["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{path}"
        );
    }
    let (_, nobody) = get(&base, "/users/nobody/activity").await;
    assert_eq!(nobody["items"], json!([]));
    fx.drop_all().await;
}
