//! The secondary indexes of the read models, specified in
//! `projections/mongodb/indexes.json` (compiled in, so the binary and the spec cannot
//! drift apart) and created for the current version of each view at start-up, and for
//! a new version before a rebuild fills it. Creating an existing index is a no-op.

use mongodb::bson::Document;
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};
use serde::Deserialize;

const SPEC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../projections/mongodb/indexes.json"
));

#[derive(Debug, Deserialize)]
struct IndexFile {
    indexes: Vec<IndexSpec>,
}

/// One index. `keys` is read straight into a BSON document, which keeps the key
/// order of the file: for a compound index that order is the index.
#[derive(Debug, Deserialize)]
pub struct IndexSpec {
    pub collection: String,
    pub name: String,
    pub keys: Document,
}

/// The indexes of the spec file.
pub fn specs() -> Result<Vec<IndexSpec>, serde_json::Error> {
    Ok(serde_json::from_str::<IndexFile>(SPEC)?.indexes)
}

/// Creates the spec file's indexes of `version` of the collection `collection` (a
/// view's, or its memo's: `<collection>_v<version>`).
pub async fn ensure_for(
    db: &Database,
    collection: &str,
    version: u32,
) -> Result<(), mongodb::error::Error> {
    let specs = specs().map_err(|err| mongodb::error::Error::custom(err.to_string()))?;
    let view = collection;
    for spec in specs.into_iter().filter(|spec| spec.collection == view) {
        let model = IndexModel::builder()
            .keys(spec.keys)
            .options(IndexOptions::builder().name(spec.name.clone()).build())
            .build();
        db.collection::<Document>(&format!("{view}_v{version}"))
            .create_index(model)
            .await?;
        tracing::debug!(%view, version, index = %spec.name, "index ensured");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_is_on_a_collection_of_a_view() {
        let collections: Vec<&str> = crate::projector::View::ALL
            .iter()
            .flat_map(|view| view.collections().iter().copied())
            .collect();
        for spec in specs().expect("valid index spec") {
            assert!(collections.contains(&spec.collection.as_str()), "{spec:?}");
        }
    }

    #[test]
    fn the_spec_file_keeps_compound_key_order() {
        let specs = specs().expect("valid index spec");
        let orders = specs
            .iter()
            .find(|spec| spec.name == "customer_status_placed_at")
            .expect("an order_history index");
        let keys: Vec<&String> = orders.keys.keys().collect();
        assert_eq!(keys, ["customer_id", "status", "placed_at"]);
    }
}
