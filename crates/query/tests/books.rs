//! Where each view's bookkeeping lives, against the real MongoDB and Redis: a view
//! kept in Redis alone keeps its checkpoints and current version in Redis, so they go
//! when Redis loses its data and the view is rebuilt from the feeds' beginning; the
//! other views keep theirs in MongoDB. Queries read the version the books promoted.

mod support;

use mongodb::bson::{doc, Document};
use platform::projection::Bookkeeping;
use platform::store::Cursor;
use query::projector::{redis::delete_matching, ViewBook};
use query::store::{CHECKPOINTS, ORDER_DETAILS, ORDER_STATUS};

use support::{get, order_of, Fixture};

const AT: Cursor = Cursor {
    tx_id: 12,
    position: 34,
};

async fn mongo_checkpoints(fx: &Fixture) -> u64 {
    fx.store
        .db
        .collection::<Document>(CHECKPOINTS)
        .count_documents(doc! {})
        .await
        .expect("MongoDB answers")
}

#[tokio::test]
async fn a_view_kept_in_redis_alone_keeps_its_books_in_redis_and_loses_them_with_its_keys() {
    let fx = Fixture::new().await;
    let book = ViewBook::new(fx.store.clone());
    book.save_checkpoint(ORDER_STATUS, 2, "order", AT)
        .await
        .expect("checkpoint saved");
    book.promote(ORDER_STATUS, 2).await.expect("promoted");
    assert_eq!(
        book.checkpoint(ORDER_STATUS, 2, "order").await.ok(),
        Some(AT)
    );
    assert_eq!(book.current_version(ORDER_STATUS).await.ok(), Some(2));
    assert_eq!(mongo_checkpoints(&fx).await, 0, "nothing in MongoDB");

    // Redis loses everything under the prefix, as in a FLUSHALL.
    delete_matching(&fx.store.redis, &format!("{}*", fx.key_prefix()))
        .await
        .expect("keys deleted");
    let after = book.checkpoint(ORDER_STATUS, 2, "order").await.ok();
    assert_eq!(after, Some(Cursor::default()), "read again from the start");
    assert_eq!(book.current_version(ORDER_STATUS).await.ok(), Some(1));
    fx.drop_all().await;
}

#[tokio::test]
async fn a_mongodb_view_keeps_its_books_in_mongodb() {
    let fx = Fixture::new().await;
    let book = ViewBook::new(fx.store.clone());
    book.save_checkpoint(ORDER_DETAILS, 1, "order", AT)
        .await
        .expect("checkpoint saved");
    assert_eq!(mongo_checkpoints(&fx).await, 1);
    assert_eq!(
        book.checkpoint(ORDER_DETAILS, 1, "order").await.ok(),
        Some(AT)
    );
    book.clear_checkpoints(ORDER_DETAILS, 1)
        .await
        .expect("cleared");
    assert_eq!(mongo_checkpoints(&fx).await, 0);
    fx.drop_all().await;
}

#[tokio::test]
async fn the_status_route_reads_the_version_the_redis_books_made_current() {
    let fx = Fixture::new().await;
    let book = ViewBook::new(fx.store.clone());
    fx.apply_to(2, &order_of("o9", "c9", &[("A", 1, 100)]))
        .await;
    let base = fx.serve().await;
    let (status, _) = get(&base, "/orders/o9/status").await;
    assert_eq!(status, 404, "version 1 is current and holds nothing");
    book.promote(ORDER_STATUS, 2).await.expect("promoted");
    let (status, body) = get(&base, "/orders/o9/status").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("placed")));
    fx.drop_all().await;
}
