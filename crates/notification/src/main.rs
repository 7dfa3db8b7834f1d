//! The notification service binary: settings from the environment, run until a signal.

use anyhow::Context;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init_tracing(notification::SERVICE);
    let settings = notification::settings_from_env().context("invalid configuration")?;
    tracing::info!(?settings, "starting notification service");
    let application = notification::build(settings)
        .await
        .context("notification service failed to start")?;
    tracing::info!(port = application.port(), "notification service ready");
    application.run_until(platform::shutdown::signal()).await?;
    tracing::info!("notification service stopped");
    Ok(())
}
