//! `commerce send`: one command, its reply printed as pretty JSON on stdout.
//!
//! The body is checked to be JSON locally (refused before connecting if not) unless
//! `--raw` is given; either way the bytes are sent exactly as given. Exit status:
//! [`EXIT_ACCEPTED`], [`EXIT_REJECTED`], or [`EXIT_FAILURE`] for every error.

use std::io::Read;

use platform::command_bus::{CommandReply, ReplyStatus};

use crate::args::SendArgs;
use crate::client::{ClientError, CommandClient, SendOptions};

/// The command was accepted (or, with `--no-wait`, published).
pub const EXIT_ACCEPTED: u8 = 0;
/// The service rejected the command.
pub const EXIT_REJECTED: u8 = 1;
/// No answer: timeout, broker error, or invalid arguments.
pub const EXIT_FAILURE: u8 = 2;

/// Why `send` produced no reply to print.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the body is not valid JSON ({0}); pass --raw to send it anyway")]
    InvalidJson(serde_json::Error),
    #[error("cannot read the body from stdin: {0}")]
    Stdin(std::io::Error),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot print the reply: {0}")]
    Output(serde_json::Error),
}

impl SendError {
    pub fn exit_code(&self) -> u8 {
        EXIT_FAILURE
    }
}

/// Sends the command described by `args` to the broker at `amqp_url`, prints the
/// reply (or, with `--no-wait`, the command id) and returns the exit status.
pub async fn run(amqp_url: &str, args: &SendArgs) -> Result<u8, SendError> {
    let body = read_body(&args.body, args.raw)?;
    let client = CommandClient::connect(amqp_url).await?;
    let result = exchange(&client, args, &body).await;
    client.close().await;
    result
}

async fn exchange(client: &CommandClient, args: &SendArgs, body: &[u8]) -> Result<u8, SendError> {
    let routing_key = args.routing_key.to_string();
    let options = options(args);
    if args.no_wait {
        let command_id = client.publish(&routing_key, body, options).await?;
        let published = serde_json::json!({
            "command_id": command_id,
            "routing_key": routing_key,
            "status": "published",
        });
        print_json(&published)?;
        return Ok(EXIT_ACCEPTED);
    }
    let reply = client.send(&routing_key, body, options).await?;
    print_json(&reply)?;
    Ok(exit_code(&reply))
}

fn options(args: &SendArgs) -> SendOptions {
    SendOptions {
        command_id: args.command_id.clone(),
        correlation_id: args.correlation_id.clone(),
        timeout: args.timeout(),
    }
}

/// The exit status of a reply.
pub fn exit_code(reply: &CommandReply) -> u8 {
    match reply.status {
        ReplyStatus::Accepted => EXIT_ACCEPTED,
        ReplyStatus::Rejected => EXIT_REJECTED,
    }
}

/// The bytes to send: the argument itself, or stdin for `-`; checked to be JSON
/// unless `raw`.
pub fn read_body(argument: &str, raw: bool) -> Result<Vec<u8>, SendError> {
    let body = if argument == "-" {
        let mut buffer = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buffer)
            .map_err(SendError::Stdin)?;
        buffer
    } else {
        argument.as_bytes().to_vec()
    };
    if !raw {
        check_json(&body)?;
    }
    Ok(body)
}

fn check_json(body: &[u8]) -> Result<(), SendError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(SendError::InvalidJson)
}

fn print_json(value: &impl serde::Serialize) -> Result<(), SendError> {
    let text = serde_json::to_string_pretty(value).map_err(SendError::Output)?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_body_is_sent_as_given() {
        let body = read_body(r#"{ "sku": "A",  "quantity": 1 }"#, false).map_err(|e| e.to_string());
        assert_eq!(body, Ok(br#"{ "sku": "A",  "quantity": 1 }"#.to_vec()));
    }

    #[test]
    fn a_malformed_body_is_refused_unless_raw() {
        assert!(matches!(
            read_body("{not json", false),
            Err(SendError::InvalidJson(_))
        ));
        assert_eq!(
            read_body("{not json", true).ok(),
            Some(b"{not json".to_vec())
        );
    }

    #[test]
    fn the_exit_code_follows_the_reply_status() {
        let rejected = CommandReply::rejected("c1", None, "schema_violation", "quantity");
        let accepted = CommandReply::accepted("c2", "A", &[]);
        assert_eq!(
            (exit_code(&accepted), exit_code(&rejected)),
            (EXIT_ACCEPTED, EXIT_REJECTED)
        );
    }
}
