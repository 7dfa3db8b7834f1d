//! The `commerce` command-line client of the commerce platform, as a library.
//!
//! Layout:
//! - [`client`]: [`client::CommandClient`], request/reply over the `commands` exchange;
//!   end-to-end tests use it directly.
//! - [`args`]: the command line (clap), with routing-key validation.
//! - [`send`]: `commerce send`, one command and its reply as JSON.
//! - [`demo`]: `commerce demo`, a watchable workload and the read side it produces.
//! - [`replay`]: `commerce replay`, zero-downtime rebuilds of read models, with progress.
//! - [`verify_chain`]: `commerce verify-chain`, a store's tamper-evident chain checked.
//!
//! The binary (`src/main.rs`) only parses arguments, sets up logging and calls [`run`].

pub mod args;
pub mod client;
pub mod demo;
pub mod replay;
pub mod send;
pub mod verify_chain;

use args::{Cli, Command};

/// Why a subcommand could not finish; each error knows its exit status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Send(#[from] send::SendError),
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    #[error(transparent)]
    Replay(#[from] replay::ReplayError),
    #[error(transparent)]
    VerifyChain(#[from] verify_chain::VerifyChainError),
}

impl Error {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Send(err) => err.exit_code(),
            Self::Demo(err) => err.exit_code(),
            Self::Replay(err) => err.exit_code(),
            Self::VerifyChain(err) => err.exit_code(),
        }
    }
}

/// Runs the parsed command line; returns the process exit status.
/// An HTTP client for the services' APIs, presenting `api_key` when there is one.
pub fn http_client(
    api_key: Option<&str>,
    timeout: std::time::Duration,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .default_headers(platform::access::client_headers(api_key))
        .build()
}

pub async fn run(cli: Cli) -> Result<u8, Error> {
    let amqp_url = cli.amqp_url();
    match &cli.command {
        Command::Send(args) => Ok(send::run(&amqp_url, args).await?),
        Command::Demo(args) => Ok(demo::run(&amqp_url, args).await?),
        Command::Replay(args) => Ok(replay::run(args).await?),
        Command::VerifyChain(args) => Ok(verify_chain::run(args).await?),
    }
}
