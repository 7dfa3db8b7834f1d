//! The catalogue: `product_list`, `stock_levels` (the Redis hashes and their MongoDB
//! mirror) and `category_tree`.

use chrono::{DateTime, Utc};
use mongodb::bson::{doc, Document};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bson_datetime, page, Slice, ViewError};
use crate::store::{ReadStore, CATEGORY_TREE, PRODUCT_LIST, STOCK_LEVELS};

/// A `product_list` document. Description fields are optional because stock events
/// create the document too, should they ever come first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductView {
    pub sku: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub price_cents: Option<i64>,
    #[serde(default)]
    pub available: i64,
    #[serde(default)]
    pub reserved: i64,
    #[serde(default)]
    pub sold: i64,
    pub version: i64,
    #[serde(deserialize_with = "bson_datetime")]
    pub updated_at: DateTime<Utc>,
}

/// A product's stock: the Redis hash `stock:{sku}` (`GET /stock/{sku}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StockView {
    pub sku: String,
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
}

/// A product's stock from the MongoDB mirror of `stock_levels`, as of `updated_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockLevelView {
    pub sku: String,
    #[serde(default)]
    pub available: i64,
    #[serde(default)]
    pub reserved: i64,
    #[serde(default)]
    pub sold: i64,
    #[serde(deserialize_with = "bson_datetime")]
    pub updated_at: DateTime<Utc>,
}

/// A `category_tree` document: a category and what it holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CategoryView {
    #[schema(example = "kitchen/mugs")]
    pub name: String,
    /// The category path up to its last `/`; none for a top-level category.
    #[serde(default)]
    #[schema(example = "kitchen")]
    pub parent: Option<String>,
    /// How many products are in it.
    #[serde(default)]
    pub products: i64,
    /// Their skus, sorted.
    #[serde(default)]
    pub skus: Vec<String>,
    /// Units available, summed over its products.
    #[serde(default)]
    pub units_available: i64,
}

pub async fn product(store: &ReadStore, sku: &str) -> Result<Option<ProductView>, ViewError> {
    let products = store.current::<ProductView>(PRODUCT_LIST).await?;
    Ok(products.find_one(doc! {"_id": sku}).await?)
}

/// A page of products, optionally of one category, in sku order.
pub async fn products(
    store: &ReadStore,
    category: Option<&str>,
    slice: Slice,
) -> Result<Vec<ProductView>, ViewError> {
    let filter = match category {
        Some(category) => doc! {"category": category},
        None => Document::new(),
    };
    let products = store.current::<ProductView>(PRODUCT_LIST).await?;
    Ok(page(products, filter, doc! {"sku": 1}, slice).await?)
}

/// The stock levels of `sku` from Redis, or `None` when no event ever created its hash.
pub async fn stock(store: &ReadStore, sku: &str) -> Result<Option<StockView>, ViewError> {
    let version = store.current_version(STOCK_LEVELS).await?;
    let mut redis = store.redis.clone();
    let fields: std::collections::HashMap<String, i64> = redis::cmd("HGETALL")
        .arg(store.stock_key(version, sku))
        .query_async(&mut redis)
        .await?;
    if fields.is_empty() {
        return Ok(None);
    }
    let field = |name: &str| fields.get(name).copied().unwrap_or(0);
    Ok(Some(StockView {
        sku: sku.to_string(),
        available: field("available"),
        reserved: field("reserved"),
        sold: field("sold"),
    }))
}

/// The stock levels of `sku` from the MongoDB mirror.
pub async fn stock_level(
    store: &ReadStore,
    sku: &str,
) -> Result<Option<StockLevelView>, ViewError> {
    let levels = store.current::<StockLevelView>(STOCK_LEVELS).await?;
    Ok(levels.find_one(doc! {"_id": sku}).await?)
}

/// A page of stock levels, lowest available first (then by sku), optionally only those
/// with at most `max_available` units (index `available_sku`).
pub async fn stock_levels(
    store: &ReadStore,
    max_available: Option<i64>,
    slice: Slice,
) -> Result<Vec<StockLevelView>, ViewError> {
    let filter = match max_available {
        Some(max) => doc! {"available": {"$lte": max}},
        None => Document::new(),
    };
    let levels = store.current::<StockLevelView>(STOCK_LEVELS).await?;
    let sort = doc! {"available": 1, "sku": 1};
    Ok(page(levels, filter, sort, slice).await?)
}

pub async fn category(store: &ReadStore, name: &str) -> Result<Option<CategoryView>, ViewError> {
    let categories = store.current::<CategoryView>(CATEGORY_TREE).await?;
    let found = categories.find_one(doc! {"_id": name}).await?;
    Ok(found.map(CategoryView::sorted))
}

/// A page of categories by name, optionally the children of `parent` (index
/// `parent_name`).
pub async fn categories(
    store: &ReadStore,
    parent: Option<&str>,
    slice: Slice,
) -> Result<Vec<CategoryView>, ViewError> {
    let filter = match parent {
        Some(parent) => doc! {"parent": parent},
        None => Document::new(),
    };
    let categories = store.current::<CategoryView>(CATEGORY_TREE).await?;
    let found = page(categories, filter, doc! {"_id": 1}, slice).await?;
    Ok(found.into_iter().map(CategoryView::sorted).collect())
}

impl CategoryView {
    /// Skus are stored in the order they joined.
    fn sorted(mut self) -> Self {
        self.skus.sort();
        self
    }
}
