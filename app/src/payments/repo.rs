//! Payments' SQL, on one shard.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::MySqlConnection;

use crate::money::Currency;

/// Records an order's share of a payment request (once: a second call for the same order changes
/// nothing).
pub async fn insert_share(
    connection: &mut MySqlConnection,
    order: u64,
    checkout_id: &str,
    request_id: &str,
    currency: Currency,
    amount: Decimal,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT IGNORE INTO payments (order_id, checkout_id, processor_request_id, currency, amount, status, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
    )
    .bind(order)
    .bind(checkout_id)
    .bind(request_id)
    .bind(currency.code())
    .bind(amount)
    .bind(now.naive_utc())
    .bind(now.naive_utc())
    .execute(connection)
    .await?;
    Ok(())
}
