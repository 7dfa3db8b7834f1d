//! The payment provider simulator binary: settings from the environment, run until a signal.

use anyhow::Context;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init_tracing(provider::SERVICE);
    let settings = provider::Settings::from_env().context("invalid configuration")?;
    tracing::info!(?settings, "starting payment provider simulator");
    let application = provider::build(settings)
        .await
        .context("payment provider failed to start")?;
    tracing::info!(port = application.port(), "payment provider ready");
    application.run_until(platform::shutdown::signal()).await?;
    tracing::info!("payment provider stopped");
    Ok(())
}
