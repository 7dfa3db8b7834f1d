//! SIGKILL: each service binary (inventory, order, user, notification, payment, the
//! provider simulator, the NATS bridge, the saga, the query service and the analytics
//! service) runs as a child
//! process beside the stack's in-process instance, consuming the same queues and
//! writing the same database or read stores, and is killed mid-stream and started
//! again, one after another. Whatever the killed process held (prefetched deliveries,
//! an open transaction, an unconfirmed relay batch or outbox row, a half-applied page
//! of a view or of the star schema) must be redelivered or redone exactly once. (The
//! saga, payment, inventory and order services killed as the only instance are in the
//! e2e suite's `kills.rs`.)

use std::time::Duration;

use e2e::saga::{free_port, ServiceProcess};
use e2e::{Servers, TestStack};

use crate::stream::{check, every_order_ends, Fixture};

/// Every path of the mix three times; spaced so the stream lasts as long as its faults
/// (ten processes, 0.8 s each; the cost of a test is the rebuild of every view
/// afterwards, which grows with orders, not with time).
const ORDERS: usize = 18;
const EVERY: Duration = Duration::from_millis(400);

/// The environment of a provider or bridge process on the stack's NATS stream.
fn nats_env(stack: &TestStack, port: u16) -> anyhow::Result<Vec<(String, String)>> {
    let nats = stack
        .nats_settings()
        .ok_or_else(|| anyhow::anyhow!("no payment gateway"))?;
    let mut env = stack.process_env("UNUSED_DATABASE_URL", "", port);
    env.extend([
        ("NATS_URL".into(), nats.url.clone()),
        ("NATS_STREAM".into(), nats.stream.clone()),
        ("NATS_SUBJECT_PREFIX".into(), nats.subject_prefix.clone()),
        ("PROVIDER_DELAY_MS".into(), "50".into()),
    ]);
    Ok(env)
}

/// The environment of a query-service process on the stack's read stores and feeds,
/// polling them as often as the in-process one.
fn query_env(stack: &TestStack, port: u16) -> Vec<(String, String)> {
    let mut env = stack.process_env("UNUSED_DATABASE_URL", "", port);
    env.extend([
        ("MONGODB_URL".into(), e2e::MONGODB_URL.into()),
        ("MONGODB_DATABASE".into(), stack.mongodb_database.clone()),
        ("REDIS_URL".into(), stack.servers.redis_url.clone()),
        ("REDIS_KEY_PREFIX".into(), stack.redis_key_prefix.clone()),
        ("FEED_URLS".into(), stack.feed_urls_setting()),
        ("PROJECTION_POLL_MS".into(), "200".into()),
    ]);
    env
}

/// The environment of an analytics-service process on the stack's analytics database
/// and feeds, polling them and refreshing its cubes as often as the in-process one.
fn analytics_env(stack: &TestStack, port: u16) -> anyhow::Result<Vec<(String, String)>> {
    let database = stack
        .analytics_database_url()
        .ok_or_else(|| anyhow::anyhow!("no analytics database"))?;
    let mut env = stack.process_env("ANALYTICS_DATABASE_URL", &database, port);
    env.extend([
        ("FEED_URLS".into(), stack.feed_urls_setting()),
        ("PROJECTION_POLL_MS".into(), "200".into()),
        ("ANALYTICS_REFRESH_MS".into(), "100".into()),
    ]);
    Ok(env)
}

/// Every service binary, started beside the in-process stack and healthy.
async fn replicas(stack: &mut TestStack) -> anyhow::Result<Vec<ServiceProcess>> {
    let mut processes = write_sides(stack).await?;
    for (package, binary) in [("provider", "payment-provider"), ("bridge", "nats-bridge")] {
        let port = free_port()?;
        let env = nats_env(stack, port)?;
        processes.push(ServiceProcess::start(package, binary, env, port).await?);
    }
    let port = free_port()?;
    let env = query_env(stack, port);
    processes.push(ServiceProcess::start("query", "query-service", env, port).await?);
    let port = free_port()?;
    let env = analytics_env(stack, port)?;
    processes.push(ServiceProcess::start("analytics", "analytics-service", env, port).await?);
    for process in &processes {
        stack.healthy(process.port).await?;
    }
    Ok(processes)
}

/// The write sides' binaries and the saga's, each on the stack's database of its own.
async fn write_sides(stack: &mut TestStack) -> anyhow::Result<Vec<ServiceProcess>> {
    let payment_url = stack.payment_database().await?;
    let saga_url = stack.saga_database().await?;
    let outbox = stack.notification_outbox_file.display().to_string();
    let services = [
        (
            "inventory",
            "inventory-service",
            "INVENTORY",
            stack.inventory_database_url.clone(),
        ),
        (
            "order",
            "order-service",
            "ORDER",
            stack.order_database_url.clone(),
        ),
        (
            "user",
            "user-service",
            "USER",
            stack.user_database_url.clone(),
        ),
        (
            "notification",
            "notification-service",
            "NOTIFICATION",
            stack.notification_database_url.clone(),
        ),
        ("payment", "payment-service", "PAYMENT", payment_url),
        ("saga", "saga", "SAGA", saga_url),
    ];
    let mut processes = Vec::new();
    for (package, binary, upper, url) in services {
        let port = free_port()?;
        let mut env = stack.process_env(&format!("{upper}_DATABASE_URL"), &url, port);
        env.push(("NOTIFICATION_OUTBOX_FILE".into(), outbox.clone()));
        processes.push(ServiceProcess::start(package, binary, env, port).await?);
    }
    Ok(processes)
}

#[tokio::test]
async fn each_service_process_killed_mid_stream_loses_no_order() -> anyhow::Result<()> {
    let mut fixture = Fixture::start(Servers::default()).await?;
    let mut processes = replicas(&mut fixture.stack).await?;
    let stream = fixture.stream(ORDERS, EVERY);
    let mut faults = 0;
    for process in &mut processes {
        tokio::time::sleep(Duration::from_millis(500)).await;
        process.kill().await?;
        faults += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
        process.restart().await?;
    }
    let orders = stream.await??;
    every_order_ends(&mut fixture.stack, &orders).await?;
    for process in &mut processes {
        process.kill().await?;
    }
    check("service processes SIGKILLed", &mut fixture, &orders, faults).await?;
    fixture.stack.stop().await
}
