//! `/api/v1` for payments: paying a checkout, following it, placing it, and the processor's
//! webhook.

use app::error::AppError;
use app::payments::model::{
    CheckoutPayment, CheckoutProgress, PaymentFilter, PaymentFilterInput, PaymentPage,
};
use app::payments::service;
use app::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::HeaderMap;
use http::request::Parts;
use serde_json::{Value, json};

use super::ErrorBody;
use super::extract::{ApiQuery, RequireUser};

/// A checkout ID is 32 hex digits; anything else cannot be one of the caller's.
fn checkout_id(text: String) -> Result<String, AppError> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::not_found("checkout"));
    }
    Ok(text)
}

/// The payment of one of the caller's checkouts: one payment request at the processor for the
/// total of its orders, with the QR payload a bank app pays and its QR code as SVG. Asking again
/// answers the same one.
#[utoipa::path(post, path = "/api/v1/checkouts/{checkout_id}/payment", tag = "payments", security(("session" = [])),
    params(("checkout_id" = String, Path)),
    responses((status = 200, body = CheckoutPayment), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the checkout is no longer waiting for payment"),
        (status = 503, body = ErrorBody, description = "the payment processor is unavailable")))]
pub async fn pay(
    RequireUser(user): RequireUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CheckoutPayment>, AppError> {
    let id = checkout_id(id)?;
    Ok(Json(service::pay_checkout(&state, &user, &id).await?))
}

/// Where one of the caller's checkouts is: its orders and their payments (what a waiting page
/// polls).
#[utoipa::path(get, path = "/api/v1/checkouts/{checkout_id}/payment", tag = "payments", security(("session" = [])),
    params(("checkout_id" = String, Path)),
    responses((status = 200, body = CheckoutProgress), (status = 404, body = ErrorBody)))]
pub async fn progress(
    State(state): State<AppState>,
    Path(id): Path<String>,
    parts: Parts,
) -> Result<Json<CheckoutProgress>, AppError> {
    let id = checkout_id(id)?;
    Ok(Json(service::followed_checkout(&state, &parts, &id).await?))
}

/// Places a paid checkout now: asks the processor and settles (what a webhook or the poller would
/// do, a moment sooner). Idempotent: placing twice places once.
#[utoipa::path(post, path = "/api/v1/checkouts/{checkout_id}/place", tag = "payments", security(("session" = [])),
    params(("checkout_id" = String, Path)),
    responses((status = 200, body = CheckoutProgress), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the checkout has no payment yet"),
        (status = 503, body = ErrorBody, description = "the payment processor is unavailable")))]
pub async fn place(
    RequireUser(user): RequireUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CheckoutProgress>, AppError> {
    let id = checkout_id(id)?;
    Ok(Json(service::place_checkout(&state, &user, &id).await?))
}

/// The processor's events, signed (`Surge-Signature: t=<unix seconds>,v1=<HMAC-SHA256 of
/// "t.body">`): a forged, changed or replayed (older than 5 minutes) event is refused with 401.
#[utoipa::path(post, path = "/api/v1/payments/webhook", tag = "payments",
    request_body(content = String, description = "the processor's event, as JSON"),
    responses((status = 200, description = "acknowledged"),
        (status = 400, body = ErrorBody, description = "the event cannot be read"),
        (status = 401, body = ErrorBody, description = "no valid signature")))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let signature = headers
        .get(app::payments::signature::HEADER)
        .and_then(|value| value.to_str().ok());
    service::receive_webhook(&state, signature, &body).await?;
    Ok(Json(json!({ "received": true })))
}

/// Payments across every shard, newest first, a page at a time: a customer's own (their payment
/// history); for an admin, every customer's (`customer` narrows to one username). Follow `next`
/// with `after` for older ones.
#[utoipa::path(get, path = "/api/v1/payments", tag = "payments", security(("session" = [])),
    params(PaymentFilterInput),
    responses((status = 200, body = PaymentPage), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "a customer filtering by customer"),
        (status = 422, body = ErrorBody, description = "every invalid filter, named")))]
pub async fn list(
    RequireUser(user): RequireUser,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PaymentFilterInput>,
) -> Result<Json<PaymentPage>, AppError> {
    let filter = PaymentFilter::parse(&query)?;
    Ok(Json(service::list_payments(&state, &user, &filter).await?))
}
