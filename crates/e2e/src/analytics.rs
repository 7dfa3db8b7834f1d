//! The analytics service in a test stack: its own database (`e2e_analytics_<id>`),
//! port 0, and the stack's feeds. Start it after the services whose feeds it reads
//! (inventory, order, user, and payment: [`TestStack::start_saga`] or
//! [`TestStack::start_payments`] first), so `FEED_URLS` names all four.

use std::time::Duration;

use platform::projection::RunnerSettings;
use serde_json::Value;

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
