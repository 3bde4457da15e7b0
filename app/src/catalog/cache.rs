//! Cache-aside for catalog reads, in Redis.
//!
//! Reads try Redis first and fill it on a miss; writers delete the entry after their commit, and
//! every server copy deletes it again when the change's event arrives, so no copy keeps serving a
//! stale entry for longer than the event takes. Entries also expire, a bound on any missed
//! invalidation. Redis being down makes reads slower (straight to the database), never failing:
//! every error here is logged and treated as a miss.

use redis::AsyncCommands;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::model::{Category, Item};
use crate::redis_store::Redis;
use crate::shard::id::ItemId;

/// How long an entry lives without being invalidated.
const TTL_S: u64 = 300;

fn item_key(redis: &Redis, id: &ItemId) -> String {
    redis.key(&format!("cache:item:{id}"))
}

fn categories_key(redis: &Redis) -> String {
    redis.key("cache:categories")
}

async fn read<T: DeserializeOwned>(redis: &Redis, key: &str) -> Option<T> {
    let mut connection = redis.connection();
    match connection.get::<_, Option<String>>(key).await {
        Ok(Some(json)) => serde_json::from_str(&json)
            .inspect_err(|error| tracing::warn!(%key, %error, "unreadable cache entry"))
            .ok(),
        Ok(None) => None,
        Err(error) => {
            tracing::debug!(%key, %error, "cache read failed; reading the database");
            None
        }
    }
}

async fn write<T: Serialize>(redis: &Redis, key: &str, value: &T) {
    let Ok(json) = serde_json::to_string(value) else {
        return;
    };
    let mut connection = redis.connection();
    if let Err(error) = connection.set_ex::<_, _, ()>(key, json, TTL_S).await {
        tracing::debug!(%key, %error, "cache write failed");
    }
}

async fn forget(redis: &Redis, key: &str) {
    let mut connection = redis.connection();
    if let Err(error) = connection.del::<_, ()>(key).await {
        tracing::warn!(%key, %error, "cache invalidation failed; the entry expires");
    }
}

/// A cached item.
pub async fn item(redis: &Redis, id: &ItemId) -> Option<Item> {
    read(redis, &item_key(redis, id)).await
}

/// Caches an item.
pub async fn put_item(redis: &Redis, item: &Item) {
    write(redis, &item_key(redis, &item.id), item).await;
}

/// Drops a cached item.
pub async fn forget_item(redis: &Redis, id: &ItemId) {
    forget(redis, &item_key(redis, id)).await;
}

/// The cached list of categories.
pub async fn categories(redis: &Redis) -> Option<Vec<Category>> {
    read(redis, &categories_key(redis)).await
}

/// Caches the list of categories.
pub async fn put_categories(redis: &Redis, categories: &[Category]) {
    write(redis, &categories_key(redis), &categories).await;
}

/// Drops the cached list of categories.
pub async fn forget_categories(redis: &Redis) {
    forget(redis, &categories_key(redis)).await;
}
