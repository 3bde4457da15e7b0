//! Catalog pages for visitors who are not signed in, answered from the pages this copy keeps
//! (`app::catalog::kept_pages`: what is kept, and for how long).
//!
//! Each answer still gets a nonce of its own: the kept page's nonce is replaced in the body and
//! in the Content-Security-Policy. An answer from a kept page says how old it is (`Age`). Only a
//! plain `200` that sets no cookie is kept; a request with a session (cookie or bearer token) is
//! always rendered for its user.

use std::time::Instant;

use app::accounts::session::COOKIE_NAME;
use app::catalog::kept_pages::{Keepable, KeptPage};
use app::request::cookie_in;
use app::state::AppState;
use app::ui::content_security_policy;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{AGE, AUTHORIZATION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body::Body as _;

/// The largest page kept.
const MAX_PAGE_BYTES: usize = 512 * 1024;

/// Which kept page a request asks for: a visitor's GET (no session of any kind) of a catalog page.
fn keepable(request: &Request) -> Option<Keepable> {
    let headers = request.headers();
    if request.method() != Method::GET
        || headers.contains_key(AUTHORIZATION)
        || cookie_in(headers, COOKIE_NAME).is_some()
    {
        return None;
    }
    Keepable::of(request.uri().path(), request.uri().query())
}

/// The nonce a Content-Security-Policy names.
fn nonce_of(headers: &HeaderMap) -> Option<String> {
    let policy = headers.get(CONTENT_SECURITY_POLICY)?.to_str().ok()?;
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let length = policy[start..].find('\'')?;
    Some(policy[start..start + length].to_owned())
}

/// A nonce for one answer: 128 random bits.
fn fresh_nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The kept page as one answer: its own nonce, and its age.
fn answer(kept: &KeptPage) -> Response {
    let fresh = fresh_nonce();
    let body = kept.html.replace(&kept.nonce, &fresh);
    let mut headers = kept.headers.clone();
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(&fresh)) {
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(AGE, HeaderValue::from(kept.at.elapsed().as_secs()));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    let mut response = Response::new(Body::from(body));
    *response.headers_mut() = headers;
    response
}

/// Answers a visitor's catalog page from the kept one when there is one; renders it otherwise,
/// and keeps it.
pub async fn keep_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(kind) = keepable(&request) else {
        return next.run(request).await;
    };
    let address = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    if let Some(kept) = state.pages.get(&address) {
        return answer(&kept);
    }
    let rendering_began = Instant::now();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK || response.headers().contains_key(SET_COOKIE) {
        return response;
    }
    let Some(nonce) = nonce_of(response.headers()) else {
        return response;
    };
    // Rendered in full and sized (`whole_bodies`): a streamed or large page goes as it is.
    let size = response.body().size_hint().exact();
    if size.is_none_or(|size| size > MAX_PAGE_BYTES as u64) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, "a rendered catalog page could not be read");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let Ok(html) = std::str::from_utf8(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    state.pages.put(
        address,
        rendering_began,
        KeptPage {
            kind,
            at: Instant::now(),
            headers: parts.headers.clone(),
            html: html.to_owned(),
            nonce,
        },
    );
    Response::from_parts(parts, Body::from(bytes))
}
