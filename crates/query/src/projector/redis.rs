//! The Redis projection `stock_levels`: one hash `stock:{sku}` with the fields
//! `available`, `reserved`, `sold` and `version`.
//!
//! The version check and the counter moves run in one Lua script, so they are atomic:
//! no reader sees half an event, and a redelivered event (sequence <= version) is a
//! no-op even if two projector instances race on it. Redis does not roll a script
//! back when a command in it fails, so the script validates every field before its
//! first write: a corrupted hash fails the event (to be retried) without moving
//! anything.

use redis::aio::ConnectionManager;
use redis::Script;

use super::events::FeedEnvelope;
use super::events::ProductEvent;
use super::Outcome;

const APPLY_STOCK_DELTA: &str = r"
local fields = redis.call('HMGET', KEYS[1], 'version', 'available', 'reserved', 'sold')
for _, value in ipairs(fields) do
    if value and not string.match(value, '^-?%d+$') then
        return redis.error_reply('stock hash ' .. KEYS[1] .. ' holds a non-integer field')
    end
end
if tonumber(ARGV[1]) <= tonumber(fields[1] or '0') then
    return 0
end
redis.call('HINCRBY', KEYS[1], 'available', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'sold', ARGV[4])
redis.call('HSET', KEYS[1], 'version', ARGV[1])
return 1
";

/// Writes stock levels; holds the script so its SHA is computed once.
#[derive(Clone)]
pub struct StockLevels {
    script: std::sync::Arc<Script>,
}

impl Default for StockLevels {
    fn default() -> Self {
        Self {
            script: std::sync::Arc::new(Script::new(APPLY_STOCK_DELTA)),
        }
    }
}

impl StockLevels {
    /// Applies a product event to the hash at `key`. `ProductAdded` moves nothing but
    /// still creates the hash at zero, so a new product reads as "0 available".
    pub async fn apply(
        &self,
        redis: &ConnectionManager,
        key: &str,
        envelope: &FeedEnvelope,
        event: &ProductEvent,
    ) -> Result<Outcome, redis::RedisError> {
        let delta = event.stock_delta();
        let mut redis = redis.clone();
        let applied: i64 = self
            .script
            .key(key)
            .arg(envelope.sequence)
            .arg(delta.available)
            .arg(delta.reserved)
            .arg(delta.sold)
            .invoke_async(&mut redis)
            .await?;
        Ok(if applied == 1 {
            Outcome::Applied
        } else {
            Outcome::AlreadyApplied
        })
    }
}

/// Deletes every key matching `pattern` (a dropped or reset version of the view),
/// scanning in batches so Redis is never blocked by one large command.
pub async fn delete_matching(
    redis: &ConnectionManager,
    pattern: &str,
) -> Result<(), redis::RedisError> {
    let mut redis = redis.clone();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(500)
            .query_async(&mut redis)
            .await?;
        if !keys.is_empty() {
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<i64>(&mut redis)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}
