//! Slowly changing dimension, type 2, for products: the decisions, pure.
//!
//! `product_dimension` keeps one row per period of a product's terms (price and
//! category): `valid_from` inclusive, `valid_to` exclusive (`NULL` while current),
//! `is_current` on the last one. A change closes the current row at the change's
//! instant and opens a new one from it, so the periods of a sku are contiguous and a
//! sale at instant `t` belongs to exactly one row: the last one starting at or before
//! `t`. The name is not part of the history (no event changes it).
//!
//! The inventory feed delivers a product's events in order, so these decisions only
//! ever see the current row; sales from the order feed may arrive before or after a
//! change and are keyed to their row afterwards (see `warehouse::write`).

use chrono::{DateTime, Utc};

/// The row of a sku that is current now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRow {
    pub price_cents: i64,
    pub category: String,
    pub valid_from: DateTime<Utc>,
}

/// New terms for a product, from `ProductUpdated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub price_cents: i64,
    pub category: String,
}

/// What a product event does to the dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing: the terms are the current ones (or the product is already known).
    Unchanged,
    /// The first row of a sku, open from `at`.
    Open { at: DateTime<Utc> },
    /// Close the current row at `at` and open a row with the new terms from `at`.
    NewVersion { at: DateTime<Utc> },
    /// The change is stamped no later than the current row's start (clocks of two
    /// transactions in the same instant): a period of no length would never hold a
    /// sale, so the current row takes the new terms instead.
    Correct,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScdError {
    #[error("product {0} is updated before it was added")]
    UnknownProduct(String),
}

/// `ProductAdded`: the first row of a sku; a sku already known keeps its history.
pub fn on_added(current: Option<&CurrentRow>, at: DateTime<Utc>) -> Change {
    match current {
        Some(_) => Change::Unchanged,
        None => Change::Open { at },
    }
}

/// `ProductUpdated`: a new row when the price or the category differs.
pub fn on_updated(
    sku: &str,
    current: Option<&CurrentRow>,
    terms: &Terms,
    at: DateTime<Utc>,
) -> Result<Change, ScdError> {
    let current = current.ok_or_else(|| ScdError::UnknownProduct(sku.to_string()))?;
    if current.price_cents == terms.price_cents && current.category == terms.category {
        return Ok(Change::Unchanged);
    }
    if at <= current.valid_from {
        return Ok(Change::Correct);
    }
    Ok(Change::NewVersion { at })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-01-10T12:00:00Z".parse().expect("an instant")
    }

    fn current() -> CurrentRow {
        CurrentRow {
            price_cents: 1299,
            category: "kitchen".into(),
            valid_from: t0(),
        }
    }

    fn terms(price_cents: i64, category: &str) -> Terms {
        Terms {
            price_cents,
            category: category.into(),
        }
    }

    #[test]
    fn given_no_row_when_a_product_is_added_then_its_first_row_opens() {
        assert_eq!(on_added(None, t0()), Change::Open { at: t0() });
    }

    #[test]
    fn given_a_row_when_the_product_is_added_again_then_its_history_stays() {
        assert_eq!(on_added(Some(&current()), t0()), Change::Unchanged);
    }

    #[test]
    fn given_a_row_when_the_price_changes_then_a_new_version_opens_at_the_change() {
        let at = t0() + Duration::days(3);
        let change = on_updated("MUG-1", Some(&current()), &terms(1499, "kitchen"), at);
        assert_eq!(change, Ok(Change::NewVersion { at }));
    }

    #[test]
    fn given_a_row_when_the_category_changes_then_a_new_version_opens() {
        let at = t0() + Duration::seconds(1);
        let change = on_updated("MUG-1", Some(&current()), &terms(1299, "gifts"), at);
        assert_eq!(change, Ok(Change::NewVersion { at }));
    }

    #[test]
    fn given_a_row_when_the_same_terms_arrive_then_nothing_changes() {
        let at = t0() + Duration::days(1);
        let change = on_updated("MUG-1", Some(&current()), &terms(1299, "kitchen"), at);
        assert_eq!(change, Ok(Change::Unchanged));
    }

    #[test]
    fn given_a_row_when_a_change_is_stamped_at_its_start_then_the_row_is_corrected() {
        let change = on_updated("MUG-1", Some(&current()), &terms(999, "kitchen"), t0());
        assert_eq!(change, Ok(Change::Correct));
    }

    #[test]
    fn given_no_row_when_a_product_is_updated_then_the_update_is_refused() {
        let change = on_updated("NOPE", None, &terms(1, "x"), t0());
        assert_eq!(change, Err(ScdError::UnknownProduct("NOPE".into())));
    }
}
