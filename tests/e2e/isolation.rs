//! Database per service: each service's role reaches its own database and no other,
//! and holds no power to make itself more (superuser, new databases, new roles).
//! Uses the roles and databases created by `scripts/db-bootstrap.sh`.

/// Every service with a database of its own: role and database are `<service>_svc`.
const SERVICES: [&str; 7] = [
    "inventory",
    "order",
    "user",
    "payment",
    "notification",
    "saga",
    "analytics",
];

async fn connect(role: &str, database: &str) -> Result<sqlx::PgConnection, sqlx::Error> {
    use sqlx::Connection;
    sqlx::PgConnection::connect(&format!("postgres://{role}@127.0.0.1:5432/{database}")).await
}

#[tokio::test]
async fn a_service_role_is_refused_by_every_other_services_database() -> anyhow::Result<()> {
    let mut refusals = 0;
    for role in SERVICES.map(|s| format!("{s}_svc")) {
        for database in SERVICES.map(|s| format!("{s}_svc")) {
            if role == database {
                continue;
            }
            let refused = connect(&role, &database).await;
            let error = refused.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                error.contains("permission denied"),
                "{role} reached {database}: {error:?}"
            );
            refusals += 1;
        }
    }
    assert_eq!(refusals, SERVICES.len() * (SERVICES.len() - 1));
    Ok(())
}

#[tokio::test]
async fn a_service_role_reaches_its_own_database_and_nothing_more() -> anyhow::Result<()> {
    for role in SERVICES.map(|s| format!("{s}_svc")) {
        let mut connection = connect(&role, &role).await?;
        let powers: (bool, bool, bool) = sqlx::query_as(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&mut connection)
        .await?;
        assert_eq!(powers, (false, false, false), "{role} has powers");
    }
    Ok(())
}
