//! The command side of one aggregate type: cqrs-es's framework over an event store
//! that keeps recently used aggregates in memory and group-commits appends
//! ([`crate::append`]).
//!
//! # Why a cache is safe here
//! An aggregate is cached with the sequence of its last event, and a command decided on
//! it appends at the next sequence. If anything else appended to that aggregate in the
//! meantime (another replica, a multi-aggregate transaction), that sequence is taken:
//! the append fails as a conflict, the entry is dropped, and the command is decided
//! again on state loaded from the store. So a stale entry can never write; it could
//! only wrongly *refuse* a command, which is why a rejection decided on cached state is
//! confirmed on fresh state before it is returned.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use cqrs_es::persist::{
    EventStoreAggregateContext, PersistedEventRepository, PersistedEventStore, PersistenceError,
    ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, EventEnvelope, EventStore};
use hashlink::LruCache;
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlx::PgPool;

use crate::append::Appender;
use crate::store::StoreError;

/// Aggregates kept in memory per aggregate type.
pub const CACHE_CAPACITY: usize = 10_000;

/// How often a command is decided again after losing a race (or being refused on
/// cached state) before the conflict is returned.
pub const MAX_ATTEMPTS: usize = 5;

type Cache<A> = Arc<Mutex<LruCache<String, (A, usize)>>>;

/// Executes commands on aggregates of type `A`.
pub struct Aggregates<A: Aggregate + Clone> {
    cqrs: CqrsFramework<A, CachedStore<A>>,
    /// The same store as the framework's, for loads outside a command.
    store: CachedStore<A>,
    cache: Cache<A>,
}

impl<A: Aggregate + Clone> Aggregates<A> {
    /// Commands on `A`, loaded through `pool` and appended by `appender`; `services`
    /// are what `A::handle` may call.
    pub fn new(pool: &PgPool, appender: &Appender, services: A::Services) -> Self {
        let cache: Cache<A> = Arc::new(Mutex::new(LruCache::new(CACHE_CAPACITY)));
        let store = || CachedStore {
            inner: PersistedEventStore::new_event_store(GroupRepository::new(pool, appender)),
            cache: Arc::clone(&cache),
        };
        Self {
            cqrs: CqrsFramework::new(store(), vec![], services),
            store: store(),
            cache,
        }
    }

    /// Executes one command, deciding it again on fresh state when another writer
    /// appended to the aggregate first, or when it was refused on cached state.
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
    ) -> Result<(), AggregateError<A::Error>>
    where
        A::Command: Clone,
    {
        for _ in 1..MAX_ATTEMPTS {
            let cached = self.is_cached(aggregate_id);
            let result = self
                .cqrs
                .execute_with_metadata(aggregate_id, command.clone(), metadata.clone())
                .await;
            match result {
                Err(AggregateError::AggregateConflict) => {
                    metrics::counter!("command_conflicts_total", "aggregate" => A::TYPE)
                        .increment(1);
                }
                Err(AggregateError::UserError(_)) if cached => self.forget(aggregate_id),
                other => return other,
            }
        }
        self.forget(aggregate_id);
        self.cqrs
            .execute_with_metadata(aggregate_id, command, metadata)
            .await
    }

    /// The aggregate's current state and the sequence of its last event, always from
    /// the store: for decisions taken outside a command, which no conflict would catch
    /// if they rested on an entry cached before another replica's append.
    pub async fn load(&self, aggregate_id: &str) -> Result<(A, usize), AggregateError<A::Error>> {
        let context = self.store.inner.load_aggregate(aggregate_id).await?;
        Ok((context.aggregate, context.current_sequence))
    }

    /// Drops an aggregate from memory: its next command loads it from the store. For
    /// appends made outside this type (one transaction over several aggregates).
    pub fn forget(&self, aggregate_id: &str) {
        lock(&self.cache).remove(aggregate_id);
    }

    fn is_cached(&self, aggregate_id: &str) -> bool {
        lock(&self.cache).contains_key(aggregate_id)
    }
}

fn lock<A>(cache: &Cache<A>) -> std::sync::MutexGuard<'_, LruCache<String, (A, usize)>> {
    cache.lock().unwrap_or_else(PoisonError::into_inner)
}

/// cqrs-es's event store, with the aggregates it last committed kept in memory.
pub struct CachedStore<A: Aggregate> {
    inner: PersistedEventStore<GroupRepository, A>,
    cache: Cache<A>,
}

impl<A: Aggregate + Clone> EventStore<A> for CachedStore<A> {
    type AC = EventStoreAggregateContext<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        self.inner.load_events(aggregate_id).await
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<Self::AC, AggregateError<A::Error>> {
        let cached = lock(&self.cache).get(aggregate_id).cloned();
        match cached {
            Some((aggregate, current_sequence)) => Ok(EventStoreAggregateContext {
                aggregate_id: aggregate_id.to_string(),
                aggregate,
                current_sequence,
                current_snapshot: None,
            }),
            None => self.inner.load_aggregate(aggregate_id).await,
        }
    }

    /// `context` holds the aggregate as `handle` left it, with the new events applied
    /// (cqrs-es's sink applies each event as it is written): once they are stored,
    /// that is the aggregate's state at its new sequence.
    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: Self::AC,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let id = context.aggregate_id.clone();
        let next = (
            context.aggregate.clone(),
            context.current_sequence + events.len(),
        );
        let committed = self.inner.commit(events, context, metadata).await;
        let mut cache = lock(&self.cache);
        match &committed {
            Ok(_) => cache.insert(id, next),
            Err(_) => cache.remove(&id),
        };
        committed
    }
}

/// postgres-es's repository for reads, [`Appender`] for writes.
pub struct GroupRepository {
    reads: PostgresEventRepository,
    appender: Appender,
}

impl GroupRepository {
    pub fn new(pool: &PgPool, appender: &Appender) -> Self {
        Self {
            reads: PostgresEventRepository::new(pool.clone()),
            appender: appender.clone(),
        }
    }
}

impl PersistedEventRepository for GroupRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.reads.get_events::<A>(aggregate_id).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.reads
            .get_last_events::<A>(aggregate_id, last_sequence)
            .await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.reads.get_snapshot::<A>(aggregate_id).await
    }

    /// Snapshots are not used (the cache keeps hot aggregates instead); a store set up
    /// with them still gets postgres-es's own transaction.
    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            return self.reads.persist::<A>(events, snapshot_update).await;
        }
        match self.appender.append(events.to_vec()).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict) => Err(PersistenceError::OptimisticLockError),
            Err(other) => Err(PersistenceError::ConnectionError(Box::new(other))),
        }
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_events::<A>(aggregate_id).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_all_events::<A>().await
    }
}
