//! The query service binary: settings from the environment, run until a signal.

use anyhow::Context;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init_tracing(query::SERVICE);
    let settings = query::Settings::from_env().context("invalid configuration")?;
    tracing::info!(?settings, "starting query service");
    let application = query::build(settings)
        .await
        .context("query service failed to start")?;
    tracing::info!(port = application.port(), "query service ready");
    application.run_until(platform::shutdown::signal()).await?;
    tracing::info!("query service stopped");
    Ok(())
}
