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
//! it reads for an order before that order's first write.
//!
//! A page of the feed is applied as one step per order (per customer for
//! `recent_orders`), whatever number of its events the page holds: an
//! [`OrderSummary`] stands for them, and leaves what they would have left one by one.
//! Each script call takes up to [`ORDERS_PER_CALL`] of those steps: a call costs Redis
//! several times what the commands in it do, and a page's calls fewer replies to parse,
//! while a call short enough (well under a millisecond) keeps Redis answering queries
//! between them. A failing step fails its call after the steps before it in the call
//! took effect, as a failing call in a pipeline does: the steps are idempotent.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::Script;

use super::events::FeedEnvelope;
use super::events::{OrderEvent, OrderLine};
use super::payloads::OrderPlaced;
use super::Outcome;

/// How many orders (customers for `recent_orders`) one script call takes at most.
pub const ORDERS_PER_CALL: usize = 100;

/// How many orders `recent_orders` keeps per customer.
pub const RECENT_ORDERS_CAP: i64 = 20;

static ORDER_STATUS: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
-- KEYS: one hash per order; ARGV: five per order (sequence, order id, status,
-- customer or '', updated at)
local applied = 0
for i, key in ipairs(KEYS) do
    local at = (i - 1) * 5
    local version = redis.call('HGET', key, 'version')
    if version and not string.match(version, '^%d+$') then
        return redis.error_reply('order status ' .. key .. ' holds a non-integer version')
    end
    if tonumber(ARGV[at + 1]) > tonumber(version or '0') then
        redis.call('HSET', key, 'order_id', ARGV[at + 2], 'status', ARGV[at + 3],
            'updated_at', ARGV[at + 5], 'version', ARGV[at + 1])
        if ARGV[at + 4] ~= '' then
            redis.call('HSET', key, 'customer_id', ARGV[at + 4])
        end
        applied = applied + 1
    end
end
return applied
",
    )
});

static BEST_SELLERS: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
-- KEYS[1]: the ranking, then one memo per order; ARGV: three per order (sequence,
-- status, lines or '')
local function apply(ranking, memo_key, sequence, status, encoded)
    local memo = redis.call('HMGET', memo_key, 'version', 'status', 'lines')
    if memo[1] and not string.match(memo[1], '^%d+$') then
        return redis.error_reply('order memo ' .. memo_key .. ' holds a non-integer version')
    end
    if tonumber(sequence) <= tonumber(memo[1] or '0') then
        return 0
    end
    if encoded == '' then encoded = memo[3] or '[]' end
    local ok, lines = pcall(cjson.decode, encoded)
    if not ok or type(lines) ~= 'table' then
        return redis.error_reply('order memo ' .. memo_key .. ' holds unreadable lines')
    end
    for _, line in ipairs(lines) do
        if type(line[1]) ~= 'string' or type(line[2]) ~= 'number' then
            return redis.error_reply('order memo ' .. memo_key .. ' holds a malformed line')
        end
    end
    local sign = (status == 'confirmed' and 1 or 0) - (memo[2] == 'confirmed' and 1 or 0)
    if sign ~= 0 then
        for _, line in ipairs(lines) do
            local units = redis.call('ZINCRBY', ranking, sign * line[2], line[1])
            if tonumber(units) <= 0 then
                redis.call('ZREM', ranking, line[1])
            end
        end
    end
    redis.call('HSET', memo_key, 'version', sequence, 'status', status, 'lines', encoded)
    return 1
end
local applied = 0
for i = 2, #KEYS do
    local at = (i - 2) * 3
    local result = apply(KEYS[1], KEYS[i], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3])
    if type(result) == 'table' then
        return result
    end
    applied = applied + result
end
return applied
",
    )
});

static RECENT_ORDERS: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
-- KEYS: one set per customer; ARGV[1]: the cap, then per customer the number of its
-- orders and as many (score, order id) pairs
local cap = tonumber(ARGV[1])
local at = 2
local added = 0
for _, key in ipairs(KEYS) do
    local pairs_count = tonumber(ARGV[at])
    local members = {}
    for j = 1, 2 * pairs_count do
        members[j] = ARGV[at + j]
    end
    added = added + redis.call('ZADD', key, unpack(members))
    redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1))
    at = at + 1 + 2 * pairs_count
end
return added
",
    )
});

/// A script with its source, which a page's pipeline loads ahead of the calls that name
/// it by hash.
struct Lua {
    source: &'static str,
    script: Script,
}

impl Lua {
    fn new(source: &'static str) -> Self {
        Self {
            source,
            script: Script::new(source),
        }
    }

    fn hash(&self) -> &str {
        self.script.get_hash()
    }

    /// `SCRIPT LOAD`: idempotent, and it answers the hash the calls name.
    fn load(&self) -> redis::Cmd {
        let mut load = redis::cmd("SCRIPT");
        load.arg("LOAD").arg(self.source);
        load
    }
}

fn outcome(applied: i64) -> Outcome {
    if applied > 0 {
        Outcome::Applied
    } else {
        Outcome::AlreadyApplied
    }
}

/// One run of a view's script for one or more orders (customers for `recent_orders`):
/// run alone ([`ScriptCall::run`]) or with the rest of a page in one pipeline
/// ([`run_pipelined`]).
pub struct ScriptCall {
    script: &'static Lua,
    command: redis::Cmd,
}

impl ScriptCall {
    fn new(script: &'static Lua, keys: &[&str]) -> Self {
        let mut command = redis::cmd("EVALSHA");
        command.arg(script.hash()).arg(keys.len()).arg(keys);
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
                self.script.load().query_async::<String>(&mut redis).await?;
                self.command.query_async::<i64>(&mut redis).await?
            }
            other => other?,
        };
        Ok(outcome(applied))
    }
}

/// Runs `calls` in order in one round trip, the pipeline opening with a `SCRIPT LOAD` of
/// each script they name (idempotent, and it spares a `NOSCRIPT` halfway through the
/// page). An error from any call fails the whole: the calls before it took effect, which
/// idempotent scripts make harmless when the page is applied again.
pub async fn run_pipelined(
    redis: &ConnectionManager,
    calls: Vec<ScriptCall>,
) -> Result<(), redis::RedisError> {
    let mut pipeline = redis::pipe();
    let mut loaded: Vec<&str> = Vec::new();
    for call in &calls {
        if !loaded.contains(&call.script.hash()) {
            pipeline.add_command(call.script.load()).ignore();
            loaded.push(call.script.hash());
        }
    }
    for call in calls {
        pipeline.add_command(call.command).ignore();
    }
    pipeline.query_async::<()>(&mut redis.clone()).await
}

/// What consecutive events of one order leave in the views kept in Redis: the last
/// event's sequence, status and instant, and the placement if it is among them. Each
/// view's script takes the whole as one event: every field it writes is the last
/// writer's (a status) or the placement's (customer, lines), and a ranking moves by the
/// difference between the status it remembers and the last one, which is what the
/// events one by one would have moved it by, whichever of them it had seen already.
#[derive(Debug, Clone, Copy)]
pub struct OrderSummary<'e> {
    pub order_id: &'e str,
    pub sequence: i64,
    pub status: &'static str,
    pub at_ms: i64,
    /// The placement, and when it happened (epoch ms).
    pub placed: Option<(&'e OrderPlaced, i64)>,
}

impl<'e> OrderSummary<'e> {
    pub fn of(envelope: &FeedEnvelope, order: &'e OrderEvent) -> Self {
        let at_ms = envelope.occurred_at.timestamp_millis();
        Self {
            order_id: order.order_id(),
            sequence: envelope.sequence,
            status: order.status(),
            at_ms,
            placed: match order {
                OrderEvent::OrderPlaced(placed) => Some((placed, at_ms)),
                _ => None,
            },
        }
    }

    /// Takes in a later event of the same order.
    fn then(&mut self, later: Self) {
        if later.sequence > self.sequence {
            (self.sequence, self.status, self.at_ms) = (later.sequence, later.status, later.at_ms);
        }
        self.placed = self.placed.or(later.placed);
    }
}

/// One summary per order of `events` (a page, in feed order), in order of first sight.
pub fn summarize<'e>(
    events: impl IntoIterator<Item = (&'e FeedEnvelope, &'e OrderEvent)>,
) -> Vec<OrderSummary<'e>> {
    let mut summaries: Vec<OrderSummary<'e>> = Vec::new();
    let mut index: HashMap<&'e str, usize> = HashMap::new();
    for (envelope, order) in events {
        let summary = OrderSummary::of(envelope, order);
        match index.get(summary.order_id) {
            Some(&at) => summaries[at].then(summary),
            None => {
                index.insert(summary.order_id, summaries.len());
                summaries.push(summary);
            }
        }
    }
    summaries
}

/// The `order_status` call for orders, each on the hash at its key.
pub fn status_call(orders: &[(String, &OrderSummary<'_>)]) -> ScriptCall {
    let keys: Vec<&str> = orders.iter().map(|(key, _)| key.as_str()).collect();
    let mut call = ScriptCall::new(&ORDER_STATUS, &keys);
    for (_, order) in orders {
        let customer = order
            .placed
            .map_or("", |(placed, _)| placed.customer_id.as_str());
        call = call
            .arg(order.sequence)
            .arg(order.order_id)
            .arg(order.status)
            .arg(customer)
            .arg(order.at_ms);
    }
    call
}

/// The lines as the memo keeps them: `[[sku, quantity], ...]`.
fn encode_lines(lines: &[OrderLine]) -> String {
    let pairs: Vec<(&str, i64)> = lines.iter().map(|l| (l.sku.as_str(), l.quantity)).collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_string())
}

/// The `best_sellers` call for orders: the ranking at `ranking`, each order's memo at
/// its key.
pub fn best_sellers_call(ranking: &str, orders: &[(String, &OrderSummary<'_>)]) -> ScriptCall {
    let keys: Vec<&str> = std::iter::once(ranking)
        .chain(orders.iter().map(|(memo, _)| memo.as_str()))
        .collect();
    let mut call = ScriptCall::new(&BEST_SELLERS, &keys);
    for (_, order) in orders {
        let lines = order
            .placed
            .map_or_else(String::new, |(placed, _)| encode_lines(&placed.lines));
        call = call.arg(order.sequence).arg(order.status).arg(lines);
    }
    call
}

/// The `recent_orders` call adding placed orders (`(order id, placed at in epoch ms)`)
/// to customers' sets, each at its key.
pub fn recent_call(customers: &[(String, Vec<(&str, i64)>)]) -> ScriptCall {
    let keys: Vec<&str> = customers.iter().map(|(key, _)| key.as_str()).collect();
    let mut call = ScriptCall::new(&RECENT_ORDERS, &keys).arg(RECENT_ORDERS_CAP);
    for (_, placed) in customers {
        call = call.arg(placed.len());
        for (order_id, at_ms) in placed {
            call = call.arg(*at_ms).arg(*order_id);
        }
    }
    call
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
