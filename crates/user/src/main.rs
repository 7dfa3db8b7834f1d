//! The user service binary: settings from the environment, run until a signal.

use anyhow::Context;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init_tracing(user::SERVICE);
    let settings = user::settings_from_env().context("invalid configuration")?;
    tracing::info!(?settings, "starting user service");
    let application = user::build(settings)
        .await
        .context("user service failed to start")?;
    tracing::info!(port = application.port(), "user service ready");
    application.run_until(platform::shutdown::signal()).await?;
    tracing::info!("user service stopped");
    Ok(())
}
