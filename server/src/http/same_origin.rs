//! CSRF protection: a state-changing request that a browser marks as coming from another site is
//! refused, on top of the `SameSite` cookies. Clients that are not browsers (the REST API with a
//! bearer token) send neither header and pass.

use app::error::AppError;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;
use http::header::{HOST, ORIGIN};

/// Whether a browser says the request comes from a page of another origin.
fn is_cross_site(request: &Request) -> bool {
    let headers = request.headers();
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site == "cross-site" || site == "same-site")
    {
        return true;
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, host)| host);
    origin_host.is_none() || origin_host != host
}

/// Refuses cross-site requests that could change something.
pub async fn same_origin_only(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe && is_cross_site(&request) {
        return AppError::Forbidden {
            message: "a request from another site may not change anything here".into(),
        }
        .into_response();
    }
    next.run(request).await
}
