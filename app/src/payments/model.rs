//! Payments as the customer and the admin see them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::accounts::model::UserId;
use crate::catalog::model::FieldErrors;
use crate::checkout::model::{OrderCursor, given, page_params};
use crate::error::AppError;
use crate::shard::id::OrderId;

/// Where one order's share of a payment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum PaymentStatus {
    /// Waiting for the money.
    Pending,
    /// Paid, and the order placed.
    Completed,
    /// Paid, then given back: the order could not be placed, or it was canceled.
    Refunded,
    /// Not paid (or not paid in full) within the payment window.
    Failed,
}

impl PaymentStatus {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Completed => "completed",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::Failed => "failed",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(PaymentStatus::Pending),
            "completed" => Some(PaymentStatus::Completed),
            "refunded" => Some(PaymentStatus::Refunded),
            "failed" => Some(PaymentStatus::Failed),
            _ => None,
        }
    }
}

/// Why Surge gives money back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum RefundReason {
    /// The order's share was paid but its holds had ended: nothing to sell.
    NotPlaced,
    /// A placed order was canceled.
    Canceled,
    /// Paid more than the total (or paid twice): the excess goes back.
    Excess,
    /// Paid less than the total by the end of the payment window: all of it goes back.
    Underpaid,
}

impl RefundReason {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundReason::NotPlaced => "not_placed",
            RefundReason::Canceled => "canceled",
            RefundReason::Excess => "excess",
            RefundReason::Underpaid => "underpaid",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "not_placed" => Some(RefundReason::NotPlaced),
            "canceled" => Some(RefundReason::Canceled),
            "excess" => Some(RefundReason::Excess),
            "underpaid" => Some(RefundReason::Underpaid),
            _ => None,
        }
    }
}

/// A refund Surge owes or has made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Refund {
    pub reason: RefundReason,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub amount: Decimal,
    /// Whether the processor has made it (it is sent by a job, retried until it is).
    pub sent: bool,
    pub created_at: DateTime<Utc>,
}

/// One order's share of a checkout's payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Payment {
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "order-1-7"))]
    pub order_id: OrderId,
    /// The customer who pays.
    #[cfg_attr(feature = "ssr", schema(value_type = u64))]
    pub customer_id: UserId,
    pub checkout_id: String,
    /// The processor's payment request (shared by the checkout's orders).
    pub request_id: String,
    pub status: PaymentStatus,
    pub currency: String,
    /// This order's share.
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub amount: Decimal,
    /// The whole checkout's total, and what the processor received for it so far.
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub checkout_total: Decimal,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub received: Decimal,
    pub refunds: Vec<Refund>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// What the customer pays a checkout with: one payment request for the total of its orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CheckoutPayment {
    pub checkout_id: String,
    /// The processor's payment request.
    pub payment_id: String,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub amount: Decimal,
    pub currency: String,
    /// `pending` (waiting for the money), `paid` (every order placed), `partly_placed` (paid, but
    /// some orders' holds had ended: their share is refunded), `refunded` (paid too late: all of
    /// it is refunded) or `expired` (not paid in time).
    pub status: String,
    /// What the QR code holds: a bank app pays it.
    pub qr_payload: String,
    /// The QR code of `qr_payload`, as an SVG image.
    pub qr_svg: String,
    /// The processor's page that pays it (what a phone opens after scanning).
    pub pay_url: String,
    /// When the payment window (the holds) ends.
    pub expires_at: DateTime<Utc>,
}

/// Where a checkout is, as its waiting customer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum CheckoutState {
    /// Some order is still waiting for the money.
    Waiting,
    /// Every order is placed.
    Placed,
    /// Paid, but some orders' holds had ended: those failed and their share is refunded.
    PartlyPlaced,
    /// Nothing was placed (not paid in time, or canceled); anything received is refunded.
    Ended,
}

/// A checkout's orders and their payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CheckoutProgress {
    pub checkout_id: String,
    pub state: CheckoutState,
    pub orders: Vec<crate::checkout::model::Order>,
    pub payments: Vec<Payment>,
}

impl CheckoutProgress {
    /// The progress of these orders.
    pub fn of(
        checkout_id: String,
        orders: Vec<crate::checkout::model::Order>,
        payments: Vec<Payment>,
    ) -> Self {
        use crate::checkout::model::OrderStatus;
        let placed = orders
            .iter()
            .filter(|o| o.status == OrderStatus::Placed)
            .count();
        let state = if orders.iter().any(|o| o.status == OrderStatus::Pending) {
            CheckoutState::Waiting
        } else if placed == orders.len() {
            CheckoutState::Placed
        } else if placed > 0 {
            CheckoutState::PartlyPlaced
        } else {
            CheckoutState::Ended
        };
        CheckoutProgress {
            checkout_id,
            state,
            orders,
            payments,
        }
    }
}

/// A payment list's query string, as sent: every field optional, empty means absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct PaymentFilterInput {
    /// `pending`, `completed`, `refunded` or `failed`.
    pub status: Option<String>,
    /// A customer's username (admins only).
    pub customer: Option<String>,
    /// The `next` cursor of the page before.
    pub after: Option<String>,
    /// Payments per page, 1 to 100 (20 when absent).
    pub limit: Option<String>,
}

/// Which payments a list shows, checked. The list runs newest first; its cursor is the last
/// payment's creation time and order (a payment is one order's share).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFilter {
    pub status: Option<PaymentStatus>,
    pub customer: Option<String>,
    pub after: Option<OrderCursor>,
    pub limit: u32,
}

impl PaymentFilter {
    /// Checks every field, naming each invalid one.
    pub fn parse(input: &PaymentFilterInput) -> Result<Self, AppError> {
        let mut errors = FieldErrors::default();
        let status = given(&input.status).and_then(|text| {
            errors.check(
                "status",
                PaymentStatus::parse(text)
                    .ok_or_else(|| "must be pending, completed, refunded or failed".to_owned()),
            )
        });
        let (customer, after, limit) = page_params(
            &mut errors,
            given(&input.customer),
            given(&input.after),
            given(&input.limit),
        );
        errors.finish()?;
        Ok(PaymentFilter {
            status,
            customer,
            after,
            limit,
        })
    }
}

/// One page of a payment list, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PaymentPage {
    pub payments: Vec<Payment>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_invalid_filter_is_named_and_empty_ones_are_absent() {
        let filter = PaymentFilter::parse(&PaymentFilterInput {
            status: Some("refunded".into()),
            customer: Some(" ".into()),
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(filter.status, Some(PaymentStatus::Refunded));
        assert_eq!(filter.customer, None);
        assert_eq!(filter.limit, 20);
        let refused = PaymentFilter::parse(&PaymentFilterInput {
            status: Some("paid".into()),
            after: Some("yesterday".into()),
            limit: Some("0".into()),
            ..Default::default()
        });
        match refused {
            Err(AppError::Validation { fields }) => {
                assert_eq!(
                    fields.into_keys().collect::<Vec<_>>(),
                    ["after", "limit", "status"]
                );
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }
}
