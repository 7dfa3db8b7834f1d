//! The query API as a whole: `/openapi.json` documents every route the service serves
//! (and only those), and every list refuses a bad page with a reason.

mod support;

use serde_json::Value;

use support::{get, Fixture};

/// Every route of the query service (GET unless said), as the OpenAPI document names it.
const ROUTES: [&str; 27] = [
    "/products",
    "/products/{sku}",
    "/stock/{sku}",
    "/stock-levels",
    "/stock-levels/{sku}",
    "/categories",
    "/categories/{name}",
    "/orders/{order_id}",
    "/orders/{order_id}/status",
    "/customers/{customer_id}/orders",
    "/customers/{customer_id}/recent-orders",
    "/rankings/best-sellers",
    "/payments/{order_id}",
    "/users/{user_id}",
    "/users/{user_id}/summary",
    "/users/{user_id}/activity",
    "/notifications/{notification_id}",
    "/templates",
    "/templates/{name}",
    "/channels",
    "/channels/{name}",
    "/openapi.json",
    "/health",
    "/metrics",
    "/projections",
    "/projections/{name}",
    "/projections/{name}/rebuild",
];

/// The routes answering a list.
const LISTS: [&str; 10] = [
    "/products",
    "/stock-levels",
    "/categories",
    "/customers/c/orders",
    "/customers/c/recent-orders",
    "/rankings/best-sellers",
    "/users/u/activity",
    "/templates",
    "/channels",
    "/customers/c/orders?status=placed",
];

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_each_documented_route_answers() {
    let fx = Fixture::new().await;
    let base = fx.serve().await;
    let (status, document) = get(&base, "/openapi.json").await;
    assert_eq!(status, 200);
    let paths: Vec<&String> = document["paths"]
        .as_object()
        .map(|p| p.keys().collect())
        .unwrap_or_default();
    let mut expected: Vec<&str> = ROUTES.to_vec();
    expected.sort_unstable();
    let mut documented: Vec<&str> = paths.iter().map(|p| p.as_str()).collect();
    documented.sort_unstable();
    assert_eq!(documented, expected);
    for schema in [
        "CategoryView",
        "UserSummaryView",
        "PaymentView",
        "ChannelView",
        "ErrorBody",
    ] {
        assert!(
            document["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }

    // The projections' routes are merged by `query::build`, not by `app`.
    for path in documented.iter().filter(|p| !p.starts_with("/projections")) {
        let concrete = path.replace(['{', '}'], "");
        let response = reqwest::get(format!("{base}{concrete}"))
            .await
            .expect("HTTP answer");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        // An unrouted path answers 404 with an empty body; an unknown id, with a reason.
        assert!(
            status != 404 || text.contains("reason"),
            "{path}: {status} {text:?}"
        );
    }
    fx.drop_all().await;
}

#[tokio::test]
async fn every_list_refuses_a_bad_page_with_a_reason() {
    let fx = Fixture::new().await;
    let base = fx.serve().await;
    for list in LISTS {
        let join = if list.contains('?') { '&' } else { '?' };
        let (status, page) = get(&base, list).await;
        assert_eq!(
            (status, page["limit"].clone(), page["offset"].clone()),
            (200, Value::from(50), Value::from(0)),
            "{list}"
        );
        for bad in ["limit=0", "limit=501", "limit=ten", "offset=-1"] {
            let (status, body) = get(&base, &format!("{list}{join}{bad}")).await;
            assert_eq!(status, 400, "{list} {bad}");
            assert_eq!(body["error"], "bad_request", "{list} {bad}");
            assert!(
                body["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "{list} {bad}"
            );
        }
    }
    fx.drop_all().await;
}
