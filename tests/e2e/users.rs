//! Users end to end: registration with an address no other user holds (whatever its
//! case), the address checked by the domain, races for one address, deactivation.

use std::collections::HashMap;
use std::sync::Arc;

use e2e::TestStack;
use platform::command_bus::ReplyStatus;
use platform::envelope::COMMAND_ID;
use serde_json::{json, Value};
use user::application::ExecutionError;
use user::domain::{UserCommand, UserError};

use crate::support::{assert_accepted, assert_rejected};

fn register(user_id: &str, email: &str) -> Value {
    json!({"user_id": user_id, "email": email, "name": format!("User {user_id}")})
}

#[tokio::test]
async fn an_address_is_registered_once_whatever_its_case_and_checked_by_the_domain(
) -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let registered = stack
        .send("user.RegisterUser", register("ann", "Ann@Example.com"))
        .await?;
    assert_accepted(&registered);
    assert_eq!(registered.aggregate_id.as_deref(), Some("ann"));
    assert_eq!(registered.version, Some(1));
    assert_eq!(
        registered.events,
        vec!["UserRegistered".to_string(), "EmailClaimed".to_string()]
    );

    let cases = [
        (register("bob", "ann@EXAMPLE.com"), "email_taken"),
        (register("ann", "ann.lee@example.com"), "already_registered"),
        // Malformed, yet schema-valid: the domain's validator answers.
        (register("cy", "cy@localhost"), "invalid_email"),
        (register("cy", "cy at example.com"), "invalid_email"),
        // The schema bounds the field, so an empty address never reaches the domain.
        (register("cy", ""), "schema_violation"),
    ];
    for (body, code) in cases {
        let reply = stack.send("user.RegisterUser", body).await?;
        assert_rejected(&reply, code);
    }
    stack.stop().await
}

#[tokio::test]
async fn of_concurrent_registrations_of_one_address_exactly_one_wins() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let attempts = (0..8).map(|n| {
        let email = if n % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        stack.send("user.RegisterUser", register(&format!("racer-{n}"), email))
    });
    let replies = futures::future::try_join_all(attempts).await?;
    let winners = replies
        .iter()
        .filter(|r| r.status == ReplyStatus::Accepted)
        .count();
    assert_eq!(winners, 1, "one registration per address: {replies:?}");
    for reply in replies.iter().filter(|r| r.status == ReplyStatus::Rejected) {
        assert_rejected(reply, "email_taken");
    }

    // The command bus decides one command at a time, so also race the handler itself on
    // the service's database: there the appends really interleave.
    let pool = sqlx::PgPool::connect(&stack.user_database_url).await?;
    let outcomes = race_the_handler(&pool, "direct@example.com", 8).await?;
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(won, 1, "one registration per address: {outcomes:?}");
    for outcome in outcomes.iter().filter(|o| o.is_err()) {
        assert!(
            matches!(outcome, Err(ExecutionError::Rule(UserError::EmailTaken))),
            "{outcome:?}"
        );
    }
    for key in ["race@example.com", "direct@example.com"] {
        assert_eq!(claims_on(&pool, key).await?, 1, "claims on {key}");
    }
    pool.close().await;
    stack.stop().await
}

/// Registers `racers` users with one address straight through the handler, all at once.
async fn race_the_handler(
    pool: &sqlx::PgPool,
    email: &str,
    racers: usize,
) -> anyhow::Result<Vec<Result<(), ExecutionError>>> {
    let users = Arc::new(user::Users::new(pool.clone()));
    let tasks = (0..racers).map(|n| {
        let (users, email) = (users.clone(), email.to_string());
        tokio::spawn(async move {
            let user_id = format!("direct-{n}");
            let metadata = HashMap::from([(COMMAND_ID.to_string(), user_id.clone())]);
            let name = "Racer".to_string();
            let command = UserCommand::RegisterUser {
                user_id,
                email,
                name,
            };
            users.execute(command, metadata).await
        })
    });
    Ok(futures::future::try_join_all(tasks).await?)
}

/// How many events the claim on `key` holds in the service's store.
async fn claims_on(pool: &sqlx::PgPool, key: &str) -> anyhow::Result<i64> {
    let count = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'EmailClaim' AND aggregate_id = $1",
    )
    .bind(key)
    .fetch_one(pool)
    .await?;
    Ok(count)
}

#[tokio::test]
async fn a_deactivated_user_can_no_longer_update_their_profile() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    assert_accepted(
        &stack
            .send("user.RegisterUser", register("dee", "dee@example.com"))
            .await?,
    );
    let renamed = stack
        .send(
            "user.UpdateProfile",
            json!({"user_id": "dee", "name": "Dee Lee"}),
        )
        .await?;
    assert_eq!(renamed.events, vec!["ProfileUpdated".to_string()]);

    let deactivate = json!({"user_id": "dee"});
    let deactivated = stack
        .send("user.DeactivateUser", deactivate.clone())
        .await?;
    assert_eq!(deactivated.events, vec!["UserDeactivated".to_string()]);
    let again = stack.send("user.DeactivateUser", deactivate).await?;
    assert_accepted(&again);
    assert!(
        again.events.is_empty(),
        "a second deactivation changes nothing: {again:?}"
    );

    let update = json!({"user_id": "dee", "name": "Dee"});
    let refused = stack.send("user.UpdateProfile", update).await?;
    assert_rejected(&refused, "user_deactivated");
    let unknown = json!({"user_id": "nobody", "name": "No One"});
    assert_rejected(
        &stack.send("user.UpdateProfile", unknown).await?,
        "unknown_user",
    );
    stack.stop().await
}
