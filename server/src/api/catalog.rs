//! `/api/v1` for the catalog: categories and items (public reads, admin writes) and the stock
//! ledger. Each handler is thin: authenticate, parse, call the service that the storefront's
//! server functions call too.

use app::catalog::model::{
    Category, CategoryId, CategoryInput, Item, ItemInput, ItemPatchInput, ItemSort, Page,
    PageRequest, StockChangeInput, StockMovement,
};
use app::catalog::service;
use app::error::AppError;
use app::search::model::{SearchParams, SearchResults};
use app::shard::id::ItemId;
use app::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use http::header::LOCATION;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ErrorBody;
use super::extract::{ApiJson, ApiQuery, RequireAdmin};

/// Paging of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    pub page: Option<u32>,
    /// Entries per page, 1 to 100 (default 20).
    pub per_page: Option<u32>,
}

/// Paging and order of a list of items.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemListQuery {
    /// 1-based page number (default 1).
    pub page: Option<u32>,
    /// Entries per page, 1 to 100 (default 20).
    pub per_page: Option<u32>,
    /// `newest` (default), `price_asc`, `price_desc` or `name`.
    pub sort: Option<String>,
}

/// The result of a stock change: the item as it is now, and the ledger row written.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockChangeResult {
    pub item: Item,
    pub movement: StockMovement,
}

const DEFAULT_PER_PAGE: u32 = 20;

fn parse_category_id(text: &str) -> Result<CategoryId, AppError> {
    text.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .map(CategoryId)
        .ok_or_else(|| AppError::BadRequest {
            message: format!("{text:?} is not a category ID (a positive number)"),
        })
}

fn parse_item_id(text: &str) -> Result<ItemId, AppError> {
    text.parse().map_err(|error| AppError::BadRequest {
        message: format!("{text:?} is not an item ID: {error}"),
    })
}

fn created<T>(location: String, body: T) -> (StatusCode, [(http::HeaderName, String); 1], Json<T>) {
    (StatusCode::CREATED, [(LOCATION, location)], Json(body))
}

/// Every category, by name.
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog",
    responses((status = 200, body = Vec<Category>)))]
pub async fn list_categories(
    State(state): State<AppState>,
) -> Result<Json<Vec<Category>>, AppError> {
    Ok(Json(service::list_categories(&state).await?))
}

/// Creates a category on the least loaded shard.
#[utoipa::path(post, path = "/api/v1/categories", tag = "catalog", request_body = CategoryInput,
    security(("session" = [])),
    responses(
        (status = 201, body = Category, headers(("Location" = String))),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a category with this name exists"),
        (status = 422, body = ErrorBody)))]
pub async fn create_category(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CategoryInput>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let category = service::create_category(&state, &input).await?;
    Ok(created(
        format!("/api/v1/categories/{}", category.id.0),
        category,
    ))
}

/// One category.
#[utoipa::path(get, path = "/api/v1/categories/{id}", tag = "catalog",
    params(("id" = u64, Path)),
    responses((status = 200, body = Category), (status = 404, body = ErrorBody)))]
pub async fn get_category(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Category>, AppError> {
    Ok(Json(
        service::category(&state, parse_category_id(&id)?).await?,
    ))
}

/// Renames a category.
#[utoipa::path(patch, path = "/api/v1/categories/{id}", tag = "catalog", request_body = CategoryInput,
    params(("id" = u64, Path)), security(("session" = [])),
    responses((status = 200, body = Category), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rename_category(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CategoryInput>,
) -> Result<Json<Category>, AppError> {
    let id = parse_category_id(&id)?;
    Ok(Json(service::rename_category(&state, id, &input).await?))
}

/// One page of a category's items.
#[utoipa::path(get, path = "/api/v1/categories/{id}/items", tag = "catalog",
    params(("id" = u64, Path), ItemListQuery),
    responses((status = 200, body = Page<Item>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list_category_items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ItemListQuery>,
) -> Result<Json<Page<Item>>, AppError> {
    let id = parse_category_id(&id)?;
    let sort = query
        .sort
        .as_deref()
        .map(ItemSort::parse)
        .transpose()?
        .unwrap_or_default();
    let page = PageRequest::parse(query.page, query.per_page, DEFAULT_PER_PAGE)?;
    let category = service::category(&state, id).await?;
    Ok(Json(
        service::category_items(&state, &category, sort, page).await?,
    ))
}

/// Creates an item in a category, with its initial stock in the ledger.
#[utoipa::path(post, path = "/api/v1/items", tag = "catalog", request_body = ItemInput,
    security(("session" = [])),
    responses(
        (status = 201, body = Item, headers(("Location" = String))),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a field is invalid; `fields` names it")))]
pub async fn create_item(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ItemInput>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let item = service::create_item(&state, &input).await?;
    Ok(created(format!("/api/v1/items/{}", item.id), item))
}

/// Searches the catalog: words (typos forgiven) in names and descriptions, filters, sorting and
/// paging; with the number of matches per category.
#[utoipa::path(get, path = "/api/v1/search", tag = "catalog", params(SearchParams),
    responses((status = 200, body = SearchResults), (status = 422, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchResults>, AppError> {
    Ok(Json(app::search::service::search(&state, &params).await?))
}

/// One item.
#[utoipa::path(get, path = "/api/v1/items/{id}", tag = "catalog",
    params(("id" = String, Path, example = "item-0-1")),
    responses((status = 200, body = Item), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_item(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Item>, AppError> {
    Ok(Json(service::item(&state, parse_item_id(&id)?).await?))
}

/// Changes the fields the body names (not the stock: see the stock movements).
#[utoipa::path(patch, path = "/api/v1/items/{id}", tag = "catalog", request_body = ItemPatchInput,
    params(("id" = String, Path)), security(("session" = [])),
    responses((status = 200, body = Item), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn update_item(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ItemPatchInput>,
) -> Result<Json<Item>, AppError> {
    let id = parse_item_id(&id)?;
    Ok(Json(service::update_item(&state, id, &input).await?))
}

/// Removes an item from the shop.
#[utoipa::path(delete, path = "/api/v1/items/{id}", tag = "catalog",
    params(("id" = String, Path)), security(("session" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_item(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    service::delete_item(&state, parse_item_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets (`set`) or adjusts (`adjust`) an item's stock, with a reason for the ledger.
#[utoipa::path(post, path = "/api/v1/items/{id}/stock-movements", tag = "catalog",
    request_body = StockChangeInput, params(("id" = String, Path)), security(("session" = [])),
    responses(
        (status = 201, body = StockChangeResult),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "removing more units than are in stock"),
        (status = 422, body = ErrorBody)))]
pub async fn change_stock(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<StockChangeInput>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let id = parse_item_id(&id)?;
    let (item, movement) = service::change_stock(&state, id, &input).await?;
    Ok(created(
        format!("/api/v1/items/{id}/stock-movements"),
        StockChangeResult { item, movement },
    ))
}

/// One page of an item's stock ledger, newest first.
#[utoipa::path(get, path = "/api/v1/items/{id}/stock-movements", tag = "catalog",
    params(("id" = String, Path), PageQuery), security(("session" = [])),
    responses((status = 200, body = Page<StockMovement>), (status = 404, body = ErrorBody)))]
pub async fn list_stock_movements(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<StockMovement>>, AppError> {
    let id = parse_item_id(&id)?;
    let page = PageRequest::parse(query.page, query.per_page, DEFAULT_PER_PAGE)?;
    Ok(Json(service::stock_movements(&state, id, page).await?))
}
