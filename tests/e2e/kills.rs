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
    let mut saga = process(&stack, ("saga", "saga"), "SAGA_DATABASE_URL", &url).await?;
    stack.saga_url = format!("http://127.0.0.1:{}", saga.port);
    let (customer, sku) = customer_and_product(&stack, 100).await?;

    let orders = place_batch(&stack, &customer, &sku, 12).await?;
    kill_mid_batch(&stack, &mut saga, Duration::from_millis(400)).await?;

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
    let binary = ("payment", "payment-service");
    let mut payment = process(&stack, binary, "PAYMENT_DATABASE_URL", &url).await?;
    stack.start_saga_service().await?;
    let (customer, sku) = customer_and_product(&stack, 100).await?;

    let orders = place_batch(&stack, &customer, &sku, 12).await?;
    kill_mid_batch(&stack, &mut payment, Duration::from_millis(300)).await?;

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
        kill_mid_batch(&stack, process, Duration::from_millis(300)).await?;
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
    let variable = format!("{}_DATABASE_URL", service.to_uppercase());
    let binary = format!("{service}-service");
    let started = process(stack, (service, &binary), &variable, &url).await?;
    stack.add_feed(service, started.port);
    Ok(started)
}

/// `(package, binary)` on the stack's broker and `database_url` (given as `variable`),
/// once healthy.
async fn process(
    stack: &TestStack,
    (package, binary): (&str, &str),
    variable: &str,
    database_url: &str,
) -> anyhow::Result<ServiceProcess> {
    let port = free_port()?;
    let env = stack.process_env(variable, database_url, port);
    let process = ServiceProcess::start(package, binary, env, port).await?;
    stack.healthy(port).await?;
    Ok(process)
}

/// SIGKILLs `process` `after` into a batch, and starts it again a second later.
async fn kill_mid_batch(
    stack: &TestStack,
    process: &mut ServiceProcess,
    after: Duration,
) -> anyhow::Result<()> {
    tokio::time::sleep(after).await;
    process.kill().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    process.restart().await?;
    stack.healthy(process.port).await
}
