//! The payment service binary: settings from the environment, run until a signal.

use anyhow::Context;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init_tracing(payment::SERVICE);
    let settings = payment::settings_from_env().context("invalid configuration")?;
    tracing::info!(?settings, "starting payment service");
    let application = payment::build(settings)
        .await
        .context("payment service failed to start")?;
    tracing::info!(port = application.port(), "payment service ready");
    application.run_until(platform::shutdown::signal()).await?;
    tracing::info!("payment service stopped");
    Ok(())
}
