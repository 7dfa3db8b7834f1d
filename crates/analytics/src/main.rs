//! The analytics-service binary: settings from the environment, run until a signal.

use anyhow::Context;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init_tracing(analytics::SERVICE);
    let settings = analytics::settings_from_env().context("invalid configuration")?;
    tracing::info!(?settings, "starting analytics service");
    let application = analytics::build(settings)
        .await
        .context("analytics service failed to start")?;
    tracing::info!(port = application.port(), "analytics service ready");
    application.run_until(platform::shutdown::signal()).await?;
    tracing::info!("analytics service stopped");
    Ok(())
}
