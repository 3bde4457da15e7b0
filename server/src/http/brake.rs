//! The brake: a bound on how many requests a copy works on at once, and on how long a request
//! waits for its turn.
//!
//! Without it, a copy that falls behind takes on every request that arrives: its workers share
//! ever more of them, each one's Redis and database answers wait longer to be read, late answers
//! time out, and timed-out cache reads go to the databases, which makes it later still (a run that
//! collapsed this way went from milliseconds to seconds and did not come back). With it, at most
//! `http.max_in_flight` requests are worked on; the next ones wait, in order, up to
//! `http.queue_wait_ms`, and are then answered `503` with `Retry-After`, at once and cheaply,
//! so the requests let in stay fast and a client or the load balancer can try again (an
//! idempotent retry, see Checkout). Liveness and readiness probes never wait: a busy copy is
//! alive.
//!
//! The brake sits outside the request log: a request turned away is not logged one by one (at
//! thousands a second that would cost what the brake saves), but counted, and the count logged
//! at most once a second.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use app::error::AppError;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use http::HeaderValue;
use http::header::RETRY_AFTER;
use pin_project_lite::pin_project;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

use crate::config::HttpSettings;

/// The brake's state, shared by every request of a copy.
#[derive(Clone)]
pub struct Brake {
    turns: Arc<Semaphore>,
    wait: Duration,
    turned_away: Arc<TurnedAway>,
}

impl Brake {
    pub fn new(settings: &HttpSettings) -> Self {
        Brake {
            turns: Arc::new(Semaphore::new(settings.max_in_flight.max(1) as usize)),
            wait: Duration::from_millis(settings.queue_wait_ms),
            turned_away: Arc::new(TurnedAway {
                since_logged: AtomicU64::new(0),
                logged_at_ms: AtomicU64::new(0),
                started: Instant::now(),
            }),
        }
    }
}

/// The requests turned away since the last log line, and when that was.
struct TurnedAway {
    since_logged: AtomicU64,
    /// Milliseconds from `started`.
    logged_at_ms: AtomicU64,
    started: Instant,
}

impl TurnedAway {
    /// Counts one; logs the count when the last line is a second old (one caller wins the line).
    fn count(&self) {
        self.since_logged.fetch_add(1, Ordering::Relaxed);
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let logged = self.logged_at_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(logged) >= 1000
            && self
                .logged_at_ms
                .compare_exchange(logged, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let count = self.since_logged.swap(0, Ordering::Relaxed);
            tracing::warn!(
                turned_away = count,
                "too busy: requests answered 503 since the last such line"
            );
        }
    }
}

/// The paths that never wait: the probes.
fn is_probe(path: &str) -> bool {
    matches!(path, "/livez" | "/healthz")
}

impl<S> Layer<S> for Brake {
    type Service = Braked<S>;

    fn layer(&self, inner: S) -> Braked<S> {
        Braked {
            brake: self.clone(),
            inner,
        }
    }
}

/// The service behind the brake.
#[derive(Clone)]
pub struct Braked<S> {
    brake: Brake,
    inner: S,
}

/// The answer to a request: let in at once, holding its turn until the answer is ready, or
/// waiting for a turn (and turned away with a `503` when none frees up in time).
pub type LetIn<F> = Either<Turn<F>, BoxFuture<'static, Result<Response, Infallible>>>;

impl<S> Service<Request> for Braked<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = LetIn<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    /// Lets a request through when a turn is free, at once and without a box (nearly every
    /// request); else waits up to the brake's wait for one, and answers `503` with
    /// `Retry-After: 1` when none frees up.
    fn call(&mut self, request: Request) -> Self::Future {
        if is_probe(request.uri().path()) {
            return Either::Left(Turn::new(self.inner.call(request), None));
        }
        if let Ok(turn) = Arc::clone(&self.brake.turns).try_acquire_owned() {
            return Either::Left(Turn::new(self.inner.call(request), Some(turn)));
        }
        // The service made ready goes with the request; its clone stays for the next one.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let brake = self.brake.clone();
        Either::Right(Box::pin(async move {
            let turn = tokio::time::timeout(brake.wait, Arc::clone(&brake.turns).acquire_owned())
                .await
                .ok()
                .and_then(Result::ok);
            let Some(turn) = turn else {
                brake.turned_away.count();
                return Ok(too_busy());
            };
            Turn::new(inner.call(request), Some(turn)).await
        }))
    }
}

pin_project! {
    /// An answer being made, and the turn it holds until the answer (its head) is ready.
    pub struct Turn<F> {
        #[pin]
        answer: F,
        turn: Option<OwnedSemaphorePermit>,
    }
}

impl<F> Turn<F> {
    fn new(answer: F, turn: Option<OwnedSemaphorePermit>) -> Self {
        Turn { answer, turn }
    }
}

impl<F: Future> Future for Turn<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let answer = std::task::ready!(this.answer.poll(cx));
        this.turn.take();
        Poll::Ready(answer)
    }
}

fn too_busy() -> Response {
    let mut response = AppError::Unavailable {
        what: "the shop (too busy: try again in a second)".into(),
    }
    .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::StatusCode;
    use tokio::sync::Notify;
    use tower::ServiceExt;

    use super::*;

    /// A router whose `/slow` answers once `release` is notified, behind a brake of `turns` turns
    /// and `wait_ms` of waiting.
    fn braked(turns: u32, wait_ms: u64, release: Arc<Notify>) -> (Router, Brake) {
        let settings = HttpSettings {
            max_in_flight: turns,
            queue_wait_ms: wait_ms,
            ..crate::config::Settings::default().http
        };
        let brake = Brake::new(&settings);
        let router = Router::new()
            .route(
                "/slow",
                get(move || {
                    let release = Arc::clone(&release);
                    async move { release.notified().await }
                }),
            )
            .route("/livez", get(|| async { "alive" }))
            .layer(brake.clone());
        (router, brake)
    }

    fn get_request(path: &str) -> Request {
        Request::builder()
            .uri(path)
            .body(Body::empty())
            .expect("a request")
    }

    #[tokio::test]
    async fn a_request_past_the_turns_waits_then_is_turned_away_with_retry_after() {
        let release = Arc::new(Notify::new());
        let (router, brake) = braked(1, 50, Arc::clone(&release));
        let first = tokio::spawn(router.clone().oneshot(get_request("/slow")));
        tokio::task::yield_now().await;
        let started = tokio::time::Instant::now();
        let second = router
            .clone()
            .oneshot(get_request("/slow"))
            .await
            .expect("an answer");
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(second.headers()[RETRY_AFTER], "1");
        let body = axum::body::to_bytes(second.into_body(), 4096)
            .await
            .expect("a body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["error"], "unavailable");
        // Counted, for the next log line.
        assert_eq!(brake.turned_away.since_logged.load(Ordering::Relaxed), 1);
        // The probes never wait, and the request let in is answered.
        let probe = router
            .clone()
            .oneshot(get_request("/livez"))
            .await
            .expect("an answer");
        assert_eq!(probe.status(), StatusCode::OK);
        release.notify_one();
        let first = first.await.expect("joined").expect("an answer");
        assert_eq!(first.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_request_waiting_gets_the_turn_a_finished_one_frees() {
        let release = Arc::new(Notify::new());
        let (router, _) = braked(1, 5_000, Arc::clone(&release));
        let first = tokio::spawn(router.clone().oneshot(get_request("/slow")));
        tokio::task::yield_now().await;
        let second = tokio::spawn(router.clone().oneshot(get_request("/slow")));
        tokio::task::yield_now().await;
        release.notify_one();
        assert_eq!(
            first.await.expect("joined").expect("an answer").status(),
            StatusCode::OK
        );
        release.notify_one();
        assert_eq!(
            second.await.expect("joined").expect("an answer").status(),
            StatusCode::OK
        );
    }
}
