//! The order views against the real MongoDB and Redis: `order_history` (by customer,
//! by status), and the Redis views `order_status`, `best_sellers` (confirmed orders
//! only, a cancellation after confirmation taken back out) and `recent_orders` (the
//! newest 20 per customer, whatever order they come in); their routes; idempotence.

mod support;

use chrono::{Duration, Utc};
use platform::envelope::EventEnvelope;
use serde_json::{json, Value};

use support::{get, order_cancelled, order_confirmed, order_of, Fixture};

/// An `OrderPlaced` placed `minutes` after a fixed start, so the newest is known.
fn placed(
    order_id: &str,
    customer: &str,
    lines: &[(&str, u64, i64)],
    minutes: i64,
) -> EventEnvelope {
    let mut event = order_of(order_id, customer, lines);
    event.occurred_at = Utc::now() - Duration::days(1) + Duration::minutes(minutes);
    event
}

/// o1 and o4 confirmed and standing, o2 cancelled after its confirmation, o3 placed
/// only, o5 cancelled before any confirmation.
fn orders() -> Vec<EventEnvelope> {
    vec![
        placed("o1", "c1", &[("A", 3, 100), ("B", 1, 250)], 1),
        placed("o2", "c2", &[("B", 2, 250)], 2),
        order_confirmed("o1", 2),
        placed("o3", "c1", &[("C", 5, 10)], 3),
        order_confirmed("o2", 2),
        placed("o4", "c1", &[("A", 1, 100)], 4),
        order_cancelled("o2", 3, "refused at commit"),
        order_confirmed("o4", 2),
        placed("o5", "c2", &[("B", 4, 250)], 5),
        order_cancelled("o5", 2, "payment declined"),
    ]
}

fn ids(page: &Value, field: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item[field].as_str().map(String::from))
        .collect()
}

#[tokio::test]
async fn the_ranking_counts_standing_confirmed_orders_and_replays_change_nothing() {
    let fx = Fixture::new().await;
    let events = orders();
    fx.apply_all(&events).await;
    let ranking_key = fx.store.best_sellers_key(1);
    assert_eq!(
        fx.ranking(&ranking_key).await,
        [("A".into(), 4), ("B".into(), 1)]
    );

    let before = fx.snapshot(1).await;
    assert!(
        before.contains_key("best_sellers:order:o3"),
        "{:?}",
        before.keys()
    );
    let o2 = &before["order_status:o2"];
    for field in ["customer_id=c2", "status=cancelled", "version=3"] {
        assert!(o2.contains(&field.to_string()), "{o2:?}");
    }
    fx.apply_all(&events).await;
    support::assert_same(&fx.snapshot(1).await, &before, "applied twice");
    fx.drop_all().await;
}

#[tokio::test]
async fn recent_orders_keep_the_newest_twenty_whatever_order_they_come_in() {
    let fx = Fixture::new().await;
    // Applied in an order unrelated to when they were placed.
    let shuffled: Vec<usize> = (0..25).map(|i| (i * 7) % 25).collect();
    for i in &shuffled {
        let id = format!("o{i:02}");
        fx.apply(&placed(&id, "c9", &[("A", 1, 5)], *i as i64))
            .await;
    }
    let base = fx.serve().await;
    let (status, page) = get(&base, "/customers/c9/recent-orders").await;
    assert_eq!(status, 200);
    let expected: Vec<String> = (5..25).rev().map(|i| format!("o{i:02}")).collect();
    assert_eq!(ids(&page, "order_id"), expected);
    let (_, second) = get(&base, "/customers/c9/recent-orders?limit=2&offset=1").await;
    assert_eq!(ids(&second, "order_id"), ["o23", "o22"]);
    let (_, nobody) = get(&base, "/customers/nobody/recent-orders").await;
    assert_eq!(nobody["items"], json!([]));
    fx.drop_all().await;
}

#[tokio::test]
async fn order_routes_serve_status_history_ranking_and_refuse_bad_parameters() {
    let fx = Fixture::new().await;
    let events = orders();
    fx.apply_all(&events).await;
    let base = fx.serve().await;

    let (status, o2) = get(&base, "/orders/o2/status").await;
    assert_eq!(status, 200);
    let updated_at = events[6].occurred_at.timestamp_millis();
    assert_eq!(o2["status"], "cancelled");
    assert_eq!(o2["customer_id"], "c2");
    let served = chrono::DateTime::parse_from_rfc3339(o2["updated_at"].as_str().unwrap_or(""))
        .map(|t| t.timestamp_millis());
    assert_eq!(served, Ok(updated_at));

    let (_, history) = get(&base, "/customers/c1/orders").await;
    assert_eq!(ids(&history, "order_id"), ["o4", "o3", "o1"]);
    let (_, confirmed) = get(
        &base,
        "/customers/c1/orders?status=confirmed&limit=1&offset=1",
    )
    .await;
    assert_eq!(ids(&confirmed, "order_id"), ["o1"]);
    assert_eq!(
        confirmed["items"][0]["lines"][0]["sku"], "A",
        "the route keeps its contract"
    );

    let (_, ranking) = get(&base, "/rankings/best-sellers").await;
    let ranked: Vec<(u64, String, i64)> = ranking["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((
                r["rank"].as_u64()?,
                r["sku"].as_str()?.into(),
                r["units_sold"].as_i64()?,
            ))
        })
        .collect();
    assert_eq!(ranked, [(1, "A".into(), 4), (2, "B".into(), 1)]);
    let (_, second) = get(&base, "/rankings/best-sellers?limit=1&offset=1").await;
    assert_eq!(
        (
            second["items"][0]["rank"].clone(),
            second["items"][0]["sku"].clone()
        ),
        (json!(2), json!("B"))
    );

    for (path, expected) in [
        ("/orders/nope/status", 404),
        ("/customers/c1/orders?status=lost", 400),
        ("/rankings/best-sellers?limit=501", 400),
        ("/customers/c1/recent-orders?offset=x", 400),
    ] {
        let (status, body) = get(&base, path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(
            body["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{path}"
        );
    }
    fx.drop_all().await;
}

/// The Redis entries of a snapshot (the MongoDB collections left out).
fn redis_only(
    snapshot: std::collections::BTreeMap<String, Vec<String>>,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let collections: Vec<&str> = query::projector::View::ALL
        .iter()
        .flat_map(|v| v.collections().iter().copied())
        .collect();
    snapshot
        .into_iter()
        .filter(|(name, _)| !collections.contains(&name.as_str()))
        .collect()
}

/// Applies `events` one by one to version 1 of the Redis order views, in pages of
/// `page` to version 2 (then all again), and in two overlapping pages to version 3,
/// and checks the three alike.
async fn assert_pages_leave_what_events_one_by_one_leave(
    fx: &Fixture,
    events: &[EventEnvelope],
    page: usize,
) -> Vec<platform::feed::FeedEvent> {
    use platform::feed::FeedEvent;
    use platform::store::Cursor;
    use query::projector::View;

    fx.apply_all(events).await;
    let feed: Vec<FeedEvent> = events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let cursor = Cursor {
                tx_id: 1,
                position: i as i64 + 1,
            };
            FeedEvent::from_envelope(cursor, event.clone())
        })
        .collect();
    for view in [View::OrderStatus, View::BestSellers, View::RecentOrders] {
        for page in feed.chunks(page) {
            let batched = fx.projections.apply_redis_page(view, 2, page).await;
            assert!(batched.expect("page applied"), "{view:?} takes pages");
        }
        // Applied again, as after a crash before the checkpoint: nothing moves.
        let again = fx.projections.apply_redis_page(view, 2, &feed).await;
        assert!(again.expect("page applied again"));
    }
    // Pages cut elsewhere over a version that holds part of them already, as when a
    // page was half applied before a crash and the feed grew before it came again.
    for view in [View::OrderStatus, View::BestSellers, View::RecentOrders] {
        for page in [&feed[..5], &feed[2..]] {
            let batched = fx.projections.apply_redis_page(view, 3, page).await;
            assert!(batched.expect("page applied"));
        }
    }
    let one_by_one = redis_only(fx.snapshot(1).await);
    assert!(one_by_one.contains_key("best_sellers"), "{one_by_one:?}");
    support::assert_same(&redis_only(fx.snapshot(2).await), &one_by_one, "pipelined");
    support::assert_same(
        &redis_only(fx.snapshot(3).await),
        &one_by_one,
        "overlapping",
    );
    feed
}

#[tokio::test]
async fn pages_applied_in_one_pipeline_leave_what_events_applied_one_by_one_leave() {
    use query::projector::View;

    let fx = Fixture::new().await;
    let feed = assert_pages_leave_what_events_one_by_one_leave(&fx, &orders(), 3).await;
    let mongo_view = fx
        .projections
        .apply_redis_page(View::OrderDetails, 2, &feed)
        .await;
    assert!(
        !mongo_view.expect("no error"),
        "a MongoDB view has no such path"
    );
    fx.drop_all().await;
}

/// More orders than one script call takes, from more customers than one call takes:
/// a page is then several calls.
#[tokio::test]
async fn a_page_of_more_orders_than_one_call_takes_is_applied_whole() {
    let calls = query::projector::redis_orders::ORDERS_PER_CALL;
    let mut events = Vec::new();
    for n in 0..calls * 2 + 7 {
        let (order, customer) = (format!("o{n}"), format!("c{}", n % (calls + 3)));
        let sku = ["A", "B", "C"][n % 3];
        events.push(placed(
            &order,
            &customer,
            &[(sku, 1 + n as u64 % 4, 100)],
            n as i64,
        ));
        events.push(match n % 3 {
            0 => order_cancelled(&order, 2, "payment declined"),
            _ => order_confirmed(&order, 2),
        });
    }
    let fx = Fixture::new().await;
    assert_pages_leave_what_events_one_by_one_leave(&fx, &events, events.len()).await;
    fx.drop_all().await;
}
