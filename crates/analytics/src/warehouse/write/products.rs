//! A page's product events folded into the `product_dimension` rows they leave, so the
//! page writes them in two statements (one update of the rows it found, one insert of
//! the rows it opened) instead of a read and a write or two per event. Pure.
//!
//! The fold starts from the current row of each sku the page names, as stored, and
//! takes the events in page order, deciding each with [`crate::scd`] against the row
//! the events before it left: what the events applied one by one would leave.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::events::{ProductAdded, ProductUpdated};
use crate::scd::{self, Change, CurrentRow, ScdError, Terms};

/// A row of `product_dimension`, as stored or as the page leaves it; current while
/// `valid_to` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRow {
    /// The stored row's key; `None` for a row the page opens.
    pub product_key: Option<i64>,
    pub sku: String,
    pub name: String,
    pub terms: Terms,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// The rows a page's product events touch, as they leave them.
#[derive(Debug, Default)]
pub struct ProductRows {
    rows: Vec<ProductRow>,
    /// The index of each sku's current row.
    current: HashMap<String, usize>,
    /// Stored rows the page changed (by index).
    changed: Vec<usize>,
}

impl ProductRows {
    /// Starts from the stored current rows of the page's skus.
    pub fn new(stored: Vec<ProductRow>) -> Self {
        let mut rows = Self::default();
        for row in stored {
            rows.current.insert(row.sku.clone(), rows.rows.len());
            rows.rows.push(row);
        }
        rows
    }

    /// `ProductAdded`: a sku's first row, unless the sku is known.
    pub fn added(&mut self, added: &ProductAdded, at: DateTime<Utc>) {
        let current = self
            .current
            .get(&added.sku)
            .map(|&index| self.as_current(index));
        if let Change::Open { at } = scd::on_added(current.as_ref(), at) {
            let terms = Terms {
                price_cents: added.price_cents,
                category: added.category.clone(),
            };
            self.open(&added.sku, added.name.clone(), terms, at);
        }
    }

    /// `ProductUpdated`: the current row corrected, or closed and followed by another.
    pub fn updated(&mut self, updated: &ProductUpdated, at: DateTime<Utc>) -> Result<(), ScdError> {
        let terms = Terms {
            price_cents: updated.price_cents,
            category: updated.category.clone(),
        };
        let index = self.current.get(&updated.sku).copied();
        let current = index.map(|index| self.as_current(index));
        match (
            index,
            scd::on_updated(&updated.sku, current.as_ref(), &terms, at)?,
        ) {
            (Some(index), Change::Correct) => self.touch(index).terms = terms,
            (Some(index), Change::NewVersion { at }) => {
                self.touch(index).valid_to = Some(at);
                let name = self.rows[index].name.clone();
                self.open(&updated.sku, name, terms, at);
            }
            _ => {}
        }
        Ok(())
    }

    /// The stored rows the page changed, as it leaves them.
    pub fn changed(&self) -> impl Iterator<Item = &ProductRow> {
        self.changed.iter().map(|&index| &self.rows[index])
    }

    /// The rows the page opened, in the order it opened them.
    pub fn opened(&self) -> impl Iterator<Item = &ProductRow> {
        self.rows.iter().filter(|row| row.product_key.is_none())
    }

    /// The skus whose rows the page changed or opened, each once.
    pub fn touched_skus(&self) -> Vec<&str> {
        let mut skus: Vec<&str> = (self.changed().chain(self.opened()))
            .map(|row| row.sku.as_str())
            .collect();
        skus.sort_unstable();
        skus.dedup();
        skus
    }

    fn as_current(&self, index: usize) -> CurrentRow {
        let row = &self.rows[index];
        CurrentRow {
            price_cents: row.terms.price_cents,
            category: row.terms.category.clone(),
            valid_from: row.valid_from,
        }
    }

    fn open(&mut self, sku: &str, name: String, terms: Terms, at: DateTime<Utc>) {
        self.current.insert(sku.to_string(), self.rows.len());
        self.rows.push(ProductRow {
            product_key: None,
            sku: sku.to_string(),
            name,
            terms,
            valid_from: at,
            valid_to: None,
        });
    }

    /// The row at `index`, marked as changed when it is a stored one.
    fn touch(&mut self, index: usize) -> &mut ProductRow {
        if self.rows[index].product_key.is_some() && !self.changed.contains(&index) {
            self.changed.push(index);
        }
        &mut self.rows[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an instant")
    }

    fn terms(price_cents: i64, category: &str) -> Terms {
        Terms {
            price_cents,
            category: category.into(),
        }
    }

    fn stored_mug() -> ProductRow {
        ProductRow {
            product_key: Some(7),
            sku: "MUG".into(),
            name: "Mug".into(),
            terms: terms(500, "kitchen"),
            valid_from: at("2026-01-01T00:00:00Z"),
            valid_to: None,
        }
    }

    fn update(sku: &str, price_cents: i64, category: &str) -> ProductUpdated {
        ProductUpdated {
            sku: sku.into(),
            price_cents,
            category: category.into(),
        }
    }

    #[test]
    fn given_a_stored_row_when_the_price_changes_twice_then_it_closes_and_two_rows_follow() {
        let mut rows = ProductRows::new(vec![stored_mug()]);
        let (first, second) = (at("2026-02-01T00:00:00Z"), at("2026-03-01T00:00:00Z"));
        rows.updated(&update("MUG", 600, "kitchen"), first)
            .expect("known");
        rows.updated(&update("MUG", 700, "kitchen"), second)
            .expect("known");

        let changed: Vec<&ProductRow> = rows.changed().collect();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].valid_to, Some(first));
        let opened: Vec<(i64, DateTime<Utc>, Option<DateTime<Utc>>)> = rows
            .opened()
            .map(|r| (r.terms.price_cents, r.valid_from, r.valid_to))
            .collect();
        assert_eq!(opened, [(600, first, Some(second)), (700, second, None)]);
        assert!(rows.opened().all(|row| row.name == "Mug"));
    }

    #[test]
    fn given_a_product_added_in_the_page_when_it_is_corrected_at_its_start_then_one_row_opens() {
        let mut rows = ProductRows::new(Vec::new());
        let start = at("2026-01-01T00:00:00Z");
        let added = ProductAdded {
            sku: "HOSE".into(),
            name: "Hose".into(),
            category: "garden".into(),
            price_cents: 1000,
        };
        rows.added(&added, start);
        rows.added(&added, at("2026-01-02T00:00:00Z"));
        rows.updated(&update("HOSE", 900, "garden"), start)
            .expect("known");

        assert_eq!(rows.changed().count(), 0);
        let opened: Vec<&ProductRow> = rows.opened().collect();
        assert_eq!(opened.len(), 1);
        assert_eq!(
            (opened[0].terms.price_cents, opened[0].valid_to),
            (900, None)
        );
        assert_eq!(rows.touched_skus(), ["HOSE"]);
    }

    #[test]
    fn given_a_stored_row_when_the_same_terms_arrive_then_nothing_is_touched() {
        let mut rows = ProductRows::new(vec![stored_mug()]);
        rows.updated(&update("MUG", 500, "kitchen"), at("2026-02-01T00:00:00Z"))
            .expect("known");
        assert!(rows.touched_skus().is_empty());
    }

    #[test]
    fn given_no_row_when_a_product_is_updated_then_the_page_is_refused() {
        let mut rows = ProductRows::new(vec![stored_mug()]);
        let refused = rows.updated(&update("NOPE", 1, "x"), at("2026-02-01T00:00:00Z"));
        assert_eq!(refused, Err(ScdError::UnknownProduct("NOPE".into())));
    }
}
