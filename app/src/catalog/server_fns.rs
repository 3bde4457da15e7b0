//! The catalog's server functions: the storefront's reads. Each is thin: parse, call the service,
//! map the error (which also sets the response status of a server-side render).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::{Category, Item, Page};
use crate::error::AppError;

/// A category and one page of its items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryWithItems {
    pub category: Category,
    pub items: Page<Item>,
}

/// An item and the category it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemWithCategory {
    pub item: Item,
    pub category: Category,
}

/// How many items a category page shows.
pub const CATEGORY_PAGE_SIZE: u32 = 24;
/// How many items the home page features.
pub const FEATURED_ITEMS: u32 = 8;

/// Every category of the shop, by name.
#[server(endpoint = "categories")]
pub async fn list_categories() -> Result<Vec<Category>, AppError> {
    let state = crate::state::use_app_state()?;
    super::service::list_categories(&state)
        .await
        .map_err(crate::error::with_status)
}

/// The newest items in stock, for the home page.
#[server(endpoint = "featured")]
pub async fn featured_items() -> Result<Vec<Item>, AppError> {
    let state = crate::state::use_app_state()?;
    super::service::featured_items(&state, FEATURED_ITEMS)
        .await
        .map_err(crate::error::with_status)
}

/// One page of a category, found by its address.
#[server(endpoint = "category-listing")]
pub async fn category_listing(
    slug: String,
    sort: Option<String>,
    page: Option<u32>,
) -> Result<CategoryWithItems, AppError> {
    use super::model::{ItemSort, PageRequest};
    let state = crate::state::use_app_state()?;
    let result = async {
        let sort = sort
            .as_deref()
            .map(ItemSort::parse)
            .transpose()?
            .unwrap_or_default();
        let page = PageRequest::parse(page, None, CATEGORY_PAGE_SIZE)?;
        let category = super::service::category_by_slug(&state, &slug).await?;
        let items = super::service::category_items(&state, &category, sort, page).await?;
        Ok(CategoryWithItems { category, items })
    };
    result.await.map_err(crate::error::with_status)
}

/// An item with its category.
#[server(endpoint = "item")]
pub async fn item_detail(id: String) -> Result<ItemWithCategory, AppError> {
    let state = crate::state::use_app_state()?;
    let result = async {
        let id = id.parse().map_err(|_| AppError::not_found("item"))?;
        let item = super::service::item(&state, id).await?;
        let category = super::service::category(&state, item.category_id).await?;
        Ok(ItemWithCategory { item, category })
    };
    result.await.map_err(crate::error::with_status)
}

/// An item's stock now, for the live count on its page.
#[server(endpoint = "item-stock")]
pub async fn item_stock(id: String) -> Result<u32, AppError> {
    let state = crate::state::use_app_state()?;
    let result = async {
        let id = id.parse().map_err(|_| AppError::not_found("item"))?;
        Ok(super::service::item(&state, id).await?.stock)
    };
    result.await.map_err(crate::error::with_status)
}
