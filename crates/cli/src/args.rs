//! The command line of `commerce`: subcommands, their options, and the checks done
//! before anything reaches the broker (routing key shape, timeouts, counts).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use platform::config::BrokerSettings;

/// The commerce platform's command-line client.
#[derive(Debug, Parser)]
#[command(name = "commerce", version, about, long_about = None)]
pub struct Cli {
    /// RabbitMQ URL [default: $AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/%2f]
    #[arg(long, global = true, value_name = "URL")]
    pub amqp_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The broker URL: `--amqp-url`, else `AMQP_URL`, else the local default.
    pub fn amqp_url(&self) -> String {
        match &self.amqp_url {
            Some(url) if !url.trim().is_empty() => url.clone(),
            _ => BrokerSettings::from_env().amqp_url,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send one command and print its reply as JSON.
    ///
    /// Exit status: 0 accepted, 1 rejected, 2 timeout, broker error or invalid arguments.
    Send(SendArgs),
    /// Run a demo workload (products, stock, orders) and show the read side.
    ///
    /// Exit status: 0 success, 1 the demo did not end as expected (the read side never
    /// caught up, or a step failed), 2 broker error or invalid arguments.
    Demo(DemoArgs),
    /// Rebuild read models from the event stores, with zero downtime: each is rebuilt
    /// into a new version while the current one keeps serving, then swapped in.
    ///
    /// Exit status: 0 every rebuild done, 1 a rebuild failed or timed out, 2 a service
    /// could not be reached or refused.
    Replay(ReplayArgs),
    /// Verify a write side's tamper-evident event chain and name the first altered or
    /// missing event.
    ///
    /// Prints "intact: N events sealed (M not yet sealed)" on stdout, or the first broken
    /// link (chain seq, position, event id, aggregate) on stderr.
    ///
    /// Exit status: 0 intact, 1 the chain is broken, 2 the database could not be read.
    VerifyChain(VerifyChainArgs),
}

#[derive(Debug, Args)]
pub struct VerifyChainArgs {
    /// The write side whose store to verify (inventory, order, user, payment,
    /// notification): its database is $<SERVICE>_DATABASE_URL, else
    /// postgres://<service>_svc@127.0.0.1:5432/<service>_svc, as the service itself
    /// connects. Ignored when a database URL is given.
    #[arg(long, value_name = "NAME", default_value = "inventory", value_parser = service_name)]
    pub service: String,

    /// The store's database, overriding --service.
    #[arg(long, value_name = "URL", env = "DATABASE_URL", value_parser = non_empty)]
    pub database_url: Option<String>,
}

impl VerifyChainArgs {
    /// `--database-url`, else the database of `--service`.
    pub fn database_url(&self) -> String {
        if let Some(url) = &self.database_url {
            return url.clone();
        }
        let service = &self.service;
        let local = format!("postgres://{service}_svc@127.0.0.1:5432/{service}_svc");
        platform::config::env_or(&format!("{}_DATABASE_URL", service.to_uppercase()), &local)
    }
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The projections to rebuild [default: every projection of the services].
    pub projections: Vec<String>,

    /// The services that own projections (their `/projections` API).
    #[arg(
        long = "url",
        value_name = "URL",
        env = "REPLAY_URLS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8080,http://127.0.0.1:8089"
    )]
    pub urls: Vec<String>,

    /// How long one rebuild may take.
    #[arg(long, value_name = "SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout_secs: u64,

    /// The API key presented to the services' HTTP APIs (when they require one).
    #[arg(long, env = "API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Where to send: `<service>.<Command>`, e.g. `inventory.AddStock`.
    pub routing_key: RoutingKey,

    /// The command body as JSON, or `-` to read it from stdin.
    pub body: String,

    /// The command id (AMQP message_id) [default: a new UUID v4].
    #[arg(long = "id", value_name = "COMMAND_ID", value_parser = non_empty)]
    pub command_id: Option<String>,

    /// The correlation id of the business flow [default: the command id].
    #[arg(long, value_name = "ID", value_parser = non_empty)]
    pub correlation_id: Option<String>,

    /// How long to wait for the reply.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout_secs: u64,

    /// Do not wait for the reply: print the command id once the broker has the message.
    #[arg(long)]
    pub no_wait: bool,

    /// Send the body bytes as given, without checking that they are JSON.
    #[arg(long)]
    pub raw: bool,
}

impl SendArgs {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Base URL of the query service.
    #[arg(
        long,
        env = "QUERY_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub query_url: String,

    /// Base URL of the saga service (`GET /sagas/{order_id}`).
    #[arg(
        long,
        env = "SAGA_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:8088"
    )]
    pub saga_url: String,

    /// The API key presented to the services' HTTP APIs (when they require one).
    #[arg(long, env = "API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// How long to wait for every order's saga to finish (a timed-out payment alone
    /// takes SAGA_PAYMENT_TIMEOUT_MS, 10 s by default).
    #[arg(long, value_name = "SECS", default_value_t = 90,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub saga_timeout_secs: u64,

    /// How many orders to place.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub orders: u32,

    /// How long to wait for the read side to reflect the final state.
    #[arg(long, value_name = "SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub read_timeout_secs: u64,
}

/// A routing key of the `commands` exchange: `<service>.<Command>`, where the service is
/// lowercase (`[a-z][a-z0-9_-]*`) and the command is PascalCase (`[A-Z][A-Za-z0-9]*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingKey {
    service: String,
    command: String,
}

impl RoutingKey {
    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn command(&self) -> &str {
        &self.command
    }
}

impl fmt::Display for RoutingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.service, self.command)
    }
}

impl FromStr for RoutingKey {
    type Err = String;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        let expected = "expected <service>.<Command>, e.g. inventory.AddStock";
        let Some((service, command)) = key.split_once('.') else {
            return Err(format!("{key:?} has no '.': {expected}"));
        };
        let mut service_chars = service.chars();
        let service_ok = service_chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && service_chars
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !service_ok {
            return Err(format!(
                "service {service:?} must match [a-z][a-z0-9_-]*: {expected}"
            ));
        }
        let mut command_chars = command.chars();
        let command_ok = command_chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && command_chars.all(|c| c.is_ascii_alphanumeric());
        if !command_ok {
            return Err(format!(
                "command {command:?} must match [A-Z][A-Za-z0-9]*: {expected}"
            ));
        }
        Ok(Self {
            service: service.to_string(),
            command: command.to_string(),
        })
    }
}

/// A service name safe to put in a URL and a variable name: `[a-z][a-z0-9_]*`.
fn service_name(value: &str) -> Result<String, String> {
    let mut chars = value.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(value.to_string())
    } else {
        Err("must match [a-z][a-z0-9_]*, e.g. inventory".to_string())
    }
}

fn non_empty(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("must not be empty".to_string())
    } else {
        Ok(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("commerce").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_routing_key_names_a_service_and_a_command() {
        let key: Result<RoutingKey, _> = "inventory.AddStock".parse();
        assert_eq!(key.as_ref().map(RoutingKey::service), Ok("inventory"));
        assert_eq!(key.as_ref().map(RoutingKey::command), Ok("AddStock"));
        assert_eq!(
            key.map(|k| k.to_string()),
            Ok("inventory.AddStock".to_string())
        );
    }

    #[test]
    fn malformed_routing_keys_are_refused() {
        for key in [
            "inventory",
            "inventory.",
            ".AddStock",
            "Inventory.AddStock",
            "inventory.addStock",
            "inventory.Add.Stock",
            "inventory.*",
            "#.AddStock",
            "inventory.Add Stock",
            "",
        ] {
            assert!(
                key.parse::<RoutingKey>().is_err(),
                "{key:?} should be refused"
            );
        }
    }

    #[test]
    fn send_defaults_to_waiting_ten_seconds() {
        let cli = parse(&["send", "order.PlaceOrder", "{}"]).map_err(|e| e.to_string());
        let Ok(Cli {
            command: Command::Send(send),
            amqp_url: None,
        }) = cli
        else {
            panic!("unexpected parse: {cli:?}");
        };
        assert_eq!(send.timeout(), Duration::from_secs(10));
        assert!(!send.no_wait && !send.raw && send.command_id.is_none());
    }

    #[test]
    fn send_takes_ids_and_a_global_broker_url() {
        let cli = parse(&[
            "send",
            "order.ConfirmOrder",
            "{}",
            "--id",
            "c-1",
            "--correlation-id",
            "flow",
            "--amqp-url",
            "amqp://x",
            "--no-wait",
            "--raw",
        ]);
        let Ok(Cli {
            command: Command::Send(send),
            amqp_url: Some(url),
        }) = cli
        else {
            panic!("unexpected parse");
        };
        assert_eq!(
            (send.command_id.as_deref(), send.correlation_id.as_deref()),
            (Some("c-1"), Some("flow"))
        );
        assert_eq!(url, "amqp://x");
        assert!(send.no_wait && send.raw);
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for args in [
            &["send", "order", "{}"][..],
            &["send", "order.PlaceOrder", "{}", "--id", ""],
            &["send", "order.PlaceOrder", "{}", "--timeout-secs", "0"],
            &["demo", "--orders", "0"],
            &["verify-chain", "--service", "Inventory"],
            &["verify-chain", "--database-url", ""],
        ] {
            let err = parse(args).err().map(|e| e.exit_code());
            assert_eq!(err, Some(2), "{args:?} should exit 2");
        }
    }

    #[test]
    fn verify_chain_reads_the_store_of_the_named_service() {
        let cli = parse(&["verify-chain", "--service", "payment"]);
        let Ok(Cli {
            command: Command::VerifyChain(args),
            ..
        }) = cli
        else {
            panic!("unexpected parse");
        };
        assert_eq!(args.service, "payment");
        let url = parse(&["verify-chain", "--database-url", "postgres://x@h/db"]);
        let Ok(Cli {
            command: Command::VerifyChain(args),
            ..
        }) = url
        else {
            panic!("unexpected parse");
        };
        assert_eq!(args.database_url(), "postgres://x@h/db");
    }
}
