//! The admin console's server functions. Each checks the admin session first, then parses the
//! form's text fields into the same input types the REST API uses, so both reject the same input
//! with the same messages.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::catalog::model::{Category, Item, Page, StockMovement};
use crate::error::AppError;
use crate::search::model::SearchResults;

/// An item with its category and the newest page of its stock ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminItemView {
    pub item: Item,
    pub category: Category,
    pub ledger: Page<StockMovement>,
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use http::request::Parts;
    use rust_decimal::Decimal;

    use crate::catalog::model::CategoryId;
    use crate::error::AppError;
    use crate::shard::id::ItemId;
    use crate::state::{AppState, use_app_state};

    /// The shared state, once the request's session turns out to be an admin's.
    pub async fn admin_state() -> Result<AppState, AppError> {
        let state = use_app_state()?;
        let parts = request_parts()?;
        crate::accounts::service::require_admin(&state, &parts).await?;
        Ok(state)
    }

    /// The request a server function answers.
    pub fn request_parts() -> Result<Parts, AppError> {
        leptos::prelude::use_context::<Parts>()
            .ok_or_else(|| AppError::internal("request parts missing from the Leptos context"))
    }

    pub fn parse_price(text: &str) -> Result<Decimal, AppError> {
        text.trim()
            .parse()
            .map_err(|_| AppError::invalid("price", "must be a number, like 19.99"))
    }

    pub fn parse_whole(field: &str, text: &str) -> Result<i64, AppError> {
        text.trim()
            .parse()
            .map_err(|_| AppError::invalid(field, "must be a whole number"))
    }

    pub fn parse_item_id(text: &str) -> Result<ItemId, AppError> {
        text.parse().map_err(|_| AppError::not_found("item"))
    }

    pub fn parse_category_id(text: &str) -> Result<CategoryId, AppError> {
        text.parse()
            .map(CategoryId)
            .map_err(|_| AppError::invalid("category_id", "choose a category"))
    }
}

/// Every category, with its shard.
#[server(endpoint = "admin/categories")]
pub async fn admin_categories() -> Result<Vec<Category>, AppError> {
    let result = async {
        let state = ssr::admin_state().await?;
        crate::catalog::service::list_categories(&state).await
    };
    result.await.map_err(crate::error::with_status)
}

/// Creates a category.
#[server(endpoint = "admin/create-category")]
pub async fn admin_create_category(name: String) -> Result<Category, AppError> {
    let result = async {
        let state = ssr::admin_state().await?;
        let input = crate::catalog::model::CategoryInput { name };
        crate::catalog::service::create_category(&state, &input).await
    };
    result.await.map_err(crate::error::with_status)
}

/// Renames a category.
#[server(endpoint = "admin/rename-category")]
pub async fn admin_rename_category(id: String, name: String) -> Result<Category, AppError> {
    let result = async {
        let state = ssr::admin_state().await?;
        let id = ssr::parse_category_id(&id)?;
        let input = crate::catalog::model::CategoryInput { name };
        crate::catalog::service::rename_category(&state, id, &input).await
    };
    result.await.map_err(crate::error::with_status)
}

/// The items table: a search over every item (sold out included).
#[server(endpoint = "admin/items")]
pub async fn admin_items(
    q: Option<String>,
    category: Option<String>,
    sort: Option<String>,
    page: Option<String>,
) -> Result<SearchResults, AppError> {
    let result = async {
        let state = ssr::admin_state().await?;
        let params = crate::search::model::SearchParams {
            q,
            category,
            sort,
            page,
            per_page: Some("25".into()),
            ..Default::default()
        };
        crate::search::service::search(&state, &params).await
    };
    result.await.map_err(crate::error::with_status)
}

/// One item, its category and its latest ledger rows.
#[server(endpoint = "admin/item")]
pub async fn admin_item(id: String) -> Result<AdminItemView, AppError> {
    use crate::catalog::model::PageRequest;
    use crate::catalog::service;
    let result = async {
        let state = ssr::admin_state().await?;
        let id = ssr::parse_item_id(&id)?;
        let item = service::item(&state, id).await?;
        let category = service::category(&state, item.category_id).await?;
        let ledger =
            service::stock_movements(&state, id, PageRequest::parse(None, None, 20)?).await?;
        Ok(AdminItemView {
            item,
            category,
            ledger,
        })
    };
    result.await.map_err(crate::error::with_status)
}

/// Creates an item and opens it.
#[server(endpoint = "admin/create-item")]
pub async fn admin_create_item(
    category_id: String,
    name: String,
    description: String,
    price: String,
    currency: String,
    stock: String,
    location: String,
) -> Result<Item, AppError> {
    use crate::catalog::model::{FieldErrors, ItemInput};
    let result = async {
        let state = ssr::admin_state().await?;
        // Collect the form-level parse errors with the domain's, so every field is named at once.
        let mut errors = FieldErrors::default();
        let category_id = errors.check(
            "category_id",
            ssr::parse_category_id(&category_id).map_err(|_| "choose a category".to_owned()),
        );
        let price = errors.check(
            "price",
            ssr::parse_price(&price).map_err(|_| "must be a number, like 19.99".to_owned()),
        );
        let stock = errors.check(
            "stock",
            ssr::parse_whole("stock", &stock).map_err(|_| "must be a whole number".to_owned()),
        );
        let input = ItemInput {
            category_id: category_id.unwrap_or_default(),
            name,
            description,
            price: price.unwrap_or_default(),
            currency: Some(currency),
            stock: stock.unwrap_or_default(),
            location,
        };
        if let Err(AppError::Validation { fields }) = input.parse() {
            for (field, messages) in fields {
                if !(field == "price" && price.is_none()) {
                    for message in messages {
                        errors.add(&field, message);
                    }
                }
            }
        }
        errors.finish()?;
        let item = crate::catalog::service::create_item(&state, &input).await?;
        leptos_axum::redirect(&format!("/admin/items/{}", item.id));
        Ok(item)
    };
    result.await.map_err(crate::error::with_status)
}

/// Saves an item's fields.
#[server(endpoint = "admin/update-item")]
pub async fn admin_update_item(
    id: String,
    name: String,
    description: String,
    price: String,
    currency: String,
    location: String,
) -> Result<Item, AppError> {
    use crate::catalog::model::ItemPatchInput;
    let result = async {
        let state = ssr::admin_state().await?;
        let id = ssr::parse_item_id(&id)?;
        let patch = ItemPatchInput {
            name: Some(name),
            description: Some(description),
            price: Some(ssr::parse_price(&price)?),
            currency: Some(currency),
            location: Some(location),
        };
        crate::catalog::service::update_item(&state, id, &patch).await
    };
    result.await.map_err(crate::error::with_status)
}

/// Sets or adjusts an item's stock, with a reason.
#[server(endpoint = "admin/change-stock")]
pub async fn admin_change_stock(
    id: String,
    kind: String,
    quantity: String,
    reason: String,
) -> Result<StockMovement, AppError> {
    use crate::catalog::model::{StockChangeInput, StockChangeKind};
    let result = async {
        let state = ssr::admin_state().await?;
        let id = ssr::parse_item_id(&id)?;
        let kind = match kind.as_str() {
            "set" => StockChangeKind::Set,
            "adjust" => StockChangeKind::Adjust,
            _ => return Err(AppError::invalid("kind", "must be set or adjust")),
        };
        let input = StockChangeInput {
            kind,
            quantity: ssr::parse_whole("quantity", &quantity)?,
            reason,
        };
        let (_, movement) = crate::catalog::service::change_stock(&state, id, &input).await?;
        Ok(movement)
    };
    result.await.map_err(crate::error::with_status)
}

/// Deletes an item once the form confirms it.
#[server(endpoint = "admin/delete-item")]
pub async fn admin_delete_item(id: String, confirm: Option<String>) -> Result<(), AppError> {
    let result = async {
        let state = ssr::admin_state().await?;
        let id = ssr::parse_item_id(&id)?;
        if confirm.as_deref() != Some("yes") {
            return Err(AppError::invalid(
                "confirm",
                "tick the box to confirm the deletion",
            ));
        }
        crate::catalog::service::delete_item(&state, id).await?;
        leptos_axum::redirect("/admin/items");
        Ok(())
    };
    result.await.map_err(crate::error::with_status)
}
