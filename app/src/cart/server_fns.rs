//! The cart page's server functions.

use leptos::prelude::*;

use super::model::Cart;
use crate::error::AppError;

#[cfg(feature = "ssr")]
mod ssr {
    use crate::cart::model::Cart;
    use crate::cart::service;
    use crate::cart::store::{Change, Owner};
    use crate::error::AppError;
    use crate::shard::id::ItemId;
    use crate::state::{AppState, use_app_state};

    /// The state and the cart a write goes to (sending the visitor cookie when one is new).
    pub async fn writable_cart() -> Result<(AppState, Owner), AppError> {
        let state = use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let (owner, cookie) = service::owner_for_write(&state, &parts).await?;
        send_cookie(cookie);
        Ok((state, owner))
    }

    /// One line of the cart a write goes to changed (sending the visitor cookie when one is new).
    pub async fn change_line(id: ItemId, change: Change) -> Result<Cart, AppError> {
        let state = use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let (cart, cookie) = service::change_line(&state, &parts, id, change).await?;
        send_cookie(cookie);
        Ok(cart)
    }

    /// Sends a new visitor cart's cookie with the response.
    fn send_cookie(cookie: Option<http::HeaderValue>) {
        if let (Some(cookie), Some(response)) = (
            cookie,
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        ) {
            response.append_header(http::header::SET_COOKIE, cookie);
        }
    }

    pub fn parse_item(text: &str) -> Result<ItemId, AppError> {
        text.parse()
            .map_err(|_| AppError::invalid("item_id", "is not an item"))
    }

    pub fn parse_quantity(text: &str) -> Result<u32, AppError> {
        text.trim()
            .parse::<i64>()
            .map_err(|_| "must be a whole number".to_owned())
            .and_then(crate::cart::model::parse_quantity)
            .map_err(|message| AppError::invalid("quantity", message))
    }
}

/// The cart of this visitor or customer.
#[server(endpoint = "cart")]
pub async fn get_cart() -> Result<Cart, AppError> {
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let owner = crate::cart::service::owner(&state, &parts).await?;
        crate::cart::service::view(&state, owner.as_ref()).await
    };
    result.await.map_err(crate::error::with_status)
}

/// Adds units of an item.
#[server(endpoint = "cart/add")]
pub async fn add_to_cart(item_id: String, quantity: String) -> Result<Cart, AppError> {
    let result = async {
        let id = ssr::parse_item(&item_id)?;
        let quantity = ssr::parse_quantity(&quantity)?;
        ssr::change_line(id, crate::cart::store::Change::Add(quantity)).await
    };
    result.await.map_err(crate::error::with_status)
}

/// Sets how many of an item the cart holds (0 takes it out).
#[server(endpoint = "cart/set")]
pub async fn set_cart_quantity(item_id: String, quantity: String) -> Result<Cart, AppError> {
    let result = async {
        let id = ssr::parse_item(&item_id)?;
        let quantity = ssr::parse_quantity(&quantity)?;
        ssr::change_line(id, crate::cart::store::Change::Set(quantity)).await
    };
    result.await.map_err(crate::error::with_status)
}

/// Empties the cart.
#[server(endpoint = "cart/clear")]
pub async fn clear_cart() -> Result<(), AppError> {
    let result = async {
        let (state, owner) = ssr::writable_cart().await?;
        crate::cart::service::clear(&state, &owner).await
    };
    result.await.map_err(crate::error::with_status)
}
