//! The payment page's server functions.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use super::model::{CheckoutPayment, CheckoutProgress};
use crate::error::AppError;

/// The payment (QR code and all) of one of the customer's checkouts, made on the first call, and
/// the server's clock (the countdown starts from it).
#[server(endpoint = "pay-checkout")]
pub async fn pay_for_checkout(
    checkout_id: String,
) -> Result<(CheckoutPayment, DateTime<Utc>), AppError> {
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let user = crate::accounts::service::require_user(&state, &parts).await?;
        let payment = super::service::pay_checkout(&state, &user, &checkout_id).await?;
        Ok((payment, Utc::now()))
    };
    result.await.map_err(crate::error::with_status)
}

/// Where one of the customer's checkouts is (what the payment page polls).
#[server(endpoint = "checkout-progress")]
pub async fn follow_checkout(checkout_id: String) -> Result<CheckoutProgress, AppError> {
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let user = crate::accounts::service::require_user(&state, &parts).await?;
        super::service::checkout_progress(&state, &user, &checkout_id).await
    };
    result.await.map_err(crate::error::with_status)
}

/// "I have paid": asks the processor now and places what is paid (idempotent).
#[server(endpoint = "place-checkout")]
pub async fn place_checkout(checkout_id: String) -> Result<CheckoutProgress, AppError> {
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let user = crate::accounts::service::require_user(&state, &parts).await?;
        super::service::place_checkout(&state, &user, &checkout_id).await
    };
    result.await.map_err(crate::error::with_status)
}
