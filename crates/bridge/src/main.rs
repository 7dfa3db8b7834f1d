//! The NATS bridge binary: settings from the environment, run until a signal.

use anyhow::Context;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init_tracing(bridge::SERVICE);
    let settings = bridge::Settings::from_env()?;
    tracing::info!(?settings, "starting NATS bridge");
    let application = bridge::build(settings)
        .await
        .context("NATS bridge failed to start")?;
    tracing::info!(port = application.port(), "NATS bridge ready");
    application.run_until(platform::shutdown::signal()).await?;
    tracing::info!("NATS bridge stopped");
    Ok(())
}
