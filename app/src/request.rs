//! What every front door reads from a request and writes back: cookies and the client's address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::header::COOKIE;
use http::request::Parts;
use http::{HeaderMap, HeaderValue};

use crate::error::AppError;

/// The value of the cookie `name`, if the request sends one.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    cookie_in(&parts.headers, name)
}

/// The value of the cookie `name` in a request's headers.
pub fn cookie_in(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether the request came over plain HTTP to this machine, where a `Secure` cookie would be
/// dropped by the browser; everywhere else cookies are `Secure`.
fn is_local_http(parts: &Parts) -> bool {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let https = parts
        .headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p == "https");
    !https
        && (host.starts_with("127.0.0.1")
            || host.starts_with("localhost")
            || host.starts_with("[::1]"))
}

/// The `Set-Cookie` value of an `HttpOnly; SameSite=Lax` cookie for the whole shop (`Secure`
/// except over plain HTTP to localhost); `max_age_s` 0 clears it.
pub fn set_cookie(
    parts: &Parts,
    name: &str,
    value: &str,
    max_age_s: u64,
) -> Result<HeaderValue, AppError> {
    let secure = if is_local_http(parts) { "" } else { "; Secure" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}"
    ))
    .map_err(AppError::internal)
}

/// The address the request came from, when the server knows it.
pub fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}
