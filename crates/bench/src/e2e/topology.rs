//! The whole platform as a list of processes: which binary each service runs and the
//! environment that points it at the run's own resources and at the other services'
//! ports (the query and analytics services read the write sides' feeds).

use super::processes::ServiceSpec;
use super::resources::Resources;
use super::{E2eError, E2eOptions};

/// Every service, in start order; `FEED_URLS` for the readers are derived from the
/// ports of the write sides.
pub const SERVICES: [(&str, &str); 10] = [
    ("inventory", "inventory-service"),
    ("order", "order-service"),
    ("user", "user-service"),
    ("notification", "notification-service"),
    ("payment-provider", "payment-provider"),
    ("nats-bridge", "nats-bridge"),
    ("payment", "payment-service"),
    ("saga", "saga"),
    ("query", "query-service"),
    ("analytics", "analytics-service"),
];

/// The write sides whose feeds the query service reads, and those analytics reads.
const QUERY_FEEDS: [&str; 5] = ["inventory", "order", "user", "payment", "notification"];
const ANALYTICS_FEEDS: [&str; 4] = ["inventory", "order", "user", "payment"];

/// The specs of every service, each on a free loopback port.
pub fn plan(options: &E2eOptions, resources: &Resources) -> Result<Vec<ServiceSpec>, E2eError> {
    let ports = free_ports(SERVICES.len())?;
    let port_of = |name: &str| {
        SERVICES
            .iter()
            .position(|(n, _)| *n == name)
            .and_then(|i| ports.get(i).copied())
            .unwrap_or_default()
    };
    let feeds = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("{n}=http://127.0.0.1:{}", port_of(n)))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut specs = Vec::with_capacity(SERVICES.len());
    for ((name, binary), port) in SERVICES.into_iter().zip(ports.iter().copied()) {
        let mut env = vec![
            ("HTTP_ADDR".to_string(), format!("127.0.0.1:{port}")),
            ("RUST_LOG".to_string(), "warn".to_string()),
        ];
        let mut set = |key: &str, value: String| env.push((key.to_string(), value));
        if name != "payment-provider" {
            set("AMQP_URL", resources.amqp_url());
        }
        if super::resources::DATABASES.contains(&name) {
            let upper = name.to_uppercase();
            set(
                &format!("{upper}_DATABASE_URL"),
                resources.database_url(name),
            );
            set(
                &format!("{upper}_DB_POOL_SIZE"),
                options.db_pool_size.to_string(),
            );
        }
        match name {
            "notification" => set("NOTIFICATION_SENDER", "log".into()),
            "payment-provider" | "nats-bridge" => {
                set("NATS_URL", resources.nats_url.clone());
                set("NATS_STREAM", resources.nats_stream());
                set("NATS_SUBJECT_PREFIX", resources.nats_subject_prefix());
                if name == "payment-provider" {
                    let delay = options.provider_delay.as_millis();
                    set("PROVIDER_DELAY_MS", delay.to_string());
                }
            }
            "query" => {
                set("MONGODB_URL", resources.mongodb_url.clone());
                set("MONGODB_DATABASE", resources.mongodb_database());
                set("REDIS_URL", resources.redis_url.clone());
                set("REDIS_KEY_PREFIX", resources.redis_key_prefix());
                set("FEED_URLS", feeds(&QUERY_FEEDS));
            }
            "analytics" => set("FEED_URLS", feeds(&ANALYTICS_FEEDS)),
            _ => {}
        }
        // Overrides last: the later of two equal keys wins in `Command::envs`.
        env.extend(options.service_env.iter().cloned());
        specs.push(ServiceSpec {
            name,
            binary,
            port,
            env,
        });
    }
    Ok(specs)
}

/// `count` distinct free loopback ports (all held open until every one is chosen).
fn free_ports(count: usize) -> Result<Vec<u16>, E2eError> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| E2eError::io("reserve a loopback port", source))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| E2eError::io("reserve a loopback port", source))
}
