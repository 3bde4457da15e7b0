//! CSRF protection: a state-changing request that a browser marks as coming from another site is
//! refused, on top of the `SameSite` cookies. Clients that are not browsers (the REST API with a
//! bearer token) send neither header and pass.

use std::convert::Infallible;
use std::task::{Context, Poll};

use app::error::AppError;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use http::Method;
use http::header::{HOST, ORIGIN};
use tower::{Layer, Service};

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
#[derive(Clone, Copy)]
pub struct SameOriginLayer;

impl<S> Layer<S> for SameOriginLayer {
    type Service = SameOrigin<S>;

    fn layer(&self, inner: S) -> SameOrigin<S> {
        SameOrigin { inner }
    }
}

/// The service behind [`SameOriginLayer`].
#[derive(Clone)]
pub struct SameOrigin<S> {
    inner: S,
}

impl<S> Service<Request> for SameOrigin<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let safe = matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
        if !safe && is_cross_site(&request) {
            let refused = AppError::Forbidden {
                message: "a request from another site may not change anything here".into(),
            };
            return Either::Left(ready(Ok(refused.into_response())));
        }
        Either::Right(self.inner.call(request))
    }
}
