//! The MongoDB view `category_tree`: one document per category (`_id` its name) with
//! its `parent` (the name up to its last `/`, if any), `products` (how many), `skus`
//! and `units_available` (summed over its products).
//!
//! A product moves category on `ProductUpdated`, and its stock moves on every stock
//! event, but those events name only the sku: the view's memo (`category_tree_skus`)
//! remembers each sku's category and units available. An event is turned into a change
//! of the sku's placement (category, units), and the placement's difference into
//! counter moves on the categories concerned: out of the old one, into the new one. Each
//! move is guarded by the feed position (see [`super::guard`]), the memo written last.

use mongodb::bson::{doc, Document};
use serde::Deserialize;

use super::events::ProductEvent;
use super::guard::{apply_once, either, Applying, Memo};
use super::Outcome;
use crate::store::{CATEGORY_TREE, CATEGORY_TREE_SKUS};

/// Where a sku stands: its category (none before its description) and units available.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Placement {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub available: i64,
}

impl Placement {
    /// The placement once `event` is applied.
    pub fn after(&self, event: &ProductEvent) -> Placement {
        let category = match event {
            ProductEvent::ProductAdded(added) => Some(added.category.clone()),
            ProductEvent::ProductUpdated(updated) => Some(updated.category.clone()),
            _ => self.category.clone(),
        };
        Placement {
            category,
            available: self.available + event.stock_delta().available,
        }
    }
}

/// A change to one category document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryMove {
    pub category: String,
    /// +1 when the sku joins, -1 when it leaves, 0 when only its units move.
    pub products: i64,
    pub units: i64,
}

/// The category moves that take a sku from `before` to `after`: none when nothing
/// counted changes.
pub fn moves(before: &Placement, after: &Placement) -> Vec<CategoryMove> {
    if before.category == after.category {
        let units = after.available - before.available;
        return match &after.category {
            Some(category) if units != 0 => vec![CategoryMove {
                category: category.clone(),
                products: 0,
                units,
            }],
            _ => Vec::new(),
        };
    }
    let leave = before.category.as_ref().map(|category| CategoryMove {
        category: category.clone(),
        products: -1,
        units: -before.available,
    });
    let join = after.category.as_ref().map(|category| CategoryMove {
        category: category.clone(),
        products: 1,
        units: after.available,
    });
    leave.into_iter().chain(join).collect()
}

/// The parent of a category path: `kitchen` for `kitchen/mugs`.
pub fn parent(category: &str) -> Option<&str> {
    category.rsplit_once('/').map(|(parent, _)| parent)
}

/// Applies a product event to `category_tree`.
pub async fn apply(
    event: &Applying<'_>,
    product: &ProductEvent,
) -> Result<Outcome, mongodb::error::Error> {
    let memo = Memo::of(event, CATEGORY_TREE_SKUS);
    let (before, version) = memo
        .get::<Placement>(product.sku())
        .await?
        .unwrap_or_default();
    if Memo::done(version, event) {
        return Ok(Outcome::AlreadyApplied);
    }
    let after = before.after(product);
    let categories = event.collection(CATEGORY_TREE);
    let mut outcomes = Vec::new();
    for change in moves(&before, &after) {
        let update = move_update(&change, product.sku());
        let upsert = change.products >= 0;
        outcomes.push(apply_once(&categories, &change.category, event, update, upsert).await?);
    }
    let fields = doc! {"category": after.category.clone(), "available": after.available};
    outcomes.push(memo.save(event, fields).await?);
    Ok(either(outcomes))
}

/// The update of one category document. Every counter is written on every change, so
/// a document looks the same whichever change created it.
fn move_update(change: &CategoryMove, sku: &str) -> Document {
    let inc = doc! {"products": change.products, "units_available": change.units};
    let set = doc! {"name": &change.category, "parent": parent(&change.category)};
    match change.products {
        1 => doc! {"$inc": inc, "$set": set, "$addToSet": {"skus": sku}},
        -1 => doc! {"$inc": inc, "$set": set, "$pull": {"skus": sku}},
        _ => doc! {"$inc": inc, "$set": set},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projector::events::{AllocationMoved, ProductUpdated, StockAdded};

    fn placed(category: &str, available: i64) -> Placement {
        Placement {
            category: Some(category.into()),
            available,
        }
    }

    #[test]
    fn stock_moves_only_the_units_of_the_category() {
        let before = placed("tools", 5);
        let allocated = ProductEvent::StockAllocated(AllocationMoved {
            sku: "A".into(),
            order_id: "o".into(),
            quantity: 2,
        });
        let after = before.after(&allocated);
        let expected = CategoryMove {
            category: "tools".into(),
            products: 0,
            units: -2,
        };
        assert_eq!(moves(&before, &after), [expected]);
    }

    #[test]
    fn a_category_change_takes_the_product_and_its_units_along() {
        let before = placed("tools", 7);
        let updated = ProductEvent::ProductUpdated(ProductUpdated {
            sku: "A".into(),
            price_cents: 100,
            category: "garden".into(),
        });
        let changes = moves(&before, &before.after(&updated));
        let units: Vec<(&str, i64, i64)> = changes
            .iter()
            .map(|c| (c.category.as_str(), c.products, c.units))
            .collect();
        assert_eq!(units, [("tools", -1, -7), ("garden", 1, 7)]);
        let same = ProductEvent::ProductUpdated(ProductUpdated {
            sku: "A".into(),
            price_cents: 200,
            category: "tools".into(),
        });
        assert!(moves(&before, &before.after(&same)).is_empty());
    }

    #[test]
    fn stock_before_a_description_is_kept_until_the_product_joins_a_category() {
        let stocked = ProductEvent::StockAdded(StockAdded {
            sku: "A".into(),
            quantity: 3,
        });
        let before = Placement::default().after(&stocked);
        assert!(moves(&Placement::default(), &before).is_empty());
        assert_eq!(before.available, 3);
        assert_eq!(parent("kitchen/mugs"), Some("kitchen"));
        assert_eq!(parent("kitchen"), None);
    }
}
