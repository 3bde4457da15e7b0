//! Paying a checkout: one payment request at the processor for the total of the checkout's
//! orders, and one payment row per shard order with its share. Asking again answers the same
//! request (the processor's idempotency key is the checkout's).

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use rust_decimal::Decimal;

use super::model::CheckoutPayment;
use super::processor::{PaymentProcessor, PaymentRequestInput, ProcessorStatus};
use super::repo;
use crate::accounts::model::User;
use crate::checkout::model::OrderStatus;
use crate::checkout::service::find_checkout;
use crate::error::AppError;
use crate::state::AppState;

fn processor(state: &AppState) -> Result<&Arc<dyn PaymentProcessor>, AppError> {
    state
        .processor
        .as_ref()
        .ok_or_else(|| AppError::Unavailable {
            what: "payments (no payment processor is configured)".into(),
        })
}

/// The payment request of one of the customer's checkouts, made on the first call.
pub async fn pay_checkout(
    state: &AppState,
    user: &User,
    checkout_id: &str,
) -> Result<CheckoutPayment, AppError> {
    let orders = find_checkout(state, user, checkout_id).await?;
    let Some(first) = orders.first() else {
        return Err(AppError::not_found("checkout"));
    };
    if orders
        .iter()
        .any(|order| order.status != OrderStatus::Pending)
    {
        return Err(AppError::conflict(
            "checkout",
            "this checkout is no longer waiting for payment",
        ));
    }
    let currency = first.currency;
    let total: Decimal = orders.iter().map(|order| order.total).sum();
    let expires_at = orders
        .iter()
        .map(|order| order.hold_expires_at)
        .min()
        .unwrap_or_else(Utc::now);
    let expires_in_s = (expires_at - Utc::now()).num_seconds();
    if expires_in_s < 1 {
        return Err(AppError::conflict(
            "checkout",
            "the items are no longer held: check out again",
        ));
    }
    let input = PaymentRequestInput {
        idempotency_key: format!("checkout-{checkout_id}"),
        amount: total,
        currency,
        // The processor prints 25 characters at most.
        reference: format!("S{}", &checkout_id[..checkout_id.len().min(24)]),
        expires_in_s,
        webhook_url: None,
    };
    let request = processor(state)?.create_request(&input).await?;
    let now = Utc::now().trunc_subsecs(6);
    for order in &orders {
        let database = state.shards.for_id(&order.id)?;
        let mut connection = database.acquire().await?;
        repo::insert_share(
            &mut connection,
            order.id.local(),
            checkout_id,
            &request.id,
            currency,
            order.total,
            now,
        )
        .await
        .map_err(|e| AppError::from(database.error(e)))?;
    }
    let status = match request.status {
        ProcessorStatus::Pending => "pending",
        ProcessorStatus::Paid => "paid",
        ProcessorStatus::Expired => "expired",
    };
    Ok(CheckoutPayment {
        checkout_id: checkout_id.to_owned(),
        payment_id: request.id,
        amount: request.amount,
        currency: request.currency,
        status: status.into(),
        qr_payload: request.qr_payload,
        pay_url: request.pay_url,
        expires_at: request.expires_at,
    })
}
