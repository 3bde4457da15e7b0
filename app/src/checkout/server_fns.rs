//! The checkout and orders pages' server functions.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::{Checkout, Order};
use crate::error::AppError;

/// The customer's orders, and the server's clock (countdowns start from it, so the first render
/// is the same on the server and in the browser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersPage {
    pub orders: Vec<Order>,
    pub now: DateTime<Utc>,
}

/// A fresh idempotency key for the checkout form (one per visit of the cart page).
#[server(endpoint = "checkout-key")]
pub async fn checkout_key() -> Result<String, AppError> {
    Ok(format!("{:032x}", rand::random::<u128>()))
}

/// Checks the cart out and goes to the orders.
#[server(endpoint = "check-out")]
pub async fn check_out_cart(key: String) -> Result<Checkout, AppError> {
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let user = crate::accounts::service::require_user(&state, &parts).await?;
        let key = super::service::parse_idempotency_key(Some(&key))?;
        let checkout = super::service::check_out(&state, &user, &key).await?;
        leptos_axum::redirect("/orders");
        Ok(checkout)
    };
    result.await.map_err(crate::error::with_status)
}

/// The signed-in customer's orders.
#[server(endpoint = "orders")]
pub async fn my_orders() -> Result<OrdersPage, AppError> {
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let user = crate::accounts::service::require_user(&state, &parts).await?;
        let orders = super::service::orders(&state, &user, 50).await?;
        Ok(OrdersPage {
            orders,
            now: Utc::now(),
        })
    };
    result.await.map_err(crate::error::with_status)
}

/// Cancels a pending order.
#[server(endpoint = "cancel-order")]
pub async fn cancel_order(id: String) -> Result<Order, AppError> {
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let user = crate::accounts::service::require_user(&state, &parts).await?;
        let id = id.parse().map_err(|_| AppError::not_found("order"))?;
        super::service::cancel(&state, &user, id).await
    };
    result.await.map_err(crate::error::with_status)
}
