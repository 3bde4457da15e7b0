//! A checkout's payment as the customer sees it.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

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
    /// `pending`, `paid` or `expired`, as the processor says.
    pub status: String,
    /// What the QR code holds: a bank app pays it.
    pub qr_payload: String,
    /// The processor's page that pays it (what a phone opens after scanning).
    pub pay_url: String,
    /// When the payment window (the holds) ends.
    pub expires_at: DateTime<Utc>,
}
