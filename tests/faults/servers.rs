//! The servers under the platform failing mid-stream: a private RabbitMQ node stopped
//! and started, a private NATS killed and restarted, a private Redis flushed, and the
//! stack's PostgreSQL backends terminated on the shared server.

use std::time::Duration;

use e2e::private::{PrivateNats, PrivateRabbit, PrivateRedis};
use e2e::{Servers, TestStack, ADMIN_DATABASE_URL};

use crate::stream::{check, every_order_ends, rebuild, Fixture};

/// Orders per test, and the pace: every path of the mix twice, spaced so the stream
/// lasts as long as its faults (the cost of a test is the rebuild of every view
/// afterwards, which grows with the orders).
const ORDERS: usize = 12;
const EVERY: Duration = Duration::from_millis(320);

#[tokio::test]
async fn a_rabbitmq_node_stopped_and_started_mid_stream_loses_no_order() -> anyhow::Result<()> {
    let rabbit = PrivateRabbit::start().await?;
    let mut fixture = Fixture::start(rabbit.servers()).await?;
    let stream = fixture.stream(ORDERS, EVERY);
    let mut faults = 0;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        rabbit.stop_app().await?;
        faults += 1;
        tokio::time::sleep(Duration::from_secs(2)).await;
        rabbit.start_app().await?;
    }
    let orders = stream.await??;
    check("rabbitmq stop_app/start_app", &mut fixture, &orders, faults).await?;
    fixture.stack.stop().await
}

#[tokio::test]
async fn a_nats_server_killed_and_restarted_mid_stream_loses_no_order() -> anyhow::Result<()> {
    let mut nats = PrivateNats::start().await?;
    let servers = Servers {
        nats_url: nats.url(),
        ..Servers::default()
    };
    let mut fixture = Fixture::start(servers).await?;
    let stream = fixture.stream(ORDERS, EVERY);
    let mut faults = 0;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        nats.kill().await?;
        faults += 1;
        tokio::time::sleep(Duration::from_secs(2)).await;
        nats.restart().await?;
    }
    let orders = stream.await??;
    check("nats killed/restarted", &mut fixture, &orders, faults).await?;
    fixture.stack.stop().await
}

#[tokio::test]
async fn a_flushed_redis_is_rebuilt_from_the_event_stores_with_nothing_lost() -> anyhow::Result<()>
{
    let redis = PrivateRedis::start().await?;
    let servers = Servers {
        redis_url: redis.url(),
        ..Servers::default()
    };
    let mut fixture = Fixture::start(servers).await?;
    let stream = fixture.stream(ORDERS, EVERY);
    let mut faults = 0;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        redis.flush_all().await?;
        faults += 1;
    }
    let orders = stream.await??;
    every_order_ends(&mut fixture.stack, &orders).await?;
    // What the flush took is back only from the stores: rebuild, then check that the
    // rebuilt views hold every order's effect and equal yet another rebuild.
    rebuild(&fixture.stack).await?;
    check("redis flushed", &mut fixture, &orders, faults).await?;
    fixture.stack.stop().await
}

/// Terminates every backend connected to the stack's databases; returns how many.
async fn terminate_backends(stack: &TestStack) -> anyhow::Result<usize> {
    let databases: Vec<String> = [
        "inventory",
        "order",
        "user",
        "notification",
        "payment",
        "saga",
        "analytics",
    ]
    .iter()
    .map(|service| format!("e2e_{service}_{}", stack.id))
    .collect();
    let admin = sqlx::PgPool::connect(ADMIN_DATABASE_URL).await?;
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = ANY($1) AND pid <> pg_backend_pid()",
    )
    .bind(&databases)
    .fetch_all(&admin)
    .await?;
    admin.close().await;
    Ok(terminated.into_iter().filter(|t| *t).count())
}

#[tokio::test]
async fn postgres_backends_terminated_mid_stream_lose_no_order() -> anyhow::Result<()> {
    let mut fixture = Fixture::start(Servers::default()).await?;
    let stream = fixture.stream(ORDERS, EVERY);
    let mut faults = 0;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        faults += terminate_backends(&fixture.stack).await?;
    }
    let orders = stream.await??;
    anyhow::ensure!(faults > 0, "no backend was terminated");
    check(
        "postgres backends terminated",
        &mut fixture,
        &orders,
        faults,
    )
    .await?;
    fixture.stack.stop().await
}
