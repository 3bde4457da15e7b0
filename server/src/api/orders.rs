//! `/api/v1` for checkout and orders: a customer's own, and every customer's for admins.

use app::accounts::model::Role;
use app::checkout::model::{Checkout, Order, OrderFilter, OrderFilterInput, OrderPage};
use app::checkout::service;
use app::error::AppError;
use app::shard::id::OrderId;
use app::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::StatusCode;
use http::header::LOCATION;
use http::request::Parts;

use super::ErrorBody;
use super::extract::{ApiQuery, RequireUser};

fn parse_order_id(text: &str) -> Result<OrderId, AppError> {
    text.parse().map_err(|error| AppError::BadRequest {
        message: format!("{text:?} is not an order ID: {error}"),
    })
}

/// Checks out the caller's cart: one pending order per shard, its stock held for two minutes.
/// Send a new `Idempotency-Key` for each checkout; a retry with the same key answers the same
/// orders.
#[utoipa::path(post, path = "/api/v1/checkouts", tag = "orders", security(("session" = [])),
    params(("Idempotency-Key" = String, Header, description = "8 to 64 characters, new per checkout")),
    responses(
        (status = 201, body = Checkout),
        (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`sold_out`: which item, and how many are left"),
        (status = 422, body = ErrorBody, description = "an empty cart, or no idempotency key")))]
pub async fn check_out(
    RequireUser(user): RequireUser,
    State(state): State<AppState>,
    parts: Parts,
) -> Result<impl IntoResponse, AppError> {
    let key = parts
        .headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok());
    let key = service::parse_idempotency_key(key)?;
    let checkout = service::check_out(&state, &user, &key).await?;
    let location = checkout
        .orders
        .first()
        .map(|order| format!("/api/v1/orders/{}", order.id))
        .unwrap_or_default();
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(checkout)))
}

/// Orders across every shard, newest first, a page at a time: a customer's own; for an admin,
/// every customer's (`customer` narrows to one username). Follow `next` with `after` for older
/// orders.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("session" = [])),
    params(OrderFilterInput),
    responses((status = 200, body = OrderPage), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "a customer filtering by customer"),
        (status = 422, body = ErrorBody, description = "every invalid filter, named")))]
pub async fn list(
    RequireUser(user): RequireUser,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<OrderFilterInput>,
) -> Result<Json<OrderPage>, AppError> {
    let filter = OrderFilter::parse(&query)?;
    let page = match user.role {
        Role::Admin => service::all_orders(&state, &user, &filter).await?,
        Role::Customer => service::orders(&state, &user, &filter).await?,
    };
    Ok(Json(page))
}

/// One of the caller's orders (404 for another customer's; admins see any).
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", security(("session" = [])),
    params(("id" = String, Path, example = "order-1-7")),
    responses((status = 200, body = Order), (status = 404, body = ErrorBody)))]
pub async fn get(
    RequireUser(user): RequireUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Order>, AppError> {
    Ok(Json(
        service::order(&state, &user, parse_order_id(&id)?).await?,
    ))
}

/// Cancels an order: a pending one gives its held stock back; a placed one is restocked and its
/// payment refunded. Canceling twice is fine.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", security(("session" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Order), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the order failed: there is nothing to cancel")))]
pub async fn cancel(
    RequireUser(user): RequireUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Order>, AppError> {
    Ok(Json(
        service::cancel(&state, &user, parse_order_id(&id)?).await?,
    ))
}
