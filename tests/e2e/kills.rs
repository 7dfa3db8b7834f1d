//! Services killed mid-batch as their only instance: the saga, the payment service, and
//! the inventory and order services, each a process of its own SIGKILLed while a batch
//! of orders is under way and started again. Whatever it held (prefetched commands, an
//! open transaction, an unconfirmed relay batch) must be redelivered or redone, and
//! every order still end whole or undone, the stock adding up. (`tests/faults` kills
//! every service binary beside in-process copies, under a steady stream.)

use std::time::Duration;

use e2e::saga::{free_port, ServiceProcess};
use e2e::TestStack;

use crate::sagas::{all_finish_whole, customer_and_product, place_batch};

#[tokio::test]
async fn a_saga_process_killed_mid_batch_finishes_every_order_once() -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    stack.start_payments().await?;
    let url = stack.saga_database().await?;
    let port = free_port()?;
    let env = stack.process_env("SAGA_DATABASE_URL", &url, port);
    let mut saga = ServiceProcess::start("saga", "saga", env, port).await?;
    stack.healthy(port).await?;
    stack.saga_url = format!("http://127.0.0.1:{port}");
    let (customer, sku) = customer_and_product(&stack, 100).await?;

    let orders = place_batch(&stack, &customer, &sku, 12).await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    saga.kill().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    saga.restart().await?;
    stack.healthy(port).await?;

    let sold = all_finish_whole(&mut stack, &orders, &sku, 100).await?;
    assert!(sold > 0, "some orders complete");
    saga.kill().await?;
    stack.stop().await
}

#[tokio::test]
async fn a_payment_service_killed_mid_batch_leaves_every_order_whole_or_undone(
) -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    stack.start_payment_gateway().await?;
    let url = stack.payment_database().await?;
    let port = free_port()?;
    let env = stack.process_env("PAYMENT_DATABASE_URL", &url, port);
    let mut payment = ServiceProcess::start("payment", "payment-service", env, port).await?;
    stack.healthy(port).await?;
    stack.start_saga_service().await?;
    let (customer, sku) = customer_and_product(&stack, 100).await?;

    let orders = place_batch(&stack, &customer, &sku, 12).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    payment.kill().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    payment.restart().await?;
    stack.healthy(port).await?;

    all_finish_whole(&mut stack, &orders, &sku, 100).await?;
    payment.kill().await?;
    stack.stop().await
}

#[tokio::test]
async fn the_inventory_and_order_services_killed_mid_batch_leave_every_order_whole_or_undone(
) -> anyhow::Result<()> {
    let mut stack = TestStack::start_apart(&["inventory", "order"]).await?;
    let mut inventory = write_side(&mut stack, "inventory").await?;
    let mut order = write_side(&mut stack, "order").await?;
    stack.start_saga().await?;
    let (customer, sku) = customer_and_product(&stack, 100).await?;

    let orders = place_batch(&stack, &customer, &sku, 12).await?;
    for process in [&mut inventory, &mut order] {
        tokio::time::sleep(Duration::from_millis(300)).await;
        process.kill().await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        process.restart().await?;
        stack.healthy(process.port).await?;
    }

    let sold = all_finish_whole(&mut stack, &orders, &sku, 100).await?;
    assert!(sold > 0, "some orders complete");
    inventory.kill().await?;
    order.kill().await?;
    stack.stop().await
}

/// `service`'s binary on the stack's database and broker, its feed read by the query
/// service.
async fn write_side(stack: &mut TestStack, service: &str) -> anyhow::Result<ServiceProcess> {
    let url = match service {
        "inventory" => stack.inventory_database_url.clone(),
        _ => stack.order_database_url.clone(),
    };
    let port = free_port()?;
    let variable = format!("{}_DATABASE_URL", service.to_uppercase());
    let env = stack.process_env(&variable, &url, port);
    let binary = format!("{service}-service");
    let process = ServiceProcess::start(service, &binary, env, port).await?;
    stack.healthy(port).await?;
    stack.add_feed(service, port);
    Ok(process)
}
