//! The analytics service in a test stack: its own database (`e2e_analytics_<id>`),
//! port 0, and the stack's feeds. Start it after the services whose feeds it reads
//! (inventory, order, user, and payment: [`TestStack::start_saga`] or
//! [`TestStack::start_payments`] first), so `FEED_URLS` names all four.

use std::time::Duration;

use analytics::book::{current_version, PgBook};
use analytics::warehouse::{PROJECTION, SOURCES};
use mongodb::bson::doc;
use platform::projection::{Bookkeeping, RunnerSettings};
use serde_json::Value;

use crate::views::Snapshot;
use crate::{servers, TestStack};

impl TestStack {
    /// Creates the analytics database and starts the service in-process; its API then
    /// answers through [`Self::analytics`].
    pub async fn start_analytics(&mut self) -> anyhow::Result<()> {
        let name = format!("e2e_analytics_{}", self.id);
        let database_url = servers::create_database(&name).await?;
        self.analytics_database = Some(name);
        let service = analytics::build(analytics::Settings {
            access: platform::access::AccessSettings::default(),
            database_url,
            pool_size: 5,
            http_addr: "127.0.0.1:0".into(),
            broker: self.broker(),
            feed_urls: self.feed_urls_setting(),
            runner: RunnerSettings {
                poll: Duration::from_millis(200),
                drop_grace: Duration::from_millis(500),
                ..RunnerSettings::default()
            },
            refresh: Duration::from_millis(100),
        })
        .await?;
        let port = service.port();
        self.analytics_url = format!("http://127.0.0.1:{port}");
        self.spawn(service.run_until(self.shutdown.clone().cancelled_owned()));
        self.healthy(port).await
    }

    /// The analytics database, to read the star schema's tables directly.
    pub fn analytics_database_url(&self) -> Option<String> {
        let name = self.analytics_database.as_ref()?;
        Some(format!("postgres://postgres@127.0.0.1:5432/{name}"))
    }

    /// `GET` on the analytics API: status and JSON body.
    pub async fn analytics(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.get_url(&format!("{}{path}", self.analytics_url)).await
    }
}

/// Each relation of a star-schema version as rows of JSON (`{s}`: the version's
/// schema), surrogate keys left out or replaced by the natural keys they stand for: a
/// sequence value drawn by a transaction that rolled back (a process killed
/// mid-page) is never used again, so a live version and its rebuild may number the
/// same customer or product row differently and still hold the same facts.
const OLAP_RELATIONS: &[(&str, &str)] = &[
    (
        "time_dimension",
        "SELECT to_jsonb(t) FROM {s}.time_dimension t",
    ),
    (
        "customer_dimension",
        "SELECT to_jsonb(t) - 'customer_key' FROM {s}.customer_dimension t",
    ),
    (
        "product_dimension",
        "SELECT to_jsonb(t) - 'product_key' FROM {s}.product_dimension t",
    ),
    ("order_stage", "SELECT to_jsonb(t) FROM {s}.order_stage t"),
    (
        "sales_fact",
        "SELECT to_jsonb(f) - 'customer_key' - 'product_key' \
         || jsonb_build_object('customer_id', c.customer_id, 'product_from', p.valid_from) \
         FROM {s}.sales_fact f JOIN {s}.customer_dimension c USING (customer_key) \
         LEFT JOIN {s}.product_dimension p USING (product_key)",
    ),
    ("refund_fact", "SELECT to_jsonb(t) FROM {s}.refund_fact t"),
    (
        "user_activity_fact",
        "SELECT to_jsonb(f) - 'customer_key' || jsonb_build_object('customer_id', c.customer_id) \
         FROM {s}.user_activity_fact f JOIN {s}.customer_dimension c USING (customer_key)",
    ),
    (
        "monthly_sales_cube",
        "SELECT to_jsonb(t) FROM {s}.monthly_sales_cube t",
    ),
    (
        "customer_ltv_analysis",
        "SELECT to_jsonb(t) - 'customer_key' FROM {s}.customer_ltv_analysis t",
    ),
    (
        "product_sales_cube",
        "SELECT to_jsonb(t) FROM {s}.product_sales_cube t",
    ),
];

impl TestStack {
    /// The star schema's current version, relation by relation (as `olap:<relation>`),
    /// each row as one JSON text in a document, sorted; empty without the analytics
    /// service.
    pub async fn olap_snapshot(&self) -> anyhow::Result<Snapshot> {
        let mut snapshot = Snapshot::new();
        let Some(url) = self.analytics_database_url() else {
            return Ok(snapshot);
        };
        let pool = sqlx::PgPool::connect(&url).await?;
        let schema = format!("olap_v{}", current_version(&pool, PROJECTION).await?);
        for (relation, select) in OLAP_RELATIONS {
            let select = select.replace("{s}", &schema);
            let rows: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT r::text FROM ({select}) AS q(r) ORDER BY 1"
            ))
            .fetch_all(&pool)
            .await?;
            let rows = rows.into_iter().map(|row| doc! {"row": row}).collect();
            snapshot.insert(format!("olap:{relation}"), rows);
        }
        pool.close().await;
        Ok(snapshot)
    }

    /// Whether the star schema's current version has applied all its feeds show
    /// (always, without the analytics service).
    pub(crate) async fn olap_caught_up(&self) -> anyhow::Result<bool> {
        let Some(url) = self.analytics_database_url() else {
            return Ok(true);
        };
        let pool = sqlx::PgPool::connect(&url).await?;
        let book = PgBook::new(pool.clone());
        let caught_up = match book.current_version(PROJECTION).await {
            Ok(version) => self.read_to_end(&book, PROJECTION, version, SOURCES).await,
            Err(err) => Err(err.into()),
        };
        pool.close().await;
        caught_up
    }
}
