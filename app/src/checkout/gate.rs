//! The sold-out gate: a fast "no" for a hot item that has sold out, in front of the database.
//!
//! When a checkout finds an item short in its shard transaction (after reclaiming the item's
//! expired holds itself), it notes in Redis how many units were left, for two seconds. Checkouts
//! that want more than that are refused at once, with the same `409 sold_out`, without a
//! transaction: in a flash sale, the crowd that arrives after the last unit no longer queues on
//! the item's row behind the buyers who still can buy. The gate only ever says no; every yes is
//! still decided by the database, so it can never oversell. When stock comes back (a cancel, an
//! expired hold, an admin's restock), the item's event drops the note in every copy; the two
//! seconds bound how long a lost event can keep a returned unit hidden. Redis errors open the
//! gate (the database decides, as without it).

use redis::AsyncCommands;

use crate::redis_store::Redis;
use crate::shard::id::ItemId;

/// How long a "sold out" note lives.
const NOTE_MS: u64 = 2000;

fn key(redis: &Redis, item: ItemId) -> String {
    redis.key(&format!("gate:soldout:{item}"))
}

/// Units the database said were left when a checkout last found the item short (none noted: ask
/// the database).
pub async fn known_left(redis: &Redis, item: ItemId) -> Option<u32> {
    let mut connection = redis.connection();
    connection
        .get::<_, Option<u32>>(key(redis, item))
        .await
        .inspect_err(
            |error| tracing::debug!(%error, "sold-out gate unreadable; asking the database"),
        )
        .ok()
        .flatten()
}

/// Notes that a checkout found only `left` units of the item.
pub async fn note_short(redis: &Redis, item: ItemId, left: u32) {
    let mut connection = redis.connection();
    let noted: Result<(), _> = redis::cmd("SET")
        .arg(key(redis, item))
        .arg(left)
        .arg("PX")
        .arg(NOTE_MS)
        .query_async(&mut connection)
        .await;
    if let Err(error) = noted {
        tracing::debug!(%error, "sold-out gate not noted");
    }
}

/// Drops the note: the item's stock changed.
pub async fn forget(redis: &Redis, item: ItemId) {
    let mut connection = redis.connection();
    if let Err(error) = connection.del::<_, ()>(key(redis, item)).await {
        tracing::warn!(%error, "sold-out gate note not dropped; it expires in two seconds");
    }
}
