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
//! the item's shard. A hold keeps the entry instead: when its event arrives, every copy reads the
//! held items' stock from their shards (one query a shard for the whole batch of events) and
//! lowers the entries to it ([`lower_stock_in`]); an entry is never raised that way, so a late
//! event cannot bring back units a newer hold took. Until then (the relay's pass, a fraction of a
//! second) the entry shows the stock before the hold: too high, never too low, which no rule
//! trusts (checkout's transaction decides, and the stock gate takes a count that errs high as
//! harmless). Every other change (units given back, a restock, an admin's edit) drops the entry.
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

/// Lowers the stock in the item's cached copy at `KEYS[1]`, if there is one, to `ARGV[1]`: never
/// raises it, and keeps its expiry. The copy is the item's JSON as serde writes it, where
/// `,"stock":N,` occurs once (no string in it can hold an unescaped quote); a copy where it does
/// not is dropped.
const LOWER_STOCK: &str = r#"
local copy = redis.call('GET', KEYS[1])
if not copy then return 0 end
local shown = tonumber(string.match(copy, ',"stock":(%d+),'))
if not shown then
  redis.call('DEL', KEYS[1])
  return 0
end
if tonumber(ARGV[1]) >= shown then return 0 end
local lowered = string.gsub(copy, ',"stock":%d+,', ',"stock":' .. ARGV[1] .. ',', 1)
redis.call('SET', KEYS[1], lowered, 'KEEPTTL')
return 1
"#;

/// Adds lowering the stock of these items' cached copies to what their shards show (see
/// [`LOWER_STOCK`]) to `pipe`, one call an item, their answers ignored.
pub fn lower_stock_in(pipe: &mut redis::Pipeline, redis: &Redis, stocks: &[(ItemId, u32)]) {
    for (id, stock) in stocks {
        pipe.cmd("EVAL")
            .arg(LOWER_STOCK)
            .arg(1)
            .arg(item_key(redis, id))
            .arg(*stock)
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

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use rust_decimal::Decimal;

    use super::*;
    use crate::money::Currency;
    use crate::shard::id::ShardId;

    #[test]
    fn a_cached_item_names_its_stock_once_where_the_lowering_script_looks() {
        let item = Item {
            id: ItemId::new(ShardId::new(1).expect("a shard"), 42).expect("an item id"),
            category_id: CategoryId(3),
            name: r#"The "stock":1, lamp"#.into(),
            description: r#","stock":2, in the text"#.into(),
            price: Decimal::new(1999, 2),
            currency: Currency::EUR,
            stock: 17,
            location: "stock:3".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let json = serde_json::to_string(&item).expect("serializes");
        assert_eq!(json.matches(r#","stock":"#).count(), 1, "{json}");
        assert!(json.contains(r#","stock":17,"#), "{json}");
    }
}
