//! The history's own guarantees: reproducible, gap-free numbering, stock never negative.

use super::*;

fn product_events(history: &History) -> Vec<ProductEvent> {
    let appends = history.transactions.iter().flat_map(|t| &t.appends);
    appends
        .filter(|a| a.aggregate_type == "Product")
        .flat_map(|a| &a.events)
        .map(|e| serde_json::from_value(e.payload.clone()).expect("a product event"))
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_history_of_about_the_size_asked() {
    let (one, two) = (
        generate(3_000, 7).expect("one"),
        generate(3_000, 7).expect("two"),
    );
    assert_eq!(one.total_events(), two.total_events());
    assert_eq!(one.transactions.len(), two.transactions.len());
    assert!((3_000..3_100).contains(&one.total_events()));
    assert!(Service::ALL.iter().all(|s| one.events(*s) > 0));
    assert!(!one.sales.is_empty());
}

#[test]
fn every_aggregate_is_numbered_from_one_without_gaps() {
    let history = generate(2_000, 1).expect("history");
    let mut last: HashMap<(String, String), usize> = HashMap::new();
    for append in history.transactions.iter().flat_map(|t| &t.appends) {
        let key = (append.aggregate_type.clone(), append.aggregate_id.clone());
        let sequence = last.entry(key).or_default();
        for event in &append.events {
            assert_eq!(event.sequence, *sequence + 1, "{}", append.aggregate_id);
            *sequence = event.sequence;
        }
    }
}

#[test]
fn stock_never_goes_negative() {
    let history = generate(4_000, 3).expect("history");
    let mut available: HashMap<String, i64> = HashMap::new();
    for event in product_events(&history) {
        let (sku, delta) = match event {
            ProductEvent::StockAdded { sku, quantity }
            | ProductEvent::AllocationReleased { sku, quantity, .. } => (sku, quantity as i64),
            ProductEvent::StockAllocated { sku, quantity, .. } => (sku, -(quantity as i64)),
            _ => continue,
        };
        let stock = available.entry(sku.clone()).or_default();
        *stock += delta;
        assert!(*stock >= 0, "{sku} went negative");
    }
}
