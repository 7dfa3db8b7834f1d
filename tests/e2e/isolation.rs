//! Database per service: each service's role reaches its own database and no other.
//! Uses the roles and databases created by `scripts/db-bootstrap.sh`.

async fn connect(role: &str, database: &str) -> Result<sqlx::PgConnection, sqlx::Error> {
    use sqlx::Connection;
    sqlx::PgConnection::connect(&format!("postgres://{role}@127.0.0.1:5432/{database}")).await
}

#[tokio::test]
async fn a_service_role_is_refused_by_another_services_database() -> anyhow::Result<()> {
    let refused = connect("order_svc", "inventory_svc").await;
    let error = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.contains("permission denied"),
        "order_svc reached inventory_svc: {error:?}"
    );
    let refused = connect("inventory_svc", "order_svc").await;
    assert!(refused.is_err(), "inventory_svc reached order_svc");
    Ok(())
}

#[tokio::test]
async fn a_service_role_reaches_its_own_database() -> anyhow::Result<()> {
    for service in ["inventory_svc", "order_svc"] {
        let mut connection = connect(service, service).await?;
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut connection)
            .await?;
        assert_eq!(one, 1);
    }
    Ok(())
}
