//! A checkout's progress as the waiting customer polls it, kept in Redis (DESIGN §5): the payment
//! page asks every second or two, and reading it from the databases is a query on every shard
//! for the orders and two on the orders' shard for the payments.
//!
//! Cache-aside, with a version per checkout so that a read racing a change never stores what it
//! read before the change:
//! - a poll takes the snapshot and the version in one round trip; on a miss it reads the
//!   databases, then stores the snapshot only if the version is still the one it saw (a script);
//! - every change of a checkout's orders or payments (a payment request, settling, a cancel, a
//!   refund sent) bumps the version and drops the snapshot after its commit ([`changed`]);
//! - a pending order also ends on its own when its hold runs out (the expiry job, or another
//!   checkout reclaiming the stock), so a snapshot never outlives the earliest hold of its
//!   pending orders.
//!
//! A snapshot lives a minute at most, which bounds what a change lost to a crash between its
//! commit and [`changed`] can hide. Redis errors: the databases answer.

use std::sync::LazyLock;

use chrono::Utc;
use redis::Script;

use super::model::CheckoutProgress;
use crate::checkout::model::OrderStatus;
use crate::redis_store::Redis;

/// The longest a snapshot lives.
const SNAPSHOT_MS: i64 = 60_000;
/// How long a checkout's version outlives its last change: far longer than any read of it.
const VERSION_MS: i64 = 3_600_000;

/// Stores `ARGV[2]` at `KEYS[1]` for `ARGV[3]` ms if the version at `KEYS[2]` is `ARGV[1]` (an
/// empty string: no version yet).
static STORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local version = redis.call('GET', KEYS[2]) or ''
if version ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
",
    )
});

fn snapshot_key(redis: &Redis, checkout_id: &str) -> String {
    redis.key(&format!("progress:{checkout_id}"))
}

fn version_key(redis: &Redis, checkout_id: &str) -> String {
    redis.key(&format!("progress-version:{checkout_id}"))
}

/// What a poll found in Redis: the snapshot, if any, and the version to store a new one under.
pub struct Cached {
    pub progress: Option<CheckoutProgress>,
    version: String,
}

/// The checkout's snapshot and version, in one round trip.
pub async fn cached(redis: &Redis, checkout_id: &str) -> Cached {
    let mut pipe = redis::pipe();
    cached_in(&mut pipe, redis, checkout_id);
    let found: redis::RedisResult<((Option<String>, Option<String>),)> =
        pipe.query_async(&mut redis.connection()).await;
    match found {
        Ok((found,)) => Cached::from_found(checkout_id, found),
        Err(error) => {
            tracing::debug!(%error, "progress snapshot unreadable; asking the databases");
            Cached::from_found(checkout_id, (None, None))
        }
    }
}

/// Adds the read of the checkout's snapshot and version to `pipe`, for a caller that sends other
/// commands in the same round trip; its answer, `(Option<String>, Option<String>)`, reads with
/// [`Cached::from_found`].
pub fn cached_in(pipe: &mut redis::Pipeline, redis: &Redis, checkout_id: &str) {
    pipe.cmd("MGET")
        .arg(snapshot_key(redis, checkout_id))
        .arg(version_key(redis, checkout_id));
}

impl Cached {
    /// What [`cached_in`] found: the snapshot (an unreadable one is ignored) and the version.
    pub fn from_found(
        checkout_id: &str,
        (snapshot, version): (Option<String>, Option<String>),
    ) -> Self {
        Cached {
            progress: snapshot.and_then(|json| match serde_json::from_str(&json) {
                Ok(progress) => Some(progress),
                Err(error) => {
                    tracing::warn!(checkout_id, %error, "unreadable progress snapshot ignored");
                    None
                }
            }),
            version: version.unwrap_or_default(),
        }
    }
}

/// Stores what a poll read from the databases, unless the checkout changed since `seen` was
/// taken.
pub async fn store(redis: &Redis, seen: Cached, progress: &CheckoutProgress) {
    let Some(ttl_ms) = lifetime_ms(progress) else {
        return;
    };
    let Ok(json) = serde_json::to_string(progress) else {
        return;
    };
    let mut connection = redis.connection();
    let stored: redis::RedisResult<i64> = STORE
        .key(snapshot_key(redis, &progress.checkout_id))
        .key(version_key(redis, &progress.checkout_id))
        .arg(seen.version)
        .arg(json)
        .arg(ttl_ms)
        .invoke_async(&mut connection)
        .await;
    if let Err(error) = stored {
        tracing::debug!(%error, "progress snapshot not stored");
    }
}

/// How long a snapshot of `progress` may live: until the earliest hold of its pending orders
/// ends, a minute at most; `None` when that is now.
fn lifetime_ms(progress: &CheckoutProgress) -> Option<i64> {
    let now = Utc::now();
    let until_hold_ends = progress
        .orders
        .iter()
        .filter(|order| order.status == OrderStatus::Pending)
        .map(|order| (order.hold_expires_at - now).num_milliseconds())
        .min()
        .unwrap_or(SNAPSHOT_MS);
    Some(until_hold_ends.min(SNAPSHOT_MS)).filter(|ms| *ms > 0)
}

/// The checkout's orders or payments changed (committed): the next poll reads the databases, and
/// a poll that read them before the change does not store what it read.
pub async fn changed(redis: &Redis, checkout_id: &str) {
    let version = version_key(redis, checkout_id);
    let mut connection = redis.connection();
    let done: redis::RedisResult<()> = redis::pipe()
        .atomic()
        .incr(&version, 1)
        .ignore()
        .pexpire(&version, VERSION_MS)
        .ignore()
        .del(snapshot_key(redis, checkout_id))
        .ignore()
        .query_async(&mut connection)
        .await;
    if let Err(error) = done {
        tracing::warn!(checkout_id, %error, "progress snapshot not dropped; it ends within a minute");
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use rust_decimal::Decimal;

    use super::*;
    use crate::accounts::model::UserId;
    use crate::checkout::model::Order;
    use crate::money::Currency;
    use crate::shard::ShardId;
    use crate::shard::id::OrderId;

    fn order(status: OrderStatus, hold_left: Duration) -> Order {
        let shard = ShardId::new(0).unwrap();
        Order {
            id: OrderId::new(shard, 1).unwrap(),
            checkout_id: "c".into(),
            customer_id: UserId(1),
            status,
            currency: Currency::EUR,
            total: Decimal::ONE,
            hold_expires_at: Utc::now() + hold_left,
            created_at: Utc::now(),
            lines: Vec::new(),
        }
    }

    #[test]
    fn a_snapshot_ends_with_the_earliest_hold_of_its_pending_orders() {
        let waiting = CheckoutProgress::of(
            "c".into(),
            vec![
                order(OrderStatus::Pending, Duration::seconds(20)),
                order(OrderStatus::Pending, Duration::seconds(90)),
            ],
            Vec::new(),
        );
        let ms = lifetime_ms(&waiting).unwrap();
        assert!((19_000..=20_000).contains(&ms), "{ms}");
        let placed = CheckoutProgress::of(
            "c".into(),
            vec![order(OrderStatus::Placed, Duration::seconds(-5))],
            Vec::new(),
        );
        assert_eq!(lifetime_ms(&placed), Some(SNAPSHOT_MS));
        let overdue = CheckoutProgress::of(
            "c".into(),
            vec![order(OrderStatus::Pending, Duration::seconds(-1))],
            Vec::new(),
        );
        assert_eq!(lifetime_ms(&overdue), None);
    }
}
