//! The cart in Redis: one hash per owner, item ID → `quantity:price when added`.

use std::collections::BTreeMap;

use redis::AsyncCommands;
use rust_decimal::Decimal;

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
    let mut pipe = redis::pipe();
    set_in(&mut pipe, redis, owner, item, line);
    let () = pipe.query_async(&mut redis.connection()).await?;
    Ok(())
}

/// Adds setting a line (quantity 0 removes it) and renewing the cart's lifetime to `pipe` (their
/// answers ignored).
pub fn set_in(
    pipe: &mut redis::Pipeline,
    redis: &Redis,
    owner: &Owner,
    item: ItemId,
    line: Stored,
) {
    let key = key(redis, owner);
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
