//! `/api/v1/cart`: the caller's cart (the signed-in customer's, or a visitor's by its cookie).

use app::cart::model::{Cart, QuantityInput, parse_quantity};
use app::cart::service;
use app::cart::store::Change;
use app::error::AppError;
use app::shard::id::ItemId;
use app::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::StatusCode;
use http::header::SET_COOKIE;
use http::request::Parts;

use super::ErrorBody;
use super::extract::ApiJson;

fn parse_item_id(text: &str) -> Result<ItemId, AppError> {
    text.parse().map_err(|error| AppError::BadRequest {
        message: format!("{text:?} is not an item ID: {error}"),
    })
}

/// The cart, re-read against the catalog: each line's current price and stock, what changed, and
/// the totals per currency.
#[utoipa::path(get, path = "/api/v1/cart", tag = "cart",
    responses((status = 200, body = Cart)))]
pub async fn get_cart(State(state): State<AppState>, parts: Parts) -> Result<Json<Cart>, AppError> {
    let owner = service::owner(&state, &parts).await?;
    Ok(Json(service::view(&state, owner.as_ref()).await?))
}

/// Sets how many of an item the cart holds (0 takes it out). A visitor without a cart gets one
/// and its cookie.
#[utoipa::path(put, path = "/api/v1/cart/items/{item_id}", tag = "cart",
    request_body = QuantityInput, params(("item_id" = String, Path)),
    responses((status = 200, body = Cart), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "sold out, or the cart is full"),
        (status = 422, body = ErrorBody)))]
pub async fn put_line(
    State(state): State<AppState>,
    Path(item_id): Path<String>,
    parts: Parts,
    ApiJson(input): ApiJson<QuantityInput>,
) -> Result<impl IntoResponse, AppError> {
    let id = parse_item_id(&item_id)?;
    let quantity =
        parse_quantity(input.quantity).map_err(|message| AppError::invalid("quantity", message))?;
    let (cart, cookie) = service::change_line(&state, &parts, id, Change::Set(quantity)).await?;
    Ok((cookie.map(|c| [(SET_COOKIE, c)]), Json(cart)))
}

/// Takes an item out of the cart.
#[utoipa::path(delete, path = "/api/v1/cart/items/{item_id}", tag = "cart",
    params(("item_id" = String, Path)),
    responses((status = 200, body = Cart), (status = 400, body = ErrorBody)))]
pub async fn delete_line(
    State(state): State<AppState>,
    Path(item_id): Path<String>,
    parts: Parts,
) -> Result<Json<Cart>, AppError> {
    let id = parse_item_id(&item_id)?;
    match service::owner(&state, &parts).await? {
        Some(owner) => Ok(Json(service::remove_line(&state, &owner, id).await?)),
        None => Ok(Json(Cart::default())),
    }
}

/// Empties the cart.
#[utoipa::path(delete, path = "/api/v1/cart", tag = "cart", responses((status = 204)))]
pub async fn clear(State(state): State<AppState>, parts: Parts) -> Result<StatusCode, AppError> {
    if let Some(owner) = service::owner(&state, &parts).await? {
        service::clear(&state, &owner).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
