//! Executes user commands against the event store, and maps outcomes to command-bus
//! replies.
//!
//! `UpdateProfile` and `DeactivateUser` go through cqrs-es ([`platform::aggregates`]:
//! load from memory or the store, `handle`, group-committed append with optimistic
//! concurrency). `RegisterUser` spans the user and the claim on its email
//! address: both are loaded, a pure decision is taken, and both aggregates' events are
//! appended in one statement. A concurrency conflict re-runs the decision on fresh
//! state, which is how the loser of a race for one address learns it is taken.

use std::collections::HashMap;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::EventStore;
use platform::aggregates::{Aggregates, MAX_ATTEMPTS};
use platform::append::{Appender, DEFAULT_FLUSHERS};
use platform::command_bus::{CommandHandler, IncomingCommand, Outcome, Unavailable};
use platform::cqrs::{decode_tagged, outcome};
use platform::store;
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;

use crate::domain::email::claim_key;
use crate::domain::{registration, EmailClaim, User, UserCommand, UserError};

/// Every command the service knows, with its JSON Schema, for the command bus.
pub const SCHEMAS: &[(&str, &str)] = &[
    (
        "RegisterUser",
        include_str!("../../../schemas/commands/user/RegisterUser.v1.json"),
    ),
    (
        "UpdateProfile",
        include_str!("../../../schemas/commands/user/UpdateProfile.v1.json"),
    ),
    (
        "DeactivateUser",
        include_str!("../../../schemas/commands/user/DeactivateUser.v1.json"),
    ),
];

type Store<A> = PersistedEventStore<PostgresEventRepository, A>;

/// Why a command did not take effect.
pub type ExecutionError = platform::cqrs::ExecutionError<UserError>;

pub struct Users {
    appender: Appender,
    users: Aggregates<User>,
    claims: Store<EmailClaim>,
}

impl Users {
    pub fn new(pool: PgPool) -> Self {
        let appender = Appender::new(pool.clone(), DEFAULT_FLUSHERS);
        Self {
            users: Aggregates::new(&pool, &appender, ()),
            claims: PersistedEventStore::new_event_store(PostgresEventRepository::new(
                pool.clone(),
            )),
            appender,
        }
    }

    /// Executes one command; `metadata` (command, correlation and causation ids) is
    /// stored with every event it appends.
    pub async fn execute(
        &self,
        command: UserCommand,
        metadata: HashMap<String, String>,
    ) -> Result<(), ExecutionError> {
        match command {
            UserCommand::RegisterUser {
                user_id,
                email,
                name,
            } => self.register(&user_id, &email, &name, metadata).await,
            other => {
                let id = other.user_id().to_string();
                self.users
                    .execute(&id, other, metadata)
                    .await
                    .map_err(ExecutionError::from)
            }
        }
    }

    /// Registers, deciding again on fresh state whenever another writer appended to the
    /// user or the claim first.
    async fn register(
        &self,
        user_id: &str,
        email: &str,
        name: &str,
        metadata: HashMap<String, String>,
    ) -> Result<(), ExecutionError> {
        for _ in 0..MAX_ATTEMPTS {
            match self.try_register(user_id, email, name, &metadata).await {
                Err(ExecutionError::Conflict) => continue,
                other => return other,
            }
        }
        Err(ExecutionError::Conflict)
    }

    /// Loads the user and the claim on the address, decides, and appends both
    /// aggregates' events in one transaction.
    async fn try_register(
        &self,
        user_id: &str,
        email: &str,
        name: &str,
        metadata: &HashMap<String, String>,
    ) -> Result<(), ExecutionError> {
        let key = claim_key(email);
        let (user, user_sequence) = self.users.load(user_id).await?;
        let claim = self.claims.load_aggregate(&key).await?;
        let decision = registration::register(&user, &claim.aggregate, user_id, email, name)
            .map_err(ExecutionError::Rule)?;
        // The user comes first: the reply names it, and lists its events first.
        let appends = [
            store::serialize_events::<User>(user_id, user_sequence, &decision.user, metadata)?,
            store::serialize_events::<EmailClaim>(
                &key,
                claim.current_sequence,
                &decision.claim,
                metadata,
            )?,
        ];
        let appended = self.appender.append_all(&appends).await;
        self.users.forget(user_id);
        Ok(appended?)
    }
}

impl CommandHandler for Users {
    async fn execute(&self, command: IncomingCommand) -> Result<Outcome, Unavailable> {
        let decoded: UserCommand = match decode_tagged(SCHEMAS, &command.name, command.body) {
            Ok(decoded) => decoded,
            Err(rejection) => return Ok(rejection),
        };
        let aggregate_id = decoded.user_id().to_string();
        let result = Users::execute(self, decoded, command.context.to_metadata()).await;
        outcome(aggregate_id, result)
    }
}
