//! NATS JetStream, the transport to the (simulated) external payment provider.
//!
//! One stream, `PROVIDER` by default, holds every subject under its prefix (`provider.>`):
//! `provider.requests.>` (authorization requests, from the bridge to the provider) and
//! `provider.webhooks.>` (the provider's answers, back to the bridge). Both the provider
//! and the bridge call [`ensure_stream`], so whichever starts first creates it.
//!
//! Every publish carries `Nats-Msg-Id`: within the stream's duplicate window JetStream
//! stores a message id once, which turns at-least-once publishing into exactly-once
//! storage.

use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::stream::{Config, StorageType, Stream};
use async_nats::jetstream::{self, context::PublishAckFuture};
use async_nats::{Client, ConnectOptions, HeaderMap};

use crate::config::{env_or, redact_url};

/// How long JetStream remembers a `Nats-Msg-Id` to drop a duplicate.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// How long a delivered message may stay unacknowledged before it is redelivered.
const ACK_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("cannot connect to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("JetStream {operation} failed: {source}")]
    JetStream {
        operation: &'static str,
        #[source]
        source: async_nats::Error,
    },
}

impl NatsError {
    /// Wraps any async-nats error, naming the operation that failed.
    pub fn jetstream(operation: &'static str, source: impl Into<async_nats::Error>) -> Self {
        Self::JetStream {
            operation,
            source: source.into(),
        }
    }
}

/// Where the provider's stream lives and what it is called. Tests give each run its own
/// stream name and subject prefix so that runs never see each other's messages.
#[derive(Clone)]
pub struct NatsSettings {
    /// `NATS_URL`: may contain credentials, never logged as is.
    pub url: String,
    /// `NATS_STREAM`: the JetStream stream name.
    pub stream: String,
    /// `NATS_SUBJECT_PREFIX`: the first token of every subject of the stream.
    pub subject_prefix: String,
}

impl NatsSettings {
    pub fn from_env() -> Self {
        Self {
            url: env_or("NATS_URL", "nats://127.0.0.1:4222"),
            stream: env_or("NATS_STREAM", "PROVIDER"),
            subject_prefix: env_or("NATS_SUBJECT_PREFIX", "provider"),
        }
    }

    /// The subject authorization requests are published to.
    pub fn request_subject(&self) -> String {
        format!("{}.requests.authorize", self.subject_prefix)
    }

    /// The filter of the provider's consumer.
    pub fn request_filter(&self) -> String {
        format!("{}.requests.>", self.subject_prefix)
    }

    /// The subject the provider answers on.
    pub fn webhook_subject(&self) -> String {
        format!("{}.webhooks.authorization", self.subject_prefix)
    }

    /// The filter of the bridge's webhook consumer.
    pub fn webhook_filter(&self) -> String {
        format!("{}.webhooks.>", self.subject_prefix)
    }
}

impl std::fmt::Debug for NatsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSettings")
            .field("url", &redact_url(&self.url))
            .field("stream", &self.stream)
            .field("subject_prefix", &self.subject_prefix)
            .finish()
    }
}

/// Connects without waiting for the server: the client keeps reconnecting in the
/// background for as long as the process lives, so a service starting before NATS (or
/// outliving a NATS restart) just sees its JetStream calls fail until NATS is back.
pub async fn connect(url: &str, name: &str) -> Result<Client, NatsError> {
    let options = ConnectOptions::new().name(name).retry_on_initial_connect();
    Ok(options.connect(url).await?)
}

/// `Ok` while the client holds a connection, for `/health`.
pub fn connection_state(client: &Client) -> Result<(), String> {
    match client.connection_state() {
        State::Connected => Ok(()),
        other => Err(format!("NATS {other}")),
    }
}

/// Creates the stream if it does not exist yet (file storage, two-minute duplicate
/// window); an existing stream is left as it is.
pub async fn ensure_stream(
    js: &jetstream::Context,
    settings: &NatsSettings,
) -> Result<Stream, NatsError> {
    let config = Config {
        name: settings.stream.clone(),
        subjects: vec![format!("{}.>", settings.subject_prefix)],
        storage: StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        ..Config::default()
    };
    js.get_or_create_stream(config)
        .await
        .map_err(|err| NatsError::jetstream("stream creation", err))
}

/// A durable pull consumer with explicit acks: whatever its process did not
/// acknowledge is delivered again, to it or to its next incarnation.
pub async fn durable_consumer(
    stream: &Stream,
    name: &str,
    filter: String,
) -> Result<PullConsumer, NatsError> {
    let config = pull::Config {
        durable_name: Some(name.to_string()),
        filter_subject: filter,
        ack_policy: AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        ..pull::Config::default()
    };
    stream
        .get_or_create_consumer(name, config)
        .await
        .map_err(|err| NatsError::jetstream("consumer creation", err))
}

/// Publishes with `Nats-Msg-Id` = `message_id` and waits for the stream's ack.
/// Returns whether JetStream dropped it as a duplicate.
pub async fn publish_deduplicated(
    js: &jetstream::Context,
    subject: String,
    message_id: &str,
    payload: Vec<u8>,
) -> Result<bool, NatsError> {
    let mut headers = HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, message_id);
    let pending: PublishAckFuture = js
        .publish_with_headers(subject, headers, payload.into())
        .await
        .map_err(|err| NatsError::jetstream("publish", err))?;
    let ack = pending
        .await
        .map_err(|err| NatsError::jetstream("publish ack", err))?;
    Ok(ack.duplicate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_share_the_stream_prefix() {
        let settings = NatsSettings {
            url: "nats://127.0.0.1:4222".into(),
            stream: "PROVIDER".into(),
            subject_prefix: "provider".into(),
        };
        assert_eq!(settings.request_subject(), "provider.requests.authorize");
        assert_eq!(settings.webhook_filter(), "provider.webhooks.>");
    }

    #[test]
    fn a_nats_password_is_not_logged() {
        let settings = NatsSettings {
            url: "nats://app:secret@nats:4222".into(),
            stream: "PROVIDER".into(),
            subject_prefix: "provider".into(),
        };
        assert!(!format!("{settings:?}").contains("secret"));
    }
}
