//! The settings of the notification service: those of every write-side service, plus
//! the dispatcher's, each from an environment variable with a local default.
//!
//! | variable | default |
//! |---|---|
//! | `NOTIFICATION_SENDER` | `file` (or `log`) |
//! | `NOTIFICATION_OUTBOX_FILE` | `.stack/notifications.jsonl` |
//! | `NOTIFICATION_MAX_ATTEMPTS` | `5` |
//! | `NOTIFICATION_RETRY_BACKOFF_MS` | `1000`, doubled after each failure, at most 10 min |
//!
//! The dispatcher reads the store in batches of `RELAY_BATCH_SIZE` and polls every
//! `RELAY_IDLE_POLL_MS`, as the relay does.

use std::path::PathBuf;
use std::time::Duration;

use platform::config::{duration_ms_env, env_or, parse_env, ConfigError};
use platform::service::ServiceSettings;

use crate::sender::{ConfiguredSender, FileSender, LogSender};

/// The default HTTP port of the service (health, metrics).
pub const DEFAULT_HTTP_PORT: u16 = 8085;

/// Everything the service reads at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `NOTIFICATION_DATABASE_URL`, `HTTP_ADDR`, `AMQP_URL`, relay settings, ...
    pub service: ServiceSettings,
    pub dispatcher: DispatcherSettings,
}

impl Settings {
    /// Reads the settings from the environment, with local defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        let service = ServiceSettings::from_env(crate::SERVICE, DEFAULT_HTTP_PORT)?;
        let dispatcher = DispatcherSettings {
            sender: SenderKind::from_env()?,
            max_attempts: parse_env("NOTIFICATION_MAX_ATTEMPTS", 5)?,
            retry_backoff: duration_ms_env(
                "NOTIFICATION_RETRY_BACKOFF_MS",
                Duration::from_secs(1),
            )?,
            batch_size: service.relay.batch_size,
            idle_poll: service.relay.idle_poll,
        };
        Ok(Self {
            service,
            dispatcher,
        })
    }
}

/// How the dispatcher delivers.
#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    pub sender: SenderKind,
    /// Failed attempts after which a notification is abandoned (at least 1).
    pub max_attempts: u32,
    /// The wait before the first retry; each further retry waits twice as long.
    pub retry_backoff: Duration,
    /// How many events one read of the store takes.
    pub batch_size: i64,
    /// The longest the dispatcher sleeps when it found nothing to do: a request wakes it
    /// at once, and while committed events wait for an older transaction it looks again
    /// every 10 ms.
    pub idle_poll: Duration,
}

/// Which [`crate::sender::Sender`] delivers notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderKind {
    /// [`FileSender`]: one JSON line per notification appended to this file.
    File(PathBuf),
    /// [`LogSender`]: a log line only.
    Log,
}

impl SenderKind {
    fn from_env() -> Result<Self, ConfigError> {
        let outbox = env_or("NOTIFICATION_OUTBOX_FILE", ".stack/notifications.jsonl");
        match env_or("NOTIFICATION_SENDER", "file").trim() {
            "file" => Ok(Self::File(PathBuf::from(outbox))),
            "log" => Ok(Self::Log),
            other => Err(ConfigError {
                name: "NOTIFICATION_SENDER".into(),
                reason: format!("{other:?} is not a sender: use file or log"),
            }),
        }
    }

    /// The sender this setting names.
    pub fn sender(&self) -> ConfiguredSender {
        match self {
            Self::File(path) => ConfiguredSender::File(FileSender::new(path.clone())),
            Self::Log => ConfiguredSender::Log(LogSender),
        }
    }
}
