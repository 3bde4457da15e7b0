//! What Surge needs from a payment processor, as a trait: the sandbox's HTTP client implements
//! it, and so would a real processor's.

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::error::AppError;
use crate::money::Currency;

/// A payment request to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequestInput {
    /// The same key always answers the same request: asking twice never makes two.
    pub idempotency_key: String,
    pub amount: Decimal,
    pub currency: Currency,
    /// Printed in the QR code; the customer's bank shows it.
    pub reference: String,
    pub expires_in_s: i64,
    pub webhook_url: Option<String>,
}

/// Where a payment request is, as the processor says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessorStatus {
    Pending,
    Paid,
    Expired,
}

/// A payment request as the processor reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProcessorRequest {
    pub id: String,
    pub status: ProcessorStatus,
    pub currency: String,
    pub amount: Decimal,
    pub amount_received: Decimal,
    pub amount_refunded: Decimal,
    /// What the QR code holds.
    pub qr_payload: String,
    pub pay_url: String,
    pub expires_at: DateTime<Utc>,
}

/// A refund the processor made.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProcessorRefund {
    pub id: String,
    pub amount: Decimal,
}

/// Why a call to the processor did not work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessorError {
    /// Down, failing, too slow, or the breaker is open: try again later.
    #[error("the payment processor is unavailable: {reason}")]
    Unavailable { reason: String },
    /// The processor refused the call (4xx): retrying the same call will not help.
    #[error("the payment processor refused: {message}")]
    Rejected { status: u16, message: String },
}

impl From<ProcessorError> for AppError {
    fn from(error: ProcessorError) -> Self {
        match error {
            ProcessorError::Unavailable { reason } => AppError::Unavailable {
                what: format!("the payment processor ({reason})"),
            },
            ProcessorError::Rejected { message, .. } => AppError::Conflict {
                message: format!("the payment processor refused: {message}"),
                field: None,
            },
        }
    }
}

/// A payment processor.
pub trait PaymentProcessor: Send + Sync {
    /// Creates a payment request (or answers the one its idempotency key made).
    fn create_request<'a>(
        &'a self,
        input: &'a PaymentRequestInput,
    ) -> BoxFuture<'a, Result<ProcessorRequest, ProcessorError>>;

    /// A payment request's status now.
    fn request<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProcessorRequest, ProcessorError>>;

    /// Gives back `amount` (all that is left when `None`) of what a request received, once per
    /// idempotency key.
    fn refund<'a>(
        &'a self,
        id: &'a str,
        idempotency_key: &'a str,
        amount: Option<Decimal>,
    ) -> BoxFuture<'a, Result<ProcessorRefund, ProcessorError>>;
}
