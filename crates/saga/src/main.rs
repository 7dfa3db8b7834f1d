//! The saga binary: settings from the environment, run until a signal.

use anyhow::Context;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init_tracing(saga::SERVICE);
    let settings = saga::settings_from_env().context("invalid configuration")?;
    tracing::info!(?settings, "starting saga service");
    let application = saga::build(settings)
        .await
        .context("saga service failed to start")?;
    tracing::info!(port = application.port(), "saga service ready");
    application.run_until(platform::shutdown::signal()).await?;
    tracing::info!("saga service stopped");
    Ok(())
}
