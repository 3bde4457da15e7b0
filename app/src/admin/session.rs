//! Admin sign-in for the console: the admin token, presented once on the sign-in page, buys a
//! random session ID kept in Redis and sent back as an `HttpOnly; SameSite=Strict` cookie, so the
//! token itself never sits in the browser. Sessions expire after [`SESSION_TTL_S`] and end at
//! sign-out.

use http::HeaderValue;
use http::header::COOKIE;
use http::request::Parts;
use redis::AsyncCommands;

use super::gate;
use crate::error::AppError;
use crate::state::AppState;

/// The cookie's name.
pub const COOKIE_NAME: &str = "surge_admin";
/// How long an admin session lasts.
pub const SESSION_TTL_S: u64 = 8 * 3600;

fn key(state: &AppState, id: &str) -> String {
    state.redis.key(&format!("admin-session:{id}"))
}

/// The session ID the request's cookie carries, if it looks like one.
fn session_id(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn cookie(value: &str, max_age_s: u64, secure: bool) -> Result<HeaderValue, AppError> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .map_err(AppError::internal)
}

/// Whether the request came over plain HTTP to this machine (where `Secure` cookies would be
/// dropped by the browser).
fn is_local_http(parts: &Parts) -> bool {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let forwarded_https = parts
        .headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p == "https");
    !forwarded_https
        && (host.starts_with("127.0.0.1")
            || host.starts_with("localhost")
            || host.starts_with("[::1]"))
}

/// Checks the token and starts a session; returns the `Set-Cookie` value.
pub async fn sign_in(
    state: &AppState,
    parts: &Parts,
    token: &str,
) -> Result<HeaderValue, AppError> {
    gate::require_admin(state.admin_token.as_ref(), Some(&format!("Bearer {token}")))
        .map_err(|_| AppError::invalid("token", "this is not the admin token"))?;
    let id = format!("{:032x}", rand::random::<u128>());
    let mut redis = state.redis.connection();
    redis
        .set_ex::<_, _, ()>(key(state, &id), "admin", SESSION_TTL_S)
        .await
        .map_err(crate::redis_store::RedisError::from)?;
    cookie(&id, SESSION_TTL_S, !is_local_http(parts))
}

/// Ends the request's session; returns the `Set-Cookie` value that clears the cookie.
pub async fn sign_out(state: &AppState, parts: &Parts) -> Result<HeaderValue, AppError> {
    if let Some(id) = session_id(parts) {
        let mut redis = state.redis.connection();
        redis
            .del::<_, ()>(key(state, &id))
            .await
            .map_err(crate::redis_store::RedisError::from)?;
    }
    cookie("", 0, !is_local_http(parts))
}

/// Admits a request that carries a live admin session.
pub async fn require(state: &AppState, parts: &Parts) -> Result<(), AppError> {
    let Some(id) = session_id(parts) else {
        return Err(AppError::Unauthorized {
            message: "sign in to the admin console".into(),
        });
    };
    let mut redis = state.redis.connection();
    let found: Option<String> = redis
        .get(key(state, &id))
        .await
        .map_err(crate::redis_store::RedisError::from)?;
    match found {
        Some(_) => Ok(()),
        None => Err(AppError::Unauthorized {
            message: "the admin session has ended: sign in again".into(),
        }),
    }
}
