//! Category pages for visitors who are not signed in, kept for [`PAGE_TTL`].
//!
//! A category page is the same for every visitor who is not signed in, and its listing is
//! already cached for two seconds (`catalog::cache`): rendering it again for every visitor
//! cost a fifth of the read mix's CPU. The rendered page is kept per address for a second, so
//! the stock it shows lags by three seconds at most; an item's own page stays live. Each answer
//! still gets a nonce of its own: the kept page's nonce is replaced in the body and in the
//! Content-Security-Policy. An answer from the kept page says how old it is (`Age`).
//!
//! Only a plain `200` that sets no cookie is kept; a request with a session (cookie or bearer
//! token) is always rendered for its user.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::accounts::session::COOKIE_NAME;
use app::request::cookie_in;
use app::ui::content_security_policy;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{AGE, AUTHORIZATION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body::Body as _;

/// How long a rendered page is answered from memory.
pub const PAGE_TTL: Duration = Duration::from_secs(1);

/// The most addresses kept (sorts and pages of every category).
const MAX_PAGES: usize = 1024;

/// The largest page kept.
const MAX_PAGE_BYTES: usize = 512 * 1024;

/// The path every kept page is under.
const PREFIX: &str = "/categories/";

/// Rendered category pages, by address.
#[derive(Default)]
pub struct ListingPages {
    pages: Mutex<HashMap<String, Arc<Kept>>>,
}

struct Kept {
    at: Instant,
    headers: HeaderMap,
    html: String,
    nonce: String,
}

impl ListingPages {
    fn get(&self, address: &str) -> Option<Arc<Kept>> {
        let pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        pages
            .get(address)
            .filter(|kept| kept.at.elapsed() < PAGE_TTL)
            .map(Arc::clone)
    }

    fn put(&self, address: String, kept: Arc<Kept>) {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.len() >= MAX_PAGES && !pages.contains_key(&address) {
            pages.retain(|_, kept| kept.at.elapsed() < PAGE_TTL);
            if pages.len() >= MAX_PAGES {
                return;
            }
        }
        pages.insert(address, kept);
    }
}

/// Whether the request is a visitor's GET of a category page: no session of any kind.
fn is_anonymous_listing(request: &Request) -> bool {
    let headers = request.headers();
    request.method() == Method::GET
        && request.uri().path().starts_with(PREFIX)
        && !headers.contains_key(AUTHORIZATION)
        && cookie_in(headers, COOKIE_NAME).is_none()
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
fn answer(kept: &Kept) -> Response {
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

/// Answers a visitor's category page from memory when it was rendered less than [`PAGE_TTL`] ago;
/// renders it otherwise, and keeps it.
pub async fn keep_listing_pages(
    State(pages): State<Arc<ListingPages>>,
    request: Request,
    next: Next,
) -> Response {
    if !is_anonymous_listing(&request) {
        return next.run(request).await;
    }
    let address = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    if let Some(kept) = pages.get(&address) {
        return answer(&kept);
    }
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
            tracing::error!(%error, "a rendered category page could not be read");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let Ok(html) = std::str::from_utf8(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    pages.put(
        address,
        Arc::new(Kept {
            at: Instant::now(),
            headers: parts.headers.clone(),
            html: html.to_owned(),
            nonce,
        }),
    );
    Response::from_parts(parts, Body::from(bytes))
}
