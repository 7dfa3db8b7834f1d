//! The inventory service binary: settings from the environment, run until a signal.

use anyhow::Context;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init_tracing(inventory::SERVICE);
    let settings = inventory::settings_from_env().context("invalid configuration")?;
    tracing::info!(?settings, "starting inventory service");
    let application = inventory::build(settings)
        .await
        .context("inventory service failed to start")?;
    tracing::info!(port = application.port(), "inventory service ready");
    application.run_until(platform::shutdown::signal()).await?;
    tracing::info!("inventory service stopped");
    Ok(())
}
