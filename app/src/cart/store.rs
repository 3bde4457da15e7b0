//! The cart in Redis: one hash per owner, item ID → `quantity:price when added`.

use std::collections::BTreeMap;

use std::sync::LazyLock;

use redis::{AsyncCommands, FromRedisValue, ParsingError, Script, Value};
use rust_decimal::Decimal;

use super::model::{MAX_LINES, MAX_QUANTITY};
use crate::accounts::model::UserId;
use crate::redis_store::{Redis, RedisError};
use crate::shard::id::ItemId;

/// How long a cart lives after its last change.
const TTL_S: i64 = 30 * 24 * 3600;

/// Whose cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    User(UserId),
    /// A visitor, known by the cart cookie's random id.
    Visitor(String),
}

fn key(redis: &Redis, owner: &Owner) -> String {
    match owner {
        Owner::User(id) => redis.key(&format!("cart:u:{}", id.0)),
        Owner::Visitor(id) => redis.key(&format!("cart:v:{id}")),
    }
}

/// One stored line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub quantity: u32,
    pub price: Decimal,
}

fn decode(value: &str) -> Option<Stored> {
    let (quantity, price) = value.split_once(':')?;
    Some(Stored {
        quantity: quantity.parse().ok()?,
        price: price.parse().ok()?,
    })
}

/// Every line of a cart, by item ID. Lines that do not parse are dropped.
pub async fn lines(redis: &Redis, owner: &Owner) -> Result<BTreeMap<ItemId, Stored>, RedisError> {
    let mut connection = redis.connection();
    let raw: BTreeMap<String, String> = connection.hgetall(key(redis, owner)).await?;
    Ok(parse(raw))
}

/// Adds the read of a cart's lines to `pipe`, for a caller that sends other commands in the same
/// round trip; [`parse`] reads its answer.
pub fn lines_in(pipe: &mut redis::Pipeline, redis: &Redis, owner: &Owner) {
    pipe.hgetall(key(redis, owner));
}

/// The lines of a cart's hash as Redis answered it.
pub fn parse(raw: BTreeMap<String, String>) -> BTreeMap<ItemId, Stored> {
    raw.into_iter()
        .filter_map(|(item, value)| Some((item.parse().ok()?, decode(&value)?)))
        .collect()
}

/// Sets a line (quantity 0 removes it) and renews the cart's lifetime.
pub async fn set(
    redis: &Redis,
    owner: &Owner,
    item: ItemId,
    line: Stored,
) -> Result<(), RedisError> {
    let key = key(redis, owner);
    let mut pipe = redis::pipe();
    if line.quantity == 0 {
        pipe.hdel(&key, item.to_string()).ignore();
    } else {
        pipe.hset(
            &key,
            item.to_string(),
            format!("{}:{}", line.quantity, line.price),
        )
        .ignore();
    }
    pipe.expire(&key, TTL_S).ignore();
    let () = pipe.query_async(&mut redis.connection()).await?;
    Ok(())
}

/// How a write changes a line's quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// To this many (at least 1).
    Set(u32),
    /// By this many more.
    Add(u32),
}

/// Sets or adds to one line, checking the cart's bounds against what the cart holds at that
/// moment (two writes racing cannot both add the 51st line). `KEYS[1]`: the cart; `ARGV`: the
/// item, `set` or `add`, the quantity, the price of a new line, the most lines, the most of one
/// item, the cart's lifetime (s), and `1` when the item is sold out (a new line is refused; a line
/// already there may change). A line keeps the price of when it was first added. Answers
/// `{0, lines}` when written; `{1, already}` when an add would pass the most of one item;
/// `{2}` when the cart is full; `{3}` when the item is sold out.
static PUT_LINE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local had, price = 0, ARGV[4]
local line = redis.call('HGET', KEYS[1], ARGV[1])
local quantity, remembered = nil, nil
if line then quantity, remembered = string.match(line, '^(%d+):(.+)$') end
if quantity then had, price = tonumber(quantity), remembered end
local wanted = tonumber(ARGV[3])
if ARGV[2] == 'add' then
  wanted = had + wanted
  if wanted > tonumber(ARGV[6]) then return {1, had} end
end
if not quantity then
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return {2} end
  if ARGV[8] == '1' then return {3} end
end
redis.call('HSET', KEYS[1], ARGV[1], wanted .. ':' .. price)
redis.call('EXPIRE', KEYS[1], ARGV[7])
return {0, redis.call('HGETALL', KEYS[1])}
",
    )
});

/// What a line's write came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Put {
    /// Written: the cart's lines now.
    Written(BTreeMap<ItemId, Stored>),
    /// Adding would pass the most of one item; the line holds `already`.
    TooMany { already: u32 },
    /// A new line would pass the most lines.
    Full,
    /// A new line's item is sold out.
    SoldOut,
}

impl FromRedisValue for Put {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        let mut answer = Vec::<Value>::from_redis_value(value)?.into_iter();
        let code = i64::from_redis_value(answer.next().unwrap_or(Value::Nil))?;
        let mut next = || answer.next().unwrap_or(Value::Nil);
        Ok(match code {
            0 => Put::Written(parse(BTreeMap::from_redis_value(next())?)),
            1 => Put::TooMany {
                already: u32::from_redis_value(next())?,
            },
            2 => Put::Full,
            3 => Put::SoldOut,
            other => return Err(format!("unknown answer {other} to a cart line's write").into()),
        })
    }
}

/// Writes one line (see [`PUT_LINE`]); `price` is a new line's.
pub async fn put(
    redis: &Redis,
    owner: &Owner,
    item: ItemId,
    change: Change,
    price: Decimal,
    sold_out: bool,
) -> Result<Put, RedisError> {
    let (mode, quantity) = match change {
        Change::Set(quantity) => ("set", quantity),
        Change::Add(quantity) => ("add", quantity),
    };
    Ok(PUT_LINE
        .key(key(redis, owner))
        .arg(item.to_string())
        .arg(mode)
        .arg(quantity)
        .arg(price.to_string())
        .arg(MAX_LINES)
        .arg(MAX_QUANTITY)
        .arg(TTL_S)
        .arg(if sold_out { "1" } else { "0" })
        .invoke_async(&mut redis.connection())
        .await?)
}

/// Takes lines out.
pub async fn remove(redis: &Redis, owner: &Owner, items: &[ItemId]) -> Result<(), RedisError> {
    if items.is_empty() {
        return Ok(());
    }
    let mut connection = redis.connection();
    let fields: Vec<String> = items.iter().map(ToString::to_string).collect();
    connection
        .hdel::<_, _, ()>(key(redis, owner), fields)
        .await?;
    Ok(())
}

/// Empties a cart.
pub async fn clear(redis: &Redis, owner: &Owner) -> Result<(), RedisError> {
    let mut connection = redis.connection();
    connection.del::<_, ()>(key(redis, owner)).await?;
    Ok(())
}
