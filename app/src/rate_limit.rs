//! Rate limits in Redis: fixed windows counted with INCR, shared by every server copy. When Redis
//! cannot be reached the limit is not enforced (logged), since refusing every request would turn a
//! cache outage into a shop outage.

use redis::AsyncCommands;

use crate::error::AppError;
use crate::redis_store::Redis;

/// A limit: at most `max` requests per `window_s` seconds for one subject.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub scope: &'static str,
    pub max: u64,
    pub window_s: u64,
}

/// Counts one request of `subject` against `limit`; `RateLimited` once the window is full.
pub async fn check(redis: &Redis, limit: Limit, subject: &str) -> Result<(), AppError> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    count_in(&mut pipe, redis, limit, subject);
    let counted: Result<(u64, i64), _> = pipe.query_async(&mut redis.connection()).await;
    match counted {
        Ok(counted) => verdict(limit, counted),
        Err(error) => {
            tracing::warn!(%error, scope = limit.scope, "rate limit not enforced: redis unavailable");
            Ok(())
        }
    }
}

/// Adds the count of one request of `subject` against `limit` to `pipe`, as two answers (the
/// count, then the window's seconds left) for [`verdict`]. The pipeline must be atomic (`MULTI`): the
/// count and its window's expiry are then never apart, so no count outlives its window.
pub fn count_in(pipe: &mut redis::Pipeline, redis: &Redis, limit: Limit, subject: &str) {
    let key = redis.key(&format!("rate:{}:{subject}", limit.scope));
    pipe.cmd("INCR")
        .arg(&key)
        .cmd("EXPIRE")
        .arg(&key)
        .arg(limit.window_s)
        .arg("NX")
        .ignore()
        .cmd("TTL")
        .arg(&key);
}

/// Whether a request counted by [`count_in`] is within `limit`.
pub fn verdict(limit: Limit, (count, ttl): (u64, i64)) -> Result<(), AppError> {
    if count <= limit.max {
        return Ok(());
    }
    Err(AppError::RateLimited {
        retry_after_s: u64::try_from(ttl).unwrap_or(limit.window_s).max(1),
    })
}

/// Forgets a subject's count (a successful log-in clears its account's failures).
pub async fn reset(redis: &Redis, limit: Limit, subject: &str) {
    let key = redis.key(&format!("rate:{}:{subject}", limit.scope));
    let mut connection = redis.connection();
    if let Err(error) = connection.del::<_, ()>(&key).await {
        tracing::debug!(%error, "rate limit reset failed");
    }
}
