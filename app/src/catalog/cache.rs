//! Cache-aside for catalog reads, in Redis.
//!
//! Reads try Redis first and fill it on a miss; writers delete the entry after their commit, and
//! every server copy deletes it again when the change's event arrives, so no copy keeps serving a
//! stale entry for longer than the event takes. Entries also expire, a bound on any missed
//! invalidation. Redis being down makes reads slower (straight to the database), never failing:
//! every error here is logged and treated as a miss.
//!
//! A hold is the exception among writes: it only lowers an item's stock, and a sale makes hundreds
//! a second, so dropping the item's entry at each one sent most of the next buyers' cart lines to
//! the item's shard. A hold's entry is aged instead ([`age_items_in`]): it lives [`HELD_LAG_MS`]
//! more at most, so the stock it shows is that much late, and only ever too high, which no rule
//! trusts (checkout's transaction decides, and the stock gate takes a count that errs high as
//! harmless). Every other change (units given back, a restock, an admin's edit) still drops it.
//!
//! A category's listing pages go further: every hold changes an item's stock, so dropping them on
//! every item event would leave nothing cached in a sale. They live [`LISTING_TTL_MS`] from when
//! the category's first page is cached (the stock they show lags by that much at most, and a
//! second more on a page the server keeps rendered for visitors, see `kept_pages`; an item's own
//! page goes with its entry), and an admin's change to the category's items drops them at once.

use redis::AsyncCommands;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::model::{Category, CategoryId, Item, ItemSort, Page};
use crate::redis_store::Redis;
use crate::shard::id::ItemId;

/// How long an entry lives without being invalidated.
const TTL_S: u64 = 300;

/// An item's cached copy: its JSON (read by the stock gate's script too, see `checkout::gate`).
pub fn item_key(redis: &Redis, id: &ItemId) -> String {
    redis.key(&format!("cache:item:{id}"))
}

/// How long a category's cached listing pages live.
pub const LISTING_TTL_MS: u64 = 2000;

/// All cached pages of a category's listing, one hash field a page.
fn listing_key(redis: &Redis, category: CategoryId) -> String {
    redis.key(&format!("cache:listing:{}", category.0))
}

fn listing_field(sort: ItemSort, offset: u32, limit: u32) -> String {
    format!("{}:{offset}:{limit}", sort.as_str())
}

fn categories_key(redis: &Redis) -> String {
    redis.key("cache:categories")
}

/// What a cache read found: the entry, or a miss (also for an error, logged).
fn decode<T: DeserializeOwned>(key: &str, found: redis::RedisResult<Option<String>>) -> Option<T> {
    match found {
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

async fn read<T: DeserializeOwned>(redis: &Redis, key: &str) -> Option<T> {
    let mut connection = redis.connection();
    decode(key, connection.get(key).await)
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

/// Adds the read of an item's cached copy to `pipe`, for a caller that sends other commands in
/// the same round trip; [`item_found`] reads its answer.
pub fn item_in(pipe: &mut redis::Pipeline, redis: &Redis, id: &ItemId) {
    pipe.get(item_key(redis, id));
}

/// The item in a cache entry read by [`item_in`] (`None` for a miss).
pub fn item_found(redis: &Redis, id: &ItemId, entry: Option<String>) -> Option<Item> {
    decode(&item_key(redis, id), Ok(entry))
}

/// The cache entries of items, in one round trip: `None` for a miss (or for every one of them
/// when Redis cannot be read); [`item_found`] reads each.
pub async fn item_entries(redis: &Redis, ids: &[ItemId]) -> Vec<Option<String>> {
    let keys: Vec<String> = ids.iter().map(|id| item_key(redis, id)).collect();
    if keys.is_empty() {
        return Vec::new();
    }
    let found: redis::RedisResult<Vec<Option<String>>> = redis.connection().mget(&keys).await;
    found.unwrap_or_else(|error| {
        tracing::debug!(%error, "cache read failed; reading the database");
        vec![None; ids.len()]
    })
}

/// Caches an item.
pub async fn put_item(redis: &Redis, item: &Item) {
    write(redis, &item_key(redis, &item.id), item).await;
}

/// Adds caching an item to `pipe` (its answer ignored).
pub fn put_item_in(pipe: &mut redis::Pipeline, redis: &Redis, item: &Item) {
    if let Ok(json) = serde_json::to_string(item) {
        pipe.set_ex(item_key(redis, &item.id), json, TTL_S).ignore();
    }
}

/// Adds the drop of these items' cached copies to `pipe` (one command, its answer ignored).
pub fn forget_items_in(pipe: &mut redis::Pipeline, redis: &Redis, ids: &[ItemId]) {
    if !ids.is_empty() {
        let keys: Vec<String> = ids.iter().map(|id| item_key(redis, id)).collect();
        pipe.del(keys).ignore();
    }
}

/// How long an item's cached copy lives after a hold took some of its stock.
pub const HELD_LAG_MS: u64 = 1000;

/// Adds the ageing of these items' cached copies to `pipe` (their answers ignored): each lives
/// [`HELD_LAG_MS`] more at most, and one due to expire sooner keeps its time (`LT`), so a hot
/// item's entry is read again once in that time however many holds it gets.
pub fn age_items_in(pipe: &mut redis::Pipeline, redis: &Redis, ids: &[ItemId]) {
    for id in ids {
        pipe.cmd("PEXPIRE")
            .arg(item_key(redis, id))
            .arg(HELD_LAG_MS)
            .arg("LT")
            .ignore();
    }
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

/// A cached page of a category's listing.
pub async fn listing(
    redis: &Redis,
    category: CategoryId,
    sort: ItemSort,
    offset: u32,
    limit: u32,
) -> Option<Page<Item>> {
    let key = listing_key(redis, category);
    let mut connection = redis.connection();
    let found = connection
        .hget(&key, listing_field(sort, offset, limit))
        .await;
    decode(&key, found)
}

/// Caches a page of a category's listing; the category's pages all expire
/// [`LISTING_TTL_MS`] after the first of them was cached.
pub async fn put_listing(
    redis: &Redis,
    category: CategoryId,
    sort: ItemSort,
    offset: u32,
    limit: u32,
    page: &Page<Item>,
) {
    let Ok(json) = serde_json::to_string(page) else {
        return;
    };
    let key = listing_key(redis, category);
    let mut connection = redis.connection();
    let written: Result<(), _> = redis::pipe()
        .hset(&key, listing_field(sort, offset, limit), json)
        .ignore()
        // NX: a later page does not push the category's expiry back.
        .cmd("PEXPIRE")
        .arg(&key)
        .arg(LISTING_TTL_MS)
        .arg("NX")
        .ignore()
        .query_async(&mut connection)
        .await;
    if let Err(error) = written {
        tracing::debug!(%key, %error, "cache write failed");
    }
}

/// Drops every cached page of a category's listing.
pub async fn forget_listing(redis: &Redis, category: CategoryId) {
    forget(redis, &listing_key(redis, category)).await;
}
