//! The schemas of the projection's versions: created on first use, dropped when a
//! version is replaced.
//!
//! The DDL (`sql/star_schema.sql`, `sql/cubes.sql`) is written for a placeholder
//! schema name and is idempotent; creating a version runs it in one transaction under
//! an advisory lock, so two processes (or a pass and a rebuild) creating the same
//! version wait for each other instead of failing on a half-made schema.

use std::collections::HashSet;
use std::sync::Mutex;

use sqlx::{Executor, PgPool};

const STAR_SCHEMA: &str = include_str!("../../sql/star_schema.sql");
const CUBES: &str = include_str!("../../sql/cubes.sql");
const PLACEHOLDER: &str = "__SCHEMA__";
/// Taken while a version's schema is created or dropped (any stable number will do).
const DDL_LOCK: i64 = 0x0A7A_1C5D;

/// The schema of `version`: `olap_v<n>`. Only ever built from a number, so it is safe
/// to put in SQL text.
pub fn schema_name(version: u32) -> String {
    format!("olap_v{version}")
}

/// Puts `version`'s schema into a SQL template.
pub fn sql_for(template: &str, version: u32) -> String {
    template.replace(PLACEHOLDER, &schema_name(version))
}

/// The versions whose schema this process knows to exist, so the DDL runs once each.
#[derive(Debug, Default)]
pub struct Schemas {
    created: Mutex<HashSet<u32>>,
}

impl Schemas {
    fn known(&self, version: u32) -> bool {
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&version)
    }

    fn remember(&self, version: u32, exists: bool) {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        if exists {
            created.insert(version);
        } else {
            created.remove(&version);
        }
    }

    /// Creates `version`'s tables, views and cubes unless they already exist.
    pub async fn ensure(&self, pool: &PgPool, version: u32) -> Result<(), sqlx::Error> {
        if self.known(version) {
            return Ok(());
        }
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(DDL_LOCK)
            .execute(&mut *tx)
            .await?;
        // Notices of "already exists, skipping" are expected and not worth logging.
        tx.execute("SET LOCAL client_min_messages = warning")
            .await?;
        let ddl = format!(
            "{}\n{}",
            sql_for(STAR_SCHEMA, version),
            sql_for(CUBES, version)
        );
        // Several statements: sent as one simple query, which takes no parameters.
        tx.execute(ddl.as_str()).await?;
        tx.commit().await?;
        self.remember(version, true);
        Ok(())
    }

    /// Drops `version`'s schema with everything in it.
    pub async fn remove(&self, pool: &PgPool, version: u32) -> Result<(), sqlx::Error> {
        self.remember(version, false);
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(DDL_LOCK)
            .execute(&mut *tx)
            .await?;
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", schema_name(version));
        tx.execute(drop.as_str()).await?;
        tx.commit().await
    }

    /// Forgets `version`, so the next use checks the database again (after an error
    /// that says its schema is gone, say).
    pub fn forget(&self, version: u32) {
        self.remember(version, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_s_schema_is_named_after_its_number() {
        assert_eq!(schema_name(3), "olap_v3");
        assert_eq!(
            sql_for("SELECT * FROM __SCHEMA__.sales_fact", 12),
            "SELECT * FROM olap_v12.sales_fact"
        );
    }

    #[test]
    fn the_templates_name_no_schema_but_their_own() {
        for template in [STAR_SCHEMA, CUBES] {
            let rendered = sql_for(template, 1);
            assert!(!rendered.contains(PLACEHOLDER));
            assert!(!rendered.contains("public."));
        }
    }
}
