//! The payment page's server functions.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::{CheckoutPayment, CheckoutProgress, Payment, PaymentFilterInput, PaymentPage};
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
        super::service::followed_checkout(&state, &parts, &checkout_id).await
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

/// A page of the signed-in customer's payments, newest first (`after`: the cursor of the page
/// before).
#[server(endpoint = "payments")]
pub async fn my_payments(after: Option<String>) -> Result<PaymentPage, AppError> {
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let user = crate::accounts::service::require_user(&state, &parts).await?;
        let filter = super::model::PaymentFilter::parse(&PaymentFilterInput {
            after,
            ..Default::default()
        })?;
        if user.role != crate::accounts::model::Role::Customer {
            // An admin's own history is not every customer's: the console lists those.
            return Ok(PaymentPage {
                payments: Vec::new(),
                next: None,
            });
        }
        super::service::list_payments(&state, &user, &filter).await
    };
    result.await.map_err(crate::error::with_status)
}

/// A payment in the admin's list, with its customer's username (absent once the account is
/// deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerPayment {
    pub payment: Payment,
    pub customer: Option<String>,
}

/// A page of the admin's payment list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminPaymentsPage {
    pub payments: Vec<CustomerPayment>,
    pub next: Option<String>,
}

/// A page of every customer's payments, filtered (admins).
#[server(endpoint = "admin/payments")]
pub async fn admin_payments(filter: PaymentFilterInput) -> Result<AdminPaymentsPage, AppError> {
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let admin = crate::accounts::service::require_admin(&state, &parts).await?;
        let filter = super::model::PaymentFilter::parse(&filter)?;
        let page = super::service::list_payments(&state, &admin, &filter).await?;
        let mut ids: Vec<_> = page.payments.iter().map(|p| p.customer_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let names = crate::accounts::service::usernames(&state, &ids).await?;
        Ok(AdminPaymentsPage {
            payments: page
                .payments
                .into_iter()
                .map(|payment| CustomerPayment {
                    customer: names.get(&payment.customer_id).cloned(),
                    payment,
                })
                .collect(),
            next: page.next,
        })
    };
    result.await.map_err(crate::error::with_status)
}
