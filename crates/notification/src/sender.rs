//! Handing a notification to its channel, behind the [`Sender`] trait.
//!
//! The dispatcher is at-least-once: a crash between a send and the recording of its
//! outcome sends the same notification again on restart. Every [`Outgoing`] therefore
//! carries its `notification_id` as an idempotency key, for a real provider (an email
//! or SMS gateway) to de-duplicate on.
//!
//! Two senders come with the service: [`FileSender`] (the default) appends one JSON line
//! per notification to a file, so a demo or a test can read what was "sent";
//! [`LogSender`] only logs it.

use std::future::Future;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::domain::{Channel, NotificationRequest};

/// One delivery attempt of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outgoing {
    /// The idempotency key: the same notification may be handed over more than once.
    pub notification_id: String,
    pub customer_id: String,
    pub channel: Channel,
    pub template: String,
    pub data: Value,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
}

impl Outgoing {
    pub fn new(request: &NotificationRequest, attempt: u32) -> Self {
        Self {
            notification_id: request.notification_id.clone(),
            customer_id: request.customer_id.clone(),
            channel: request.channel,
            template: request.template.clone(),
            data: request.data.clone(),
            attempt,
        }
    }
}

/// Why a channel did not take a notification; every variant is retried.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode the notification: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the channel refused the notification: {0}")]
    Refused(String),
    #[error("the channel did not answer within {0:?}")]
    TimedOut(std::time::Duration),
}

/// A channel the dispatcher can hand notifications to.
pub trait Sender: Send + Sync + 'static {
    fn send(&self, notification: &Outgoing) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// Appends one JSON line per notification to a file, creating its directory first.
#[derive(Debug, Clone)]
pub struct FileSender {
    path: PathBuf,
}

impl FileSender {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, source: std::io::Error) -> SendError {
        SendError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl Sender for FileSender {
    async fn send(&self, notification: &Outgoing) -> Result<(), SendError> {
        let mut line = serde_json::to_vec(notification)?;
        line.push(b'\n');
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| self.io_error(e))?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|e| self.io_error(e))?;
        // One write of the whole line in append mode: lines of concurrent writers do
        // not interleave, and a reader never sees half a notification it could parse.
        file.write_all(&line).await.map_err(|e| self.io_error(e))?;
        file.flush().await.map_err(|e| self.io_error(e))?;
        log_sent(notification, &self.path.display().to_string());
        Ok(())
    }
}

/// Only logs each notification: for running without any channel at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSender;

impl Sender for LogSender {
    async fn send(&self, notification: &Outgoing) -> Result<(), SendError> {
        log_sent(notification, "log");
        Ok(())
    }
}

fn log_sent(notification: &Outgoing, to: &str) {
    tracing::info!(
        notification_id = %notification.notification_id,
        customer_id = %notification.customer_id,
        channel = notification.channel.as_str(),
        template = %notification.template,
        attempt = notification.attempt,
        to,
        "notification sent"
    );
}

/// The sender chosen by configuration (`NOTIFICATION_SENDER`).
#[derive(Debug, Clone)]
pub enum ConfiguredSender {
    File(FileSender),
    Log(LogSender),
}

impl Sender for ConfiguredSender {
    async fn send(&self, notification: &Outgoing) -> Result<(), SendError> {
        match self {
            Self::File(sender) => sender.send(notification).await,
            Self::Log(sender) => sender.send(notification).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn outgoing(id: &str) -> Outgoing {
        Outgoing {
            notification_id: id.into(),
            customer_id: "c1".into(),
            channel: Channel::Sms,
            template: "order_shipped".into(),
            data: json!({"order_id": "o1"}),
            attempt: 1,
        }
    }

    fn scratch_dir() -> PathBuf {
        std::env::temp_dir().join(format!("notification-sender-{}", uuid::Uuid::new_v4()))
    }

    #[tokio::test]
    async fn the_file_sender_appends_one_json_line_per_notification() {
        let dir = scratch_dir();
        let sender = FileSender::new(dir.join("nested/outbox.jsonl"));
        sender.send(&outgoing("n1")).await.expect("first line");
        sender.send(&outgoing("n2")).await.expect("second line");
        let text = std::fs::read_to_string(sender.path()).expect("file written");
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["notification_id"], "n1");
        assert_eq!(lines[1]["channel"], "sms");
        assert_eq!(lines[1]["data"], json!({"order_id": "o1"}));
        std::fs::remove_dir_all(dir).expect("scratch dir removed");
    }

    #[tokio::test]
    async fn the_file_sender_reports_a_file_it_cannot_write() {
        let dir = scratch_dir();
        std::fs::create_dir_all(&dir).expect("scratch dir");
        // The outbox path is a directory: opening it for appending fails.
        let err = FileSender::new(&dir)
            .send(&outgoing("n1"))
            .await
            .expect_err("a directory is not a file");
        assert!(matches!(err, SendError::Io { .. }), "{err}");
        std::fs::remove_dir_all(dir).expect("scratch dir removed");
    }
}
