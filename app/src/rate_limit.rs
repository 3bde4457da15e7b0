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
    let key = redis.key(&format!("rate:{}:{subject}", limit.scope));
    let mut connection = redis.connection();
    let counted: Result<(u64, i64), _> = redis::pipe()
        .atomic()
        .incr(&key, 1u64)
        .cmd("EXPIRE")
        .arg(&key)
        .arg(limit.window_s)
        .arg("NX")
        .ignore()
        .ttl(&key)
        .query_async(&mut connection)
        .await;
    match counted {
        Ok((count, _)) if count <= limit.max => Ok(()),
        Ok((_, ttl)) => Err(AppError::RateLimited {
            retry_after_s: u64::try_from(ttl).unwrap_or(limit.window_s).max(1),
        }),
        Err(error) => {
            tracing::warn!(%error, scope = limit.scope, "rate limit not enforced: redis unavailable");
            Ok(())
        }
    }
}

/// Forgets a subject's count (a successful log-in clears its account's failures).
pub async fn reset(redis: &Redis, limit: Limit, subject: &str) {
    let key = redis.key(&format!("rate:{}:{subject}", limit.scope));
    let mut connection = redis.connection();
    if let Err(error) = connection.del::<_, ()>(&key).await {
        tracing::debug!(%error, "rate limit reset failed");
    }
}
