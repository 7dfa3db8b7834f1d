//! Structured logging (JSON or human-readable) and the process-wide Prometheus recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global tracing subscriber, writing to stderr so a command-line tool's
/// stdout stays clean for its output. `LOG_FORMAT=json` gives one JSON object per
/// line (for log shippers); anything else gives compact human-readable lines.
/// The filter comes from `RUST_LOG`, defaulting to `info`.
pub fn init_tracing(service: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let result = if json {
        fmt()
            .json()
            .with_writer(std::io::stderr)
            .with_env_filter(filter)
            .with_current_span(true)
            .try_init()
    } else {
        fmt()
            .compact()
            .with_writer(std::io::stderr)
            .with_env_filter(filter)
            .try_init()
    };
    if result.is_ok() {
        tracing::info!(service, "telemetry initialised");
    }
}

/// Returns the process-wide Prometheus handle, installing the recorder on first use.
/// Several services may live in one test process, so installation happens once.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (by a host application); the handle
            // then renders only our own registry, which is still correct for /metrics.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
