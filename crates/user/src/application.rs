//! Executes user commands against the event store, and maps outcomes to command-bus
//! replies.
//!
//! `UpdateProfile` and `DeactivateUser` go through cqrs-es (load, `handle`, append with
//! optimistic concurrency). `RegisterUser` spans the user and the claim on its email
//! address: both are loaded, a pure decision is taken, and both aggregates' events are
//! appended in one transaction. A concurrency conflict re-runs the decision on fresh
//! state, which is how the loser of a race for one address learns it is taken.

use std::collections::HashMap;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{CqrsFramework, EventStore};
use platform::command_bus::{CommandHandler, IncomingCommand, Outcome, Unavailable};
use platform::cqrs::{decode_tagged, outcome};
use platform::store;
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;

use crate::domain::email::claim_key;
use crate::domain::{registration, EmailClaim, User, UserCommand, UserError};

/// How often a command is re-decided after losing an optimistic-concurrency race.
const MAX_ATTEMPTS: usize = 5;

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
    pool: PgPool,
    cqrs: CqrsFramework<User, Store<User>>,
    user_store: Store<User>,
    claims: Store<EmailClaim>,
}

impl Users {
    pub fn new(pool: PgPool) -> Self {
        let repository = || PostgresEventRepository::new(pool.clone());
        Self {
            cqrs: CqrsFramework::new(
                PersistedEventStore::new_event_store(repository()),
                vec![],
                (),
            ),
            user_store: PersistedEventStore::new_event_store(repository()),
            claims: PersistedEventStore::new_event_store(repository()),
            pool,
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
                platform::cqrs::execute_with_retry(&self.cqrs, &id, other, metadata, MAX_ATTEMPTS)
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
        let user = self.user_store.load_aggregate(user_id).await?;
        let claim = self.claims.load_aggregate(&key).await?;
        let decision =
            registration::register(&user.aggregate, &claim.aggregate, user_id, email, name)
                .map_err(ExecutionError::Rule)?;
        // The user comes first: the reply names it, and lists its events first.
        let appends = [
            store::serialize_events::<User>(
                user_id,
                user.current_sequence,
                &decision.user,
                metadata,
            )?,
            store::serialize_events::<EmailClaim>(
                &key,
                claim.current_sequence,
                &decision.claim,
                metadata,
            )?,
        ];
        Ok(store::append_atomically(&self.pool, &appends).await?)
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
