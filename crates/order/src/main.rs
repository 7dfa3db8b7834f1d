//! The order service binary: settings from the environment, run until a signal.

use anyhow::Context;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init_tracing(order::SERVICE);
    let settings = order::settings_from_env().context("invalid configuration")?;
    tracing::info!(?settings, "starting order service");
    let application = order::build(settings)
        .await
        .context("order service failed to start")?;
    tracing::info!(port = application.port(), "order service ready");
    application.run_until(platform::shutdown::signal()).await?;
    tracing::info!("order service stopped");
    Ok(())
}
