//! The pure gate of the command bus: from a delivery's routing key, content type and
//! bytes to a named, schema-valid JSON body, or the reason it is refused.
//!
//! Checks run cheapest first, and the size check runs before any parsing, so an
//! oversized or binary message costs the consumer nothing but a rejection. No input
//! can make this panic: the property tests in `decode_fuzz.rs` feed it arbitrary bytes,
//! JSON values and mutated commands.

use serde_json::Value;

use crate::schema::{SchemaError, SchemaRegistry};

/// The largest command body accepted, in bytes. The largest legitimate command (an
/// order of 100 lines of 128-character skus) is about 25 KiB, so this leaves ample
/// room while keeping a flood of huge bodies from being parsed.
pub const MAX_COMMAND_BYTES: usize = 256 * 1024;

/// The only media type a command body may declare. A delivery without a content type
/// is accepted as JSON, so plain AMQP clients that never set one keep working.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// A command as it arrived: what the decoder looks at, and nothing else.
#[derive(Debug, Clone, Copy)]
pub struct RawCommand<'a> {
    pub routing_key: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// A decoded command: its name within the service and its schema-valid body.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub name: String,
    pub body: Value,
}

/// Why a delivery is not a command of this service. Each maps to a reply code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("content type {0:?} is not application/json")]
    UnsupportedContentType(String),
    #[error("body is not valid UTF-8: {0}")]
    InvalidUtf8(String),
    #[error("body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{service} has no command {name:?}")]
    UnknownCommand { service: String, name: String },
    #[error("{0}")]
    SchemaViolation(String),
}

impl DecodeError {
    /// The code of the rejection reply. Invalid UTF-8 keeps `malformed_json` (JSON is
    /// UTF-8 by definition, and senders already know that code); its message says why.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "message_too_large",
            Self::UnsupportedContentType(_) => "unsupported_content_type",
            Self::InvalidUtf8(_) | Self::MalformedJson(_) => "malformed_json",
            Self::UnknownCommand { .. } => "unknown_command",
            Self::SchemaViolation(_) => "schema_violation",
        }
    }
}

/// Decodes and validates one command addressed to `service`.
pub fn decode(
    schemas: &SchemaRegistry,
    service: &str,
    raw: RawCommand<'_>,
) -> Result<Decoded, DecodeError> {
    if raw.body.len() > MAX_COMMAND_BYTES {
        return Err(DecodeError::TooLarge {
            size: raw.body.len(),
            limit: MAX_COMMAND_BYTES,
        });
    }
    check_content_type(raw.content_type)?;
    let text =
        std::str::from_utf8(raw.body).map_err(|e| DecodeError::InvalidUtf8(e.to_string()))?;
    let body: Value =
        serde_json::from_str(text).map_err(|e| DecodeError::MalformedJson(e.to_string()))?;
    let name = command_name(raw.routing_key, service);
    match schemas.validate(name, &body) {
        Ok(()) => Ok(Decoded {
            name: name.to_string(),
            body,
        }),
        Err(SchemaError::UnknownCommand(_)) => Err(DecodeError::UnknownCommand {
            service: service.to_string(),
            name: name.to_string(),
        }),
        Err(err) => Err(DecodeError::SchemaViolation(err.to_string())),
    }
}

/// `application/json`, in any case and with parameters (`; charset=utf-8`), or none.
fn check_content_type(content_type: Option<&str>) -> Result<(), DecodeError> {
    let Some(declared) = content_type.filter(|c| !c.trim().is_empty()) else {
        return Ok(());
    };
    let media_type = declared.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case(JSON_CONTENT_TYPE) {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedContentType(declared.to_string()))
    }
}

/// `inventory.AddStock` on the inventory queue names the command `AddStock`; any other
/// routing key yields a name no schema knows, which is rejected as unknown.
pub fn command_name<'a>(routing_key: &'a str, service: &str) -> &'a str {
    routing_key
        .strip_prefix(service)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(routing_key)
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "decode_fuzz.rs"]
mod fuzz;
