//! The outbox relay: moves committed events from every database's `outbox` to the Redis stream.
//!
//! Every server copy runs it; a short Redis lock per database (released by compare-and-delete)
//! keeps two copies from relaying the same rows at once, and a copy that dies while holding it
//! only delays relaying until the lock expires. No database transaction is held while Redis is
//! called: rows are read, published, then deleted by id. A crash between publishing and deleting
//! publishes those rows again, which consumers tolerate (see the module above).

use std::time::Duration;

use redis::Script;

use crate::redis_store::{Redis, RedisError};
use crate::shard::in_list::{keep_prepared, marks};
use crate::shard::router::{Database, DbError};
use crate::state::AppState;

/// The most rows moved per database per pass.
pub const BATCH_ROWS: u32 = 500;
/// How long one relay may hold a database's lock; a pass takes milliseconds.
const LOCK_TTL: Duration = Duration::from_secs(10);
/// The stream keeps about this many events; consumers read within seconds.
pub const STREAM_MAX_LEN: u64 = 100_000;

/// The key of the event stream.
pub fn stream_key(redis: &Redis) -> String {
    redis.key("events")
}

/// Why a relay pass failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Redis(#[from] RedisError),
}

/// One pass over every database; returns how many events were published.
pub async fn relay_once(state: &AppState) -> Result<usize, RelayError> {
    let mut published = 0;
    let mut first_error = None;
    for database in state.shards.databases() {
        match relay_database(state, database).await {
            Ok(count) => published += count,
            Err(error) => {
                // One unavailable shard must not hold back the others' events.
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        Some(error) if published == 0 => Err(error),
        _ => Ok(published),
    }
}

async fn relay_database(state: &AppState, database: &Database) -> Result<usize, RelayError> {
    let redis = &state.redis;
    let lock_key = redis.key(&format!("relay-lock:{}", database.name()));
    let token = format!("{:032x}", rand::random::<u128>());
    let mut connection = redis.connection();
    let acquired: Option<String> = redis::cmd("SET")
        .arg(&lock_key)
        .arg(&token)
        .arg("NX")
        .arg("PX")
        .arg(u64::try_from(LOCK_TTL.as_millis()).unwrap_or(u64::MAX))
        .query_async(&mut connection)
        .await
        .map_err(RedisError::from)?;
    if acquired.is_none() {
        return Ok(0);
    }
    let result = publish_batch(state, database).await;
    // Compare-and-delete: never release a lock that expired and was taken by another copy.
    let release = Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
    );
    let released: Result<i64, _> = release
        .key(&lock_key)
        .arg(&token)
        .invoke_async(&mut connection)
        .await;
    if let Err(error) = released {
        tracing::warn!(%error, database = database.label(), "relay lock not released; it expires");
    }
    result
}

async fn publish_batch(state: &AppState, database: &Database) -> Result<usize, RelayError> {
    let rows: Vec<(u64, String)> = {
        let mut connection = database.acquire().await?;
        sqlx::query_as("SELECT id, CAST(payload AS CHAR) FROM outbox ORDER BY id LIMIT ?")
            .bind(BATCH_ROWS)
            .fetch_all(&mut *connection)
            .await
            .map_err(|e| database.error(e))?
    };
    if rows.is_empty() {
        return Ok(0);
    }
    let key = stream_key(&state.redis);
    let mut pipeline = redis::pipe();
    for (_, payload) in &rows {
        pipeline
            .cmd("XADD")
            .arg(&key)
            .arg("MAXLEN")
            .arg("~")
            .arg(STREAM_MAX_LEN)
            .arg("*")
            .arg("event")
            .arg(payload)
            .ignore();
    }
    let mut redis = state.redis.connection();
    let () = pipeline
        .query_async(&mut redis)
        .await
        .map_err(RedisError::from)?;
    // Delete exactly the rows published: a row with a smaller id may still be uncommitted.
    let sql = format!("DELETE FROM outbox WHERE id IN ({})", marks(rows.len()));
    let mut query = sqlx::query(&sql).persistent(keep_prepared(rows.len()));
    for (id, _) in &rows {
        query = query.bind(id);
    }
    let mut connection = database.acquire().await?;
    query
        .execute(&mut *connection)
        .await
        .map_err(|e| database.error(e))?;
    Ok(rows.len())
}
