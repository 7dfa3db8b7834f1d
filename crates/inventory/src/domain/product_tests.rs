//! Given/when/then tests of products: given the product's events, when a command is
//! handled, then these events (or this error).

use cqrs_es::test::TestFramework;

use super::*;

type ProductTest = TestFramework<Product>;

fn added(sku: &str) -> ProductEvent {
    ProductEvent::ProductAdded {
        sku: sku.into(),
        name: "Mug".into(),
        category: "kitchen".into(),
        price_cents: 1299,
    }
}

fn add(sku: &str, price_cents: i64) -> ProductCommand {
    ProductCommand::AddProduct {
        sku: sku.into(),
        name: "Mug".into(),
        category: "kitchen".into(),
        price_cents,
    }
}

#[test]
fn a_new_product_is_added() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(add("MUG-1", 1299))
        .then_expect_events(vec![added("MUG-1")]);
}

#[test]
fn a_sku_cannot_be_added_twice() {
    ProductTest::with(())
        .given(vec![added("MUG-1")])
        .when(add("MUG-1", 1299))
        .then_expect_error(InventoryError::ProductAlreadyExists("MUG-1".into()));
}

#[test]
fn a_price_cannot_be_negative() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(add("MUG-1", -1))
        .then_expect_error(InventoryError::NegativePrice);
}

#[test]
fn a_product_needs_a_name() {
    let command = ProductCommand::AddProduct {
        sku: "MUG-1".into(),
        name: " ".into(),
        category: "kitchen".into(),
        price_cents: 1,
    };
    ProductTest::with(())
        .given_no_previous_events()
        .when(command)
        .then_expect_error(InventoryError::MissingProductDetails);
}

#[test]
fn stock_is_added_to_a_known_product() {
    ProductTest::with(())
        .given(vec![added("MUG-1")])
        .when(ProductCommand::AddStock {
            sku: "MUG-1".into(),
            quantity: 5,
        })
        .then_expect_events(vec![ProductEvent::StockAdded {
            sku: "MUG-1".into(),
            quantity: 5,
        }]);
}

#[test]
fn stock_cannot_be_added_to_an_unknown_product() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(ProductCommand::AddStock {
            sku: "NOPE".into(),
            quantity: 5,
        })
        .then_expect_error(InventoryError::UnknownProduct("NOPE".into()));
}

#[test]
fn stock_that_could_no_longer_be_counted_is_refused() {
    let stocked = |quantity| ProductEvent::StockAdded {
        sku: "MUG-1".into(),
        quantity,
    };
    let allocated = ProductEvent::StockAllocated {
        sku: "MUG-1".into(),
        order_id: "o1".into(),
        quantity: 1,
    };
    // Allocated units count too: releasing them must still fit in `available`.
    ProductTest::with(())
        .given(vec![added("MUG-1"), stocked(u64::MAX - 1), allocated])
        .when(ProductCommand::AddStock {
            sku: "MUG-1".into(),
            quantity: 2,
        })
        .then_expect_error(InventoryError::QuantityOverflow);
}

#[test]
fn zero_stock_cannot_be_added() {
    ProductTest::with(())
        .given(vec![added("MUG-1")])
        .when(ProductCommand::AddStock {
            sku: "MUG-1".into(),
            quantity: 0,
        })
        .then_expect_error(InventoryError::InvalidQuantity);
}

#[test]
fn an_allocation_moves_stock_from_available_to_the_order() {
    let mut product = Product::default();
    product.apply(added("MUG-1"));
    product.apply(ProductEvent::StockAdded {
        sku: "MUG-1".into(),
        quantity: 5,
    });
    product.apply(ProductEvent::StockAllocated {
        sku: "MUG-1".into(),
        order_id: "o1".into(),
        quantity: 3,
    });
    assert_eq!((product.available, product.allocated_to("o1")), (2, 3));
    product.apply(ProductEvent::AllocationCommitted {
        sku: "MUG-1".into(),
        order_id: "o1".into(),
        quantity: 3,
    });
    assert_eq!(
        (product.available, product.allocated_to("o1"), product.sold),
        (2, 0, 3)
    );
}

fn update(sku: &str, price_cents: Option<i64>, category: Option<&str>) -> ProductCommand {
    ProductCommand::UpdateProduct {
        sku: sku.into(),
        price_cents,
        category: category.map(Into::into),
    }
}

fn updated(sku: &str, price_cents: i64, category: &str) -> ProductEvent {
    ProductEvent::ProductUpdated {
        sku: sku.into(),
        price_cents,
        category: category.into(),
    }
}

#[test]
fn a_new_price_keeps_the_category() {
    ProductTest::with(())
        .given(vec![added("MUG-1")])
        .when(update("MUG-1", Some(1499), None))
        .then_expect_events(vec![updated("MUG-1", 1499, "kitchen")]);
}

#[test]
fn a_new_category_keeps_the_price_of_the_last_update() {
    ProductTest::with(())
        .given(vec![added("MUG-1"), updated("MUG-1", 1499, "kitchen")])
        .when(update("MUG-1", None, Some("gifts")))
        .then_expect_events(vec![updated("MUG-1", 1499, "gifts")]);
}

#[test]
fn an_update_that_changes_nothing_appends_nothing() {
    ProductTest::with(())
        .given(vec![added("MUG-1"), updated("MUG-1", 1499, "gifts")])
        .when(update("MUG-1", Some(1499), Some("gifts")))
        .then_expect_events(vec![]);
}

#[test]
fn an_unknown_product_cannot_be_updated() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(update("NOPE", Some(1), None))
        .then_expect_error(InventoryError::UnknownProduct("NOPE".into()));
}

#[test]
fn an_update_must_name_a_price_or_a_category() {
    ProductTest::with(())
        .given(vec![added("MUG-1")])
        .when(update("MUG-1", None, None))
        .then_expect_error(InventoryError::NothingToUpdate);
}

#[test]
fn an_updated_price_cannot_be_negative() {
    ProductTest::with(())
        .given(vec![added("MUG-1")])
        .when(update("MUG-1", Some(-5), None))
        .then_expect_error(InventoryError::NegativePrice);
}

#[test]
fn an_updated_category_cannot_be_blank() {
    ProductTest::with(())
        .given(vec![added("MUG-1")])
        .when(update("MUG-1", None, Some("  ")))
        .then_expect_error(InventoryError::MissingProductDetails);
}
