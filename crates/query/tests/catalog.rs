//! The catalogue's views against the real MongoDB and Redis: `category_tree` (products
//! moving category, units following their stock), the MongoDB mirror of `stock_levels`,
//! `product_list` taking `ProductUpdated`, their routes, and idempotence (every event
//! applied again, and a crash between a category's writes and its memo's).

mod support;

use mongodb::bson::{doc, Document};
use query::projector::View;
use serde_json::{json, Value};

use support::{get, product_in, product_updated, stock_event, Fixture};

/// Two categories, a product moving from one to the other, stock in and out.
fn catalogue() -> Vec<platform::envelope::EventEnvelope> {
    vec![
        product_in("A", "kitchen/mugs"),
        product_in("B", "kitchen/mugs"),
        product_in("C", "garden"),
        stock_event("A", 2, "StockAdded", 10),
        stock_event("B", 2, "StockAdded", 4),
        stock_event("A", 3, "StockAllocated", 3),
        stock_event("A", 4, "AllocationCommitted", 3),
        product_updated("B", 3, "garden", 900),
        stock_event("C", 2, "StockAdded", 1),
        stock_event("B", 4, "StockAllocated", 1),
        stock_event("B", 5, "AllocationReleased", 1),
    ]
}

/// `(products, skus, units_available, parent)` of a category document.
fn counts(category: &Document) -> (i64, Vec<String>, i64, Option<String>) {
    let mut skus: Vec<String> = category
        .get_array("skus")
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    skus.sort();
    (
        category.get_i64("products").unwrap_or(-1),
        skus,
        category.get_i64("units_available").unwrap_or(-1),
        category.get_str("parent").ok().map(String::from),
    )
}

#[tokio::test]
async fn categories_count_their_products_and_units_and_follow_a_product_that_moves() {
    let fx = Fixture::new().await;
    fx.apply_all(&catalogue()).await;

    let mugs = counts(&fx.document("category_tree", "kitchen/mugs").await);
    assert_eq!(mugs, (1, vec!["A".into()], 7, Some("kitchen".into())));
    let garden = counts(&fx.document("category_tree", "garden").await);
    assert_eq!(garden, (2, vec!["B".into(), "C".into()], 5, None));

    let moved = fx.document("product_list", "B").await;
    assert_eq!(moved.get_str("category"), Ok("garden"));
    assert_eq!(moved.get_i64("price_cents"), Ok(900));
    let mirror = fx.document("stock_levels", "A").await;
    let levels = ["available", "reserved", "sold"].map(|f| mirror.get_i64(f).ok());
    assert_eq!(levels, [Some(7), Some(0), Some(3)]);

    let before = fx.snapshot(1).await;
    fx.apply_all(&catalogue()).await;
    support::assert_same(&fx.snapshot(1).await, &before, "applied twice");
    fx.drop_all().await;
}

#[tokio::test]
async fn a_crash_between_a_moves_writes_and_its_memo_is_mended_by_the_page_applied_again() {
    let fx = Fixture::new().await;
    fx.apply_all(&[
        product_in("A", "tools"),
        stock_event("A", 2, "StockAdded", 5),
    ])
    .await;
    let memo = fx.document("category_tree_skus", "A").await;
    let moved = product_updated("A", 3, "garden", 100);
    fx.apply(&moved).await;
    let after = fx.snapshot(1).await;

    // The crash: `tools` lost the product, but `garden` never got it and the memo
    // still says `tools`.
    let db = &fx.store.db;
    let garden = db.collection::<Document>("category_tree_v1");
    garden
        .delete_one(doc! {"_id": "garden"})
        .await
        .expect("deleted");
    let memos = db.collection::<Document>("category_tree_skus_v1");
    memos
        .replace_one(doc! {"_id": "A"}, memo)
        .await
        .expect("restored");
    assert_ne!(fx.snapshot(1).await, after);

    fx.apply(&moved).await;
    support::assert_same(&fx.snapshot(1).await, &after, "mended");
    let tools = counts(&fx.document("category_tree", "tools").await);
    assert_eq!(tools, (0, vec![], 0, None));
    fx.drop_all().await;
}

#[tokio::test]
async fn categories_and_stock_levels_are_served_a_page_at_a_time() {
    let fx = Fixture::new().await;
    fx.apply_all(&catalogue()).await;
    fx.apply(&product_in("D", "kitchen/pans")).await;
    let base = fx.serve().await;

    let (status, all) = get(&base, "/categories").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = all["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["garden", "kitchen/mugs", "kitchen/pans"]);
    let (_, children) = get(&base, "/categories?parent=kitchen&limit=1&offset=1").await;
    assert_eq!(children["items"][0]["name"], "kitchen/pans");
    assert_eq!(
        (children["limit"].clone(), children["offset"].clone()),
        (json!(1), json!(1))
    );

    let (status, garden) = get(&base, "/categories/garden").await;
    assert_eq!(status, 200);
    assert_eq!(
        garden,
        json!({"name": "garden", "parent": null, "products": 2, "skus": ["B", "C"],
               "units_available": 5})
    );
    let (status, mugs) = get(&base, "/categories/kitchen%2Fmugs").await;
    assert_eq!((status, mugs["units_available"].clone()), (200, json!(7)));

    let (status, low) = get(&base, "/stock-levels?max_available=5").await;
    assert_eq!(status, 200);
    let skus: Vec<(&str, i64)> = low["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| Some((l["sku"].as_str()?, l["available"].as_i64()?)))
        .collect();
    assert_eq!(skus, [("D", 0), ("C", 1), ("B", 4)]);
    let (status, level) = get(&base, "/stock-levels/A").await;
    assert_eq!(status, 200);
    assert_eq!(
        (level["available"].clone(), level["sold"].clone()),
        (json!(7), json!(3))
    );
    assert!(
        level.get("_id").is_none() && level.get("version").is_none(),
        "{level}"
    );

    for (path, expected) in [
        ("/categories/nothing", 404),
        ("/stock-levels/NOPE", 404),
        ("/stock-levels?max_available=few", 400),
        ("/categories?limit=0", 400),
        ("/stock-levels?offset=-2", 400),
    ] {
        let (status, body): (u16, Value) = get(&base, path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(
            body["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{path}"
        );
    }
    fx.drop_all().await;
}

#[tokio::test]
async fn dropping_a_version_removes_its_collections_memos_and_redis_keys() {
    let fx = Fixture::new().await;
    fx.apply_all(&catalogue()).await;
    for view in [View::CategoryTree, View::StockLevels] {
        fx.projections.reset_view(view, 1).await.expect("dropped");
    }
    for collection in ["category_tree", "category_tree_skus", "stock_levels"] {
        assert!(fx.documents(collection, 1).await.is_empty(), "{collection}");
    }
    assert!(fx.stock_hash("A").await.is_empty());
    assert!(
        !fx.documents("product_list", 1).await.is_empty(),
        "other views stay"
    );
    fx.drop_all().await;
}
