//! Fault injection: what a test (or a person trying Surge) turns on to see how Surge copes with a
//! processor that is slow, fails, times out, or loses, repeats and reorders its webhooks. Faults
//! live in memory and start switched off; `PUT /v1/sandbox/faults` sets them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Sandbox;
use super::api::{ApiError, authorize};

/// The faults in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added before every merchant API answer (a timeout, when longer than the caller waits).
    pub latency_ms: u64,
    /// The share (0 to 1) of merchant API calls answered 503 without doing anything.
    pub error_rate: f64,
    /// The share of webhooks lost: counted as sent, never posted.
    pub drop_webhook_rate: f64,
    /// The share of webhooks posted twice.
    pub duplicate_webhook_rate: f64,
    /// Holds each webhook back by a random delay up to this, so later events can overtake it.
    pub reorder_webhooks_ms: u64,
}

impl Faults {
    fn check(&self) -> Result<(), ApiError> {
        let rates = [
            ("error_rate", self.error_rate),
            ("drop_webhook_rate", self.drop_webhook_rate),
            ("duplicate_webhook_rate", self.duplicate_webhook_rate),
        ];
        for (field, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ApiError::invalid(field, "must be between 0 and 1"));
            }
        }
        if self.latency_ms > 60_000 {
            return Err(ApiError::invalid("latency_ms", "must be at most 60000"));
        }
        if self.reorder_webhooks_ms > 60_000 {
            return Err(ApiError::invalid(
                "reorder_webhooks_ms",
                "must be at most 60000",
            ));
        }
        Ok(())
    }
}

/// The sandbox's switchboard.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch {
    faults: Arc<RwLock<Faults>>,
    /// Webhooks already held back once (each is reordered at most once).
    held_back: Arc<Mutex<HashSet<u64>>>,
}

impl FaultSwitch {
    /// The faults now.
    pub fn now(&self) -> Faults {
        self.faults.read().map(|f| *f).unwrap_or_default()
    }

    fn set(&self, faults: Faults) {
        if let Ok(mut current) = self.faults.write() {
            *current = faults;
        }
    }

    /// Whether an event with probability `rate` happens this time.
    pub fn roll(rate: f64) -> bool {
        rate > 0.0 && rand::random::<f64>() < rate
    }

    /// How long to hold webhook `id` back before its first post, if at all (once per webhook).
    pub fn hold_back(&self, id: u64) -> Option<Duration> {
        let most = self.now().reorder_webhooks_ms;
        if most == 0 {
            return None;
        }
        let mut held = self.held_back.lock().ok()?;
        held.insert(id)
            .then(|| Duration::from_millis(rand::random::<u64>() % most))
    }
}

/// Applies latency and errors to the merchant API.
pub async fn inject(State(sandbox): State<Sandbox>, request: Request, next: Next) -> Response {
    let faults = sandbox.faults.now();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if FaultSwitch::roll(faults.error_rate) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "unavailable", "message": "injected fault: the processor is down"})),
        )
            .into_response();
    }
    next.run(request).await
}

async fn read(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
) -> Result<Json<Faults>, ApiError> {
    authorize(&sandbox, &headers)?;
    Ok(Json(sandbox.faults.now()))
}

async fn set(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    Json(faults): Json<Faults>,
) -> Result<Json<Faults>, ApiError> {
    authorize(&sandbox, &headers)?;
    faults.check()?;
    sandbox.faults.set(faults);
    tracing::info!(?faults, "sandbox faults set");
    Ok(Json(faults))
}

/// `/v1/sandbox/faults` (never subject to the faults themselves).
pub fn router() -> Router<Sandbox> {
    Router::new().route("/v1/sandbox/faults", get(read).put(set))
}
