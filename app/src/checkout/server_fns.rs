//! The checkout and orders pages' server functions.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::{Checkout, Hold, Order};
use crate::accounts::model::User;
use crate::error::AppError;
use crate::payments::model::Payment;

/// A page of the customer's orders, and the server's clock (countdowns start from it, so the
/// first render is the same on the server and in the browser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersPage {
    pub orders: Vec<Order>,
    /// The payments of these orders (an order not yet paid for has none).
    pub payments: Vec<Payment>,
    /// The cursor of the next (older) page.
    pub next: Option<String>,
    pub now: DateTime<Utc>,
}

/// An order in the admin's list, with its customer's username (absent once the account is
/// deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerOrder {
    pub order: Order,
    pub customer: Option<String>,
}

/// A page of the admin's order list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOrdersPage {
    pub orders: Vec<CustomerOrder>,
    pub next: Option<String>,
}

/// One order as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOrderDetail {
    pub order: Order,
    pub holds: Vec<Hold>,
    pub payment: Option<Payment>,
    pub customer: Option<User>,
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
        leptos_axum::redirect(&format!("/checkout/{}", checkout.checkout_id));
        Ok(checkout)
    };
    result.await.map_err(crate::error::with_status)
}

/// A page of the signed-in customer's orders, newest first (`after`: the cursor of the page
/// before).
#[server(endpoint = "orders")]
pub async fn my_orders(after: Option<String>) -> Result<OrdersPage, AppError> {
    use super::model::{OrderFilter, OrderFilterInput};
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let user = crate::accounts::service::require_user(&state, &parts).await?;
        let filter = OrderFilter::parse(&OrderFilterInput {
            after,
            ..Default::default()
        })?;
        let page = super::service::orders(&state, &user, &filter).await?;
        let ids: Vec<_> = page.orders.iter().map(|order| order.id).collect();
        let payments = crate::payments::service::payments_of(&state, &ids).await?;
        Ok(OrdersPage {
            payments,
            orders: page.orders,
            next: page.next,
            now: Utc::now(),
        })
    };
    result.await.map_err(crate::error::with_status)
}

/// A page of every customer's orders, filtered (admins).
#[server(endpoint = "admin/orders")]
pub async fn admin_orders(
    filter: super::model::OrderFilterInput,
) -> Result<AdminOrdersPage, AppError> {
    use super::model::OrderFilter;
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let admin = crate::accounts::service::require_admin(&state, &parts).await?;
        let filter = OrderFilter::parse(&filter)?;
        let page = super::service::all_orders(&state, &admin, &filter).await?;
        let mut ids: Vec<_> = page.orders.iter().map(|o| o.customer_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let names = crate::accounts::service::usernames(&state, &ids).await?;
        Ok(AdminOrdersPage {
            orders: page
                .orders
                .into_iter()
                .map(|order| CustomerOrder {
                    customer: names.get(&order.customer_id).cloned(),
                    order,
                })
                .collect(),
            next: page.next,
        })
    };
    result.await.map_err(crate::error::with_status)
}

/// One order with its holds and customer (admins).
#[server(endpoint = "admin/order")]
pub async fn admin_order(id: String) -> Result<AdminOrderDetail, AppError> {
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let admin = crate::accounts::service::require_admin(&state, &parts).await?;
        let id = id.parse().map_err(|_| AppError::not_found("order"))?;
        let (order, holds, customer) = super::service::order_for_admin(&state, &admin, id).await?;
        let payment = crate::payments::service::payments_of(&state, &[id])
            .await?
            .into_iter()
            .next();
        Ok(AdminOrderDetail {
            order,
            holds,
            payment,
            customer,
            now: Utc::now(),
        })
    };
    result.await.map_err(crate::error::with_status)
}

/// Cancels an order: a pending one's holds end; a placed one is restocked and refunded.
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
