//! The payment side of a test stack, started on demand: the payment service, the
//! payment-provider simulator and the NATS bridge, on a JetStream stream and subject
//! prefix of the stack's own (NATS has no vhosts), removed when the stack stops.

use std::time::Duration;

use platform::nats::NatsSettings;

use crate::{servers, TestStack};

/// NATS on loopback, with JetStream.
pub const NATS_URL: &str = "nats://127.0.0.1:4222";

impl TestStack {
    /// Starts the provider and the bridge (so the bridge's queue exists before the first
    /// payment request is published), then the payment service.
    pub async fn start_payments(&mut self) -> anyhow::Result<()> {
        self.start_payment_gateway().await?;
        let url = self.payment_database().await?;
        self.start_payment_service(&url).await
    }

    /// The provider simulator and the NATS bridge, without the payment service.
    pub async fn start_payment_gateway(&mut self) -> anyhow::Result<()> {
        let nats = NatsSettings {
            url: self.servers.nats_url.clone(),
            stream: format!("E2E_{}", self.id.to_uppercase()),
            subject_prefix: format!("e2e{}", self.id),
        };
        self.nats = Some(nats.clone());
        let provider = provider::build(provider::Settings {
            access: platform::access::AccessSettings::default(),
            http_addr: "127.0.0.1:0".into(),
            delay: Duration::from_millis(50),
            concurrency: 8,
            nats: nats.clone(),
        })
        .await?;
        let bridge = bridge::build(bridge::Settings {
            access: platform::access::AccessSettings::default(),
            http_addr: "127.0.0.1:0".into(),
            to_nats_keys: bridge::settings::split_keys(bridge::settings::DEFAULT_TO_NATS_KEYS),
            nats,
            broker: self.broker(),
        })
        .await?;
        let ports = [provider.port(), bridge.port()];
        self.spawn(provider.run_until(self.shutdown.clone().cancelled_owned()));
        self.spawn(bridge.run_until(self.shutdown.clone().cancelled_owned()));
        for port in ports {
            self.healthy(port).await?;
        }
        Ok(())
    }

    /// The JetStream stream and subject prefix of this stack, once the payment gateway
    /// started: for a provider or bridge run as a child process beside it.
    pub fn nats_settings(&self) -> Option<&NatsSettings> {
        self.nats.as_ref()
    }

    /// Waits, up to `limit`, until the payment gateway's JetStream consumers (the
    /// provider's and the bridge's) hold no message undelivered or unacknowledged; at
    /// once when the stack has no gateway. A webhook pulled by a bridge that then lost
    /// RabbitMQ, or was killed, is redelivered only after the ack wait (30 s): until
    /// then the provider's answer it carries is still on its way to the payment store.
    pub async fn payment_gateway_drained(&self, limit: Duration) -> anyhow::Result<()> {
        let Some(nats) = &self.nats else {
            return Ok(());
        };
        let js = async_nats::jetstream::new(async_nats::connect(&nats.url).await?);
        self.eventually_within("the payment gateway drained", limit, || async {
            // The provider first: it acks a request once its webhook is stored, so a
            // webhook it answered since shows on the bridge's consumer.
            let stream = js.get_stream(&nats.stream).await?;
            for consumer in [provider::simulator::CONSUMER, bridge::webhooks::CONSUMER] {
                let info = stream.consumer_info(consumer).await?;
                let (pending, unacked) = (info.num_pending, info.num_ack_pending);
                anyhow::ensure!(
                    pending == 0 && unacked == 0,
                    "{consumer}: {pending} pending, {unacked} unacknowledged"
                );
            }
            Ok(())
        })
        .await
    }

    /// Creates the payment service's database (once) and returns its URL.
    pub async fn payment_database(&mut self) -> anyhow::Result<String> {
        let name = format!("e2e_payment_{}", self.id);
        if self.payment_database.is_none() {
            servers::create_database(&name).await?;
            self.payment_database = Some(name.clone());
        }
        Ok(format!("postgres://postgres@127.0.0.1:5432/{name}"))
    }

    async fn start_payment_service(&mut self, url: &str) -> anyhow::Result<()> {
        let payment = payment::build(payment::Settings {
            service: self.service_settings(url),
            policy: Default::default(),
        })
        .await?;
        let port = payment.port();
        self.add_feed("payment", port);
        self.spawn(payment.run_until(self.shutdown.clone().cancelled_owned()));
        self.healthy(port).await
    }

    /// Removes what [`Self::start_payments`] created.
    pub(crate) async fn stop_payments(&mut self) -> anyhow::Result<()> {
        if let Some(database) = self.payment_database.take() {
            servers::drop_database(&database).await?;
        }
        if let Some(nats) = self.nats.take() {
            let client = async_nats::connect(&nats.url).await?;
            async_nats::jetstream::new(client)
                .delete_stream(&nats.stream)
                .await?;
        }
        Ok(())
    }
}
