//! Sessions: random opaque tokens (256 bits) kept in Redis under their SHA-256 (a copy of Redis
//! does not hold usable tokens), with an idle timeout that each use renews and an absolute one
//! that nothing renews. Every user's sessions are listed, so a password change or a deletion ends
//! them all. The token travels as an `HttpOnly; SameSite=Lax` cookie, or as a bearer token.
//!
//! A session keeps a copy of its account, so an authenticated request costs one Redis round trip
//! and no directory query. Whoever changes an account copies it into every one of its sessions
//! ([`copy_account`]) before answering: a new role or name is in force at the next request.

use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use http::header::AUTHORIZATION;
use http::request::Parts;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, FromRedisValue, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{User, UserId};
use crate::error::AppError;
use crate::redis_store::RedisError;
use crate::state::AppState;

/// The cookie's name.
pub const COOKIE_NAME: &str = "surge_session";
/// A session not used for this long ends.
pub const IDLE_TTL_S: u64 = 30 * 60;
/// No session lasts longer than this.
pub const ABSOLUTE_TTL_S: u64 = 7 * 24 * 3600;

#[derive(Serialize, Deserialize)]
struct Record {
    user: User,
    created_s: u64,
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn session_key(state: &AppState, digest: &str) -> String {
    state.redis.key(&format!("session:{digest}"))
}

fn user_key(state: &AppState, user: UserId) -> String {
    state.redis.key(&format!("user-sessions:{}", user.0))
}

/// Starts a session for `user` (as the directory has it now); returns its token.
pub async fn create(state: &AppState, user: &User) -> Result<String, AppError> {
    let token = format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    );
    let digest = digest(&token);
    let record = serde_json::to_string(&Record {
        user: user.clone(),
        created_s: now_s(),
    })
    .map_err(AppError::internal)?;
    let mut redis = state.redis.connection();
    let () = redis::pipe()
        .atomic()
        .set_ex(session_key(state, &digest), record, IDLE_TTL_S)
        .ignore()
        .sadd(user_key(state, user.id), &digest)
        .ignore()
        .expire(
            user_key(state, user.id),
            i64::try_from(ABSOLUTE_TTL_S).unwrap_or(i64::MAX),
        )
        .ignore()
        .query_async(&mut redis)
        .await
        .map_err(RedisError::from)?;
    Ok(token)
}

/// The account a token belongs to, renewing its idle timeout; `None` when it is unknown or ended.
/// One round trip: the read renews the idle timeout (a second one trims it in a session's last
/// half hour, a third ends a session past its absolute timeout).
pub async fn resolve(state: &AppState, token: &str) -> Result<Option<User>, AppError> {
    let (user, ()) = resolve_with(state, Some(token), |_| {}).await?;
    Ok(user)
}

/// [`resolve`] (when there is a token), in the same round trip as the commands `add` puts in the
/// pipeline: a request whose first read does not depend on who asks pays one round trip for both.
/// Answers the account and what those commands answered (as a pipeline of them alone would).
pub async fn resolve_with<T: FromRedisValue>(
    state: &AppState,
    token: Option<&str>,
    add: impl FnOnce(&mut redis::Pipeline),
) -> Result<(Option<User>, T), AppError> {
    let key = token.map(|token| session_key(state, &digest(token)));
    let mut pipe = redis::pipe();
    if let Some(key) = &key {
        pipe.cmd("GETEX").arg(key).arg("EX").arg(IDLE_TTL_S);
    }
    add(&mut pipe);
    let mut redis = state.redis.connection();
    let mut answers: Vec<Value> = pipe
        .query_async(&mut redis)
        .await
        .map_err(RedisError::from)?;
    let user = match key {
        Some(key) if !answers.is_empty() => {
            let found = Option::<String>::from_redis_value(answers.remove(0))
                .map_err(|error| RedisError::from(redis::RedisError::from(error)))?;
            in_force(&mut redis, &key, found).await?
        }
        _ => None,
    };
    let rest = T::from_redis_value(Value::Array(answers))
        .map_err(|error| RedisError::from(redis::RedisError::from(error)))?;
    Ok((user, rest))
}

/// The account of the session record `found` at `key` (just read, its idle timeout renewed), if
/// the session is still in force: past its absolute timeout it is ended; in its last half hour
/// its idle timeout is trimmed to what is left.
async fn in_force(
    redis: &mut ConnectionManager,
    key: &str,
    found: Option<String>,
) -> Result<Option<User>, AppError> {
    let Some(record) = found.and_then(|json| serde_json::from_str::<Record>(&json).ok()) else {
        return Ok(None);
    };
    let age = now_s().saturating_sub(record.created_s);
    if age >= ABSOLUTE_TTL_S {
        redis.del::<_, ()>(key).await.map_err(RedisError::from)?;
        return Ok(None);
    }
    let left = ABSOLUTE_TTL_S - age;
    if left < IDLE_TTL_S {
        redis
            .expire::<_, ()>(key, i64::try_from(left).unwrap_or(i64::MAX))
            .await
            .map_err(RedisError::from)?;
    }
    Ok(Some(record.user))
}

/// Copies `user` into every one of its sessions, keeping each one's timeouts. A session that ends
/// meanwhile stays ended. Two writers racing leave either copy: the caller reads the directory
/// again afterwards and copies again if it changed (see `accounts::service`).
pub async fn copy_account(state: &AppState, user: &User) -> Result<(), AppError> {
    let mut redis = state.redis.connection();
    let digests: Vec<String> = redis
        .smembers(user_key(state, user.id))
        .await
        .map_err(RedisError::from)?;
    if digests.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = digests
        .iter()
        .map(|digest| session_key(state, digest))
        .collect();
    let found: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&keys)
        .query_async(&mut redis)
        .await
        .map_err(RedisError::from)?;
    let mut pipe = redis::pipe();
    for (key, json) in keys.iter().zip(found) {
        let Some(record) = json.and_then(|json| serde_json::from_str::<Record>(&json).ok()) else {
            continue;
        };
        let copied = serde_json::to_string(&Record {
            user: user.clone(),
            created_s: record.created_s,
        })
        .map_err(AppError::internal)?;
        pipe.cmd("SET")
            .arg(key)
            .arg(copied)
            .arg("XX")
            .arg("KEEPTTL")
            .ignore();
    }
    let () = pipe
        .query_async(&mut redis)
        .await
        .map_err(RedisError::from)?;
    Ok(())
}

/// Ends one session.
pub async fn end(state: &AppState, token: &str, user: UserId) -> Result<(), AppError> {
    let digest = digest(token);
    let mut redis = state.redis.connection();
    let () = redis::pipe()
        .del(session_key(state, &digest))
        .ignore()
        .srem(user_key(state, user), &digest)
        .ignore()
        .query_async(&mut redis)
        .await
        .map_err(RedisError::from)?;
    Ok(())
}

/// Ends every session of `user` (password changed, account deleted).
pub async fn end_all(state: &AppState, user: UserId) -> Result<(), AppError> {
    let mut redis = state.redis.connection();
    let digests: Vec<String> = redis
        .smembers(user_key(state, user))
        .await
        .map_err(RedisError::from)?;
    let mut pipe = redis::pipe();
    for digest in &digests {
        pipe.del(session_key(state, digest)).ignore();
    }
    pipe.del(user_key(state, user)).ignore();
    let () = pipe
        .query_async(&mut redis)
        .await
        .map_err(RedisError::from)?;
    Ok(())
}

/// The token a request carries: a bearer token, else the session cookie.
pub fn token_from(parts: &Parts) -> Option<String> {
    let bearer = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| token.trim().to_owned());
    let well_formed =
        |token: &String| token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
    bearer
        .filter(well_formed)
        .or_else(|| crate::request::cookie(parts, COOKIE_NAME).filter(well_formed))
}

/// The `Set-Cookie` value that hands `token` to the browser (an empty token clears it).
pub fn cookie(parts: &Parts, token: &str) -> Result<HeaderValue, AppError> {
    let max_age = if token.is_empty() { 0 } else { ABSOLUTE_TTL_S };
    crate::request::set_cookie(parts, COOKIE_NAME, token, max_age)
}
