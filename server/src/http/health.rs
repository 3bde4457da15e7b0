//! `GET /healthz`: every database and Redis, 200 when all answer, 503 naming what does not.
//! `GET /livez`: the process answers at all (asks nothing else): a liveness probe, and the
//! trivial route the load runs measure the HTTP stack's ceiling with.

use app::state::AppState;
use app::status::model::Health;
use app::status::service;
use axum::Json;
use axum::extract::State;
use http::StatusCode;

/// The health report; the status tells a load balancer whether to send traffic here.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let health = service::check(&state).await;
    let status = if health.all_up() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health))
}

/// Always `200 ok`: this copy's HTTP stack is up. A supervisor restarts a copy that stops
/// answering it; whether the copy should get traffic is `/healthz`'s question.
pub async fn livez() -> &'static str {
    "ok"
}
