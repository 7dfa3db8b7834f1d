//! The Redis views of orders, each a Lua script so its check and its writes are one
//! atomic step (Redis runs a script alone), as for `stock_levels`:
//!
//! - `order_status`: a hash `order_status:{order_id}` (`order_id`, `customer_id`,
//!   `status`, `updated_at` in epoch milliseconds, `version`), versioned by the order's
//!   sequence.
//! - `best_sellers`: the sorted set `best_sellers`, units sold per sku from the confirmed
//!   orders. An order's confirmation adds its lines, its cancellation after confirmation
//!   takes them back (a sku down to 0 leaves the ranking); the hash
//!   `best_sellers:order:{order_id}` remembers each order's lines, status and sequence,
//!   so an event applied again (sequence <= version) moves nothing.
//! - `recent_orders`: a sorted set `recent_orders:{customer_id}` per customer, order ids
//!   scored by the time placed (epoch ms), cut to the newest [`RECENT_ORDERS_CAP`]. A set
//!   keyed by order id: adding one again changes nothing, and the newest stay whatever
//!   order they come in.
//!
//! Redis does not roll a script back when a command in it fails, so each validates what
//! it reads before its first write.

use std::sync::LazyLock;

use platform::envelope::EventEnvelope;
use redis::aio::ConnectionManager;
use redis::Script;

use super::events::{OrderEvent, OrderLine};
use super::Outcome;

/// How many orders `recent_orders` keeps per customer.
pub const RECENT_ORDERS_CAP: i64 = 20;

static ORDER_STATUS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local version = redis.call('HGET', KEYS[1], 'version')
if version and not string.match(version, '^%d+$') then
    return redis.error_reply('order status ' .. KEYS[1] .. ' holds a non-integer version')
end
if tonumber(ARGV[1]) <= tonumber(version or '0') then
    return 0
end
redis.call('HSET', KEYS[1], 'order_id', ARGV[2], 'status', ARGV[3], 'updated_at', ARGV[5],
    'version', ARGV[1])
if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[1], 'customer_id', ARGV[4])
end
return 1
",
    )
});

static BEST_SELLERS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local memo = redis.call('HMGET', KEYS[2], 'version', 'status', 'lines')
if memo[1] and not string.match(memo[1], '^%d+$') then
    return redis.error_reply('order memo ' .. KEYS[2] .. ' holds a non-integer version')
end
if tonumber(ARGV[1]) <= tonumber(memo[1] or '0') then
    return 0
end
local encoded = ARGV[3]
if encoded == '' then encoded = memo[3] or '[]' end
local ok, lines = pcall(cjson.decode, encoded)
if not ok or type(lines) ~= 'table' then
    return redis.error_reply('order memo ' .. KEYS[2] .. ' holds unreadable lines')
end
for _, line in ipairs(lines) do
    if type(line[1]) ~= 'string' or type(line[2]) ~= 'number' then
        return redis.error_reply('order memo ' .. KEYS[2] .. ' holds a malformed line')
    end
end
local sign = (ARGV[2] == 'confirmed' and 1 or 0) - (memo[2] == 'confirmed' and 1 or 0)
if sign ~= 0 then
    for _, line in ipairs(lines) do
        local units = redis.call('ZINCRBY', KEYS[1], sign * line[2], line[1])
        if tonumber(units) <= 0 then
            redis.call('ZREM', KEYS[1], line[1])
        end
    end
end
redis.call('HSET', KEYS[2], 'version', ARGV[1], 'status', ARGV[2], 'lines', encoded)
return 1
",
    )
});

static RECENT_ORDERS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
return added
",
    )
});

fn outcome(applied: i64) -> Outcome {
    if applied == 1 {
        Outcome::Applied
    } else {
        Outcome::AlreadyApplied
    }
}

/// One run of a view's script for one event: run alone ([`ScriptCall::run`]) or with
/// the rest of a page in one pipeline ([`run_pipelined`]).
pub struct ScriptCall {
    script: &'static Script,
    command: redis::Cmd,
}

impl ScriptCall {
    fn new(script: &'static Script, keys: &[&str]) -> Self {
        let mut command = redis::cmd("EVALSHA");
        command.arg(script.get_hash()).arg(keys.len()).arg(keys);
        Self { script, command }
    }

    fn arg(mut self, arg: impl redis::ToRedisArgs) -> Self {
        self.command.arg(arg);
        self
    }

    /// Runs the script, loading it first if Redis lost it (a restart, `SCRIPT FLUSH`).
    pub async fn run(&self, redis: &ConnectionManager) -> Result<Outcome, redis::RedisError> {
        let mut redis = redis.clone();
        let applied = match self.command.query_async::<i64>(&mut redis).await {
            Err(err)
                if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                self.script.prepare_invoke().load_async(&mut redis).await?;
                self.command.query_async::<i64>(&mut redis).await?
            }
            other => other?,
        };
        Ok(outcome(applied))
    }
}

/// Runs `calls` in order in one round trip, after loading their scripts (idempotent,
/// and it spares a `NOSCRIPT` halfway through the page). An error from any call fails
/// the whole: the calls before it took effect, which idempotent scripts make harmless
/// when the page is applied again.
pub async fn run_pipelined(
    redis: &ConnectionManager,
    calls: &[ScriptCall],
) -> Result<(), redis::RedisError> {
    let mut redis = redis.clone();
    let mut loaded: Vec<&str> = Vec::new();
    for call in calls {
        if !loaded.contains(&call.script.get_hash()) {
            call.script.prepare_invoke().load_async(&mut redis).await?;
            loaded.push(call.script.get_hash());
        }
    }
    let mut pipeline = redis::pipe();
    for call in calls {
        pipeline.add_command(call.command.clone()).ignore();
    }
    pipeline.query_async::<()>(&mut redis).await
}

/// The `order_status` call for an order event on the hash at `key`.
pub fn status_call(key: &str, envelope: &EventEnvelope, order: &OrderEvent) -> ScriptCall {
    let customer = match order {
        OrderEvent::OrderPlaced(placed) => placed.customer_id.as_str(),
        _ => "",
    };
    ScriptCall::new(&ORDER_STATUS, &[key])
        .arg(envelope.sequence)
        .arg(order.order_id())
        .arg(order.status())
        .arg(customer)
        .arg(envelope.occurred_at.timestamp_millis())
}

/// The lines as the memo keeps them: `[[sku, quantity], ...]`.
fn encode_lines(lines: &[OrderLine]) -> String {
    let pairs: Vec<(&str, i64)> = lines.iter().map(|l| (l.sku.as_str(), l.quantity)).collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_string())
}

/// The `best_sellers` call for an order event: the ranking at `ranking`, the order's
/// memo at `memo`.
pub fn best_sellers_call(
    (ranking, memo): (&str, &str),
    envelope: &EventEnvelope,
    order: &OrderEvent,
) -> ScriptCall {
    let lines = match order {
        OrderEvent::OrderPlaced(placed) => encode_lines(&placed.lines),
        _ => String::new(),
    };
    ScriptCall::new(&BEST_SELLERS, &[ranking, memo])
        .arg(envelope.sequence)
        .arg(order.status())
        .arg(lines)
}

/// The `recent_orders` call adding a placed order to its customer's set at `key`;
/// `None` for the other order events, which this view does not take.
pub fn recent_call(key: &str, envelope: &EventEnvelope, order: &OrderEvent) -> Option<ScriptCall> {
    let OrderEvent::OrderPlaced(placed) = order else {
        return None;
    };
    let call = ScriptCall::new(&RECENT_ORDERS, &[key])
        .arg(&placed.order_id)
        .arg(envelope.occurred_at.timestamp_millis())
        .arg(RECENT_ORDERS_CAP);
    Some(call)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_as_sku_quantity_pairs() {
        let lines = [OrderLine {
            sku: "A\"1".into(),
            quantity: 3,
            unit_price_cents: 10,
        }];
        assert_eq!(encode_lines(&lines), r#"[["A\"1",3]]"#);
    }
}
