//! The stock gate: admission to checkout for a hot item, in Redis, in front of the database.
//!
//! Redis keeps, per item, how many units checkouts may still be admitted for: set from the stock
//! the catalog showed when it was missing, taken atomically by each checkout before its
//! transaction (one script call, which also answers the item's cached copy, so that a checkout
//! asks the gate and reads its items in one round trip), and given back when the checkout fails. A checkout that wants
//! more than is left is refused at once with the same `409 sold_out`, without a transaction: in a
//! flash sale of 100 units, 100 buyers go on to the item's row and the crowd behind them is told
//! at once, while the last units are still being sold, instead of queueing on the row.
//!
//! The gate only ever says no; every unit sold is still decided by the row's conditional update,
//! so it can never oversell, whatever the count says. The count errs high (harmlessly: the
//! database refuses the extra buyers) and low only briefly, and every way back is bounded:
//! - it lives two seconds, then is set again from the catalog (whose stock a hold lowers when its
//!   event arrives: too high until then, never too low, see `catalog::cache`);
//! - the item's event when units come back or its stock is set (a cancel, an expired hold, a
//!   restock, an admin's edit) drops it in every copy. A hold's event does not: the count took
//!   the units when it admitted the checkout, and a hold it did not admit can only leave it high;
//! - a checkout that finds the item short in its transaction (after reclaiming the item's
//!   expired holds itself) sets it to what the database says is left;
//! - when it is missing and the catalog shows too few units, the database decides (and reclaims
//!   expired holds) rather than the gate.
//!
//! Redis errors open the gate (the database decides, as without it).

use std::sync::LazyLock;

use redis::{AsyncCommands, Script};

use crate::redis_store::Redis;
use crate::shard::id::ItemId;

/// How long a count lives before it is set again from the catalog.
const COUNT_MS: u64 = 2000;

/// Takes `ARGV[1]` units from the count at `KEYS[1]`, setting it first to `ARGV[2]` (for
/// `ARGV[3]` ms) when missing. Answers `{1, left}` when taken, `{0, left}` when too few are left,
/// and `{2, 0}` when it was missing and the catalog's figure is already too low to take from.
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local quantity = tonumber(ARGV[1])
local left = redis.call('GET', KEYS[1])
if left then
  left = tonumber(left)
else
  left = tonumber(ARGV[2])
  if left < quantity then return {2, 0} end
  redis.call('SET', KEYS[1], left, 'PX', ARGV[3])
end
if left < quantity then return {0, left} end
redis.call('DECRBY', KEYS[1], quantity)
return {1, left - quantity}
",
    )
});

/// As [`ADMIT`], for a checkout that has not read its item yet: the catalog's figure is the stock
/// in the item's cached copy at `KEYS[2]` (its JSON), read in the same call, and the copy is
/// answered too (or `false`). Answers `{3, 0, false}` when both the count and the copy are
/// missing: the caller reads the item and asks [`admit`].
static ADMIT_WITH_COPY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local quantity = tonumber(ARGV[1])
local copy = redis.call('GET', KEYS[2])
local left = redis.call('GET', KEYS[1])
if left then
  left = tonumber(left)
else
  local read, item = pcall(cjson.decode, copy or '')
  local shown = read and type(item) == 'table' and tonumber(item.stock)
  if not shown then return {3, 0, false} end
  left = shown
  if left < quantity then return {2, 0, copy} end
  redis.call('SET', KEYS[1], left, 'PX', ARGV[2])
end
if left < quantity then return {0, left, copy} end
redis.call('DECRBY', KEYS[1], quantity)
return {1, left - quantity, copy}
",
    )
});

/// Gives `ARGV[1]` units back to the count at `KEYS[1]`, if it still exists (a count set again
/// meanwhile already includes them).
static GIVE_BACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return 0
",
    )
});

fn key(redis: &Redis, item: ItemId) -> String {
    redis.key(&format!("gate:left:{item}"))
}

/// The gate's answer for one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go on to the database; give the units back if the checkout fails.
    Admitted,
    /// Go on to the database; nothing was taken from the count.
    Unknown,
    /// Sold out as far as the gate knows: only `left` units are.
    Refused { left: u32 },
}

/// Asks the gate for `quantity` units of `item`; `shown` is the stock the catalog showed.
pub async fn admit(redis: &Redis, item: ItemId, quantity: u32, shown: u32) -> Admission {
    let mut connection = redis.connection();
    let answer: Result<(u8, u32), _> = ADMIT
        .key(key(redis, item))
        .arg(quantity)
        .arg(shown)
        .arg(COUNT_MS)
        .invoke_async(&mut connection)
        .await;
    match answer {
        Ok((1, _)) => Admission::Admitted,
        Ok((0, left)) => Admission::Refused { left },
        Ok(_) => Admission::Unknown,
        Err(error) => {
            tracing::debug!(%error, "stock gate unreadable; asking the database");
            Admission::Unknown
        }
    }
}

/// The gate's answer for one line asked with [`admit_lines`], with its item's cached copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// `None` when neither a count nor a copy was there: read the item, then ask [`admit`].
    pub admission: Option<Admission>,
    /// The item's cached copy (its JSON), when there was one.
    pub copy: Option<String>,
}

/// Asks the gate for each of `lines` (item, quantity) at once, the catalog's figure being the
/// stock in each item's cached copy, which is answered too: one round trip for the gate and the
/// items. When Redis cannot be read, every line is unknown (the database decides) with no copy.
pub async fn admit_lines(redis: &Redis, lines: &[(ItemId, u32)]) -> Vec<Asked> {
    let mut pipe = redis::pipe();
    for (item, quantity) in lines {
        let mut invocation = ADMIT_WITH_COPY.prepare_invoke();
        invocation
            .key(key(redis, *item))
            .key(crate::catalog::cache::item_key(redis, item))
            .arg(*quantity)
            .arg(COUNT_MS);
        pipe.invoke_script(&invocation);
    }
    let mut connection = redis.connection();
    let mut answers: redis::RedisResult<Vec<(u8, u32, Option<String>)>> =
        pipe.query_async(&mut connection).await;
    // A pipeline calls the script by its hash only: the first call on a Redis that does not know
    // it yet (just started, or flushed) loads it and asks again.
    if answers.as_ref().is_err_and(|error| {
        error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
    }) && ADMIT_WITH_COPY.load_async(&mut connection).await.is_ok()
    {
        answers = pipe.query_async(&mut connection).await;
    }
    match answers {
        Ok(answers) => answers
            .into_iter()
            .map(|(code, left, copy)| Asked {
                admission: match code {
                    1 => Some(Admission::Admitted),
                    0 => Some(Admission::Refused { left }),
                    2 => Some(Admission::Unknown),
                    _ => None,
                },
                copy,
            })
            .collect(),
        Err(error) => {
            tracing::debug!(%error, "stock gate unreadable; asking the database");
            vec![
                Asked {
                    admission: Some(Admission::Unknown),
                    copy: None,
                };
                lines.len()
            ]
        }
    }
}

/// Gives back units a failed checkout was admitted for.
pub async fn give_back(redis: &Redis, item: ItemId, quantity: u32) {
    let mut connection = redis.connection();
    let given: Result<i64, _> = GIVE_BACK
        .key(key(redis, item))
        .arg(quantity)
        .invoke_async(&mut connection)
        .await;
    if let Err(error) = given {
        tracing::debug!(%error, "stock gate units not given back; the count expires in two seconds");
    }
}

/// Units the gate would admit checkouts for now (none known: the catalog and the database decide).
pub async fn known_left(redis: &Redis, item: ItemId) -> Option<u32> {
    let mut connection = redis.connection();
    connection
        .get::<_, Option<u32>>(key(redis, item))
        .await
        .inspect_err(|error| tracing::debug!(%error, "stock gate unreadable"))
        .ok()
        .flatten()
}

/// Sets the count to what a checkout's transaction found left of the item.
pub async fn note_short(redis: &Redis, item: ItemId, left: u32) {
    let mut connection = redis.connection();
    let noted: Result<(), _> = redis::cmd("SET")
        .arg(key(redis, item))
        .arg(left)
        .arg("PX")
        .arg(COUNT_MS)
        .query_async(&mut connection)
        .await;
    if let Err(error) = noted {
        tracing::debug!(%error, "stock gate not noted");
    }
}

/// Adds the drop of these items' counts to `pipe` (their stock changed; one command, its answer
/// ignored).
pub fn forget_in(pipe: &mut redis::Pipeline, redis: &Redis, items: &[ItemId]) {
    if !items.is_empty() {
        let keys: Vec<String> = items.iter().map(|item| key(redis, *item)).collect();
        pipe.del(keys).ignore();
    }
}
