//! Payments' SQL, on one shard: the orders' shares of payment requests, and the refunds owed.

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{MySql, MySqlConnection, QueryBuilder};

use super::model::{PaymentStatus, Refund, RefundReason};
use crate::money::Currency;
use crate::shard::in_list::{keep_prepared, marks};

fn decode(message: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Decode(message.into().into())
}

/// An order's share of a checkout's payment request, to record.
pub struct NewShare<'a> {
    pub order: u64,
    pub checkout_id: &'a str,
    pub request_id: &'a str,
    pub currency: Currency,
    pub amount: Decimal,
    pub checkout_total: Decimal,
    /// The one share of the checkout that carries what was paid beyond (or short of) the total.
    pub lead: bool,
    pub expires_at: DateTime<Utc>,
    /// When the poller first asks the processor.
    pub first_poll: DateTime<Utc>,
}

/// Records an order's share of a payment request (once: a second call for the same order changes
/// nothing).
pub async fn insert_share(
    connection: &mut MySqlConnection,
    share: &NewShare<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT IGNORE INTO payments (order_id, checkout_id, processor_request_id, currency, amount, \
         checkout_total, received, lead_share, status, expires_at, next_poll_at, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, 0, ?, 'pending', ?, ?, ?, ?)",
    )
    .bind(share.order)
    .bind(share.checkout_id)
    .bind(share.request_id)
    .bind(share.currency.code())
    .bind(share.amount)
    .bind(share.checkout_total)
    .bind(share.lead)
    .bind(share.expires_at.naive_utc())
    .bind(share.first_poll.naive_utc())
    .bind(now.naive_utc())
    .bind(now.naive_utc())
    .execute(connection)
    .await?;
    Ok(())
}

/// A share as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub id: u64,
    pub order: u64,
    pub checkout_id: String,
    pub request_id: String,
    pub currency: String,
    pub amount: Decimal,
    pub checkout_total: Decimal,
    pub received: Decimal,
    pub lead: bool,
    pub status: PaymentStatus,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// The customer of its order.
    pub customer: u64,
}

type ShareRow = (
    u64,
    u64,
    String,
    String,
    String,
    Decimal,
    Decimal,
    Decimal,
    bool,
    String,
    NaiveDateTime,
    NaiveDateTime,
    u64,
);
/// A share's columns, with its order's customer.
const SHARE_COLUMNS: &str = "p.id, p.order_id, p.checkout_id, p.processor_request_id, p.currency, \
     p.amount, p.checkout_total, p.received, p.lead_share, p.status, p.expires_at, p.created_at, \
     o.user_id";
const SHARES: &str = "payments p JOIN orders o ON o.id = p.order_id";

fn share(row: ShareRow) -> Result<Share, sqlx::Error> {
    let (
        id,
        order,
        checkout_id,
        request_id,
        currency,
        amount,
        total,
        received,
        lead,
        status,
        expires,
        created,
        customer,
    ) = row;
    Ok(Share {
        id,
        order,
        checkout_id,
        request_id,
        currency,
        amount,
        checkout_total: total,
        received,
        lead,
        status: PaymentStatus::parse(&status)
            .ok_or_else(|| decode(format!("unknown payment status {status:?}")))?,
        expires_at: expires.and_utc(),
        created_at: created.and_utc(),
        customer,
    })
}

/// The shares of a processor request on this shard.
pub async fn shares_of_request(
    connection: &mut MySqlConnection,
    request_id: &str,
) -> Result<Vec<Share>, sqlx::Error> {
    let rows: Vec<ShareRow> = sqlx::query_as(&format!(
        "SELECT {SHARE_COLUMNS} FROM {SHARES} WHERE p.processor_request_id = ? ORDER BY p.id"
    ))
    .bind(request_id)
    .fetch_all(connection)
    .await?;
    rows.into_iter().map(share).collect()
}

/// The share of an order, locked when `lock`.
pub async fn share_of_order(
    connection: &mut MySqlConnection,
    order: u64,
    lock: bool,
) -> Result<Option<Share>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row: Option<ShareRow> = sqlx::query_as(&format!(
        "SELECT {SHARE_COLUMNS} FROM {SHARES} WHERE p.order_id = ?{lock}"
    ))
    .bind(order)
    .fetch_optional(connection)
    .await?;
    row.map(share).transpose()
}

/// The shares of these orders, in one query.
pub async fn shares_of_orders(
    connection: &mut MySqlConnection,
    orders: &[u64],
) -> Result<Vec<Share>, sqlx::Error> {
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {SHARE_COLUMNS} FROM {SHARES} WHERE p.order_id IN ({}) ORDER BY p.id",
        marks(orders.len())
    );
    let mut query = sqlx::query_as(&sql).persistent(keep_prepared(orders.len()));
    for order in orders {
        query = query.bind(order);
    }
    let rows: Vec<ShareRow> = query.fetch_all(connection).await?;
    rows.into_iter().map(share).collect()
}

/// Which of a shard's payments to list, newest first.
#[derive(Debug, Clone, Copy)]
pub struct ShareSelection {
    pub customer: Option<u64>,
    pub status: Option<PaymentStatus>,
    /// Only payments before this point of the list: created earlier, or at the same moment with a
    /// lower order row id.
    pub before: Option<(DateTime<Utc>, u64)>,
    pub limit: u32,
}

/// One shard's payments that match, newest first (one query; only the conditions asked for are
/// in the SQL).
pub async fn list_shares(
    connection: &mut MySqlConnection,
    selection: ShareSelection,
) -> Result<Vec<Share>, sqlx::Error> {
    let mut sql =
        QueryBuilder::<MySql>::new(format!("SELECT {SHARE_COLUMNS} FROM {SHARES} WHERE TRUE"));
    if let Some(customer) = selection.customer {
        sql.push(" AND o.user_id = ").push_bind(customer);
    }
    if let Some(status) = selection.status {
        sql.push(" AND p.status = ").push_bind(status.as_str());
    }
    if let Some((at, order)) = selection.before {
        sql.push(" AND (p.created_at < ")
            .push_bind(at.naive_utc())
            .push(" OR (p.created_at = ")
            .push_bind(at.naive_utc())
            .push(" AND p.order_id < ")
            .push_bind(order)
            .push("))");
    }
    sql.push(" ORDER BY p.created_at DESC, p.order_id DESC LIMIT ")
        .push_bind(selection.limit);
    let rows: Vec<ShareRow> = sql.build_query_as().fetch_all(connection).await?;
    rows.into_iter().map(share).collect()
}

/// Writes a share's progress. `received` only ever grows: an event that arrives late with an
/// older amount changes nothing. A share that is no longer pending is not polled again.
pub async fn update_share(
    connection: &mut MySqlConnection,
    id: u64,
    received: Decimal,
    status: PaymentStatus,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET received = GREATEST(received, ?), status = ?, \
         next_poll_at = IF(? = 'pending', next_poll_at, NULL), updated_at = ? WHERE id = ?",
    )
    .bind(received)
    .bind(status.as_str())
    .bind(status.as_str())
    .bind(now.naive_utc())
    .bind(id)
    .execute(connection)
    .await?;
    Ok(())
}

/// A pending share due for a poll, with what settling it compares the processor's report to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePoll {
    pub id: u64,
    pub request_id: String,
    pub currency: String,
    pub checkout_total: Decimal,
    pub received: Decimal,
    pub expires_at: DateTime<Utc>,
}

/// Pending shares due for a poll (rows another copy is polling are skipped), moved to their next
/// poll in the same statement's transaction: the caller commits, then asks the processor.
pub async fn claim_due_polls(
    connection: &mut MySqlConnection,
    now: DateTime<Utc>,
    next: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DuePoll>, sqlx::Error> {
    let rows: Vec<(u64, String, String, Decimal, Decimal, NaiveDateTime)> = sqlx::query_as(
        "SELECT id, processor_request_id, currency, checkout_total, received, expires_at \
         FROM payments FORCE INDEX (payments_poll) \
         WHERE status = 'pending' AND next_poll_at <= ? ORDER BY next_poll_at LIMIT ? \
         FOR UPDATE SKIP LOCKED",
    )
    .bind(now.naive_utc())
    .bind(limit)
    .fetch_all(&mut *connection)
    .await?;
    let due: Vec<DuePoll> = rows
        .into_iter()
        .map(
            |(id, request_id, currency, checkout_total, received, expires)| DuePoll {
                id,
                request_id,
                currency,
                checkout_total,
                received,
                expires_at: expires.and_utc(),
            },
        )
        .collect();
    if due.is_empty() {
        return Ok(due);
    }
    let sql = format!(
        "UPDATE payments SET next_poll_at = ? WHERE id IN ({})",
        marks(due.len())
    );
    let mut query = sqlx::query(&sql)
        .persistent(keep_prepared(due.len()))
        .bind(next.naive_utc());
    for poll in &due {
        query = query.bind(poll.id);
    }
    query.execute(connection).await?;
    Ok(due)
}

/// What has been written as owed back for a share, for these reasons.
pub async fn refunded(
    connection: &mut MySqlConnection,
    payment: u64,
    reasons: &[RefundReason],
) -> Result<Decimal, sqlx::Error> {
    let reasons = reasons
        .iter()
        .map(|r| format!("'{}'", r.as_str()))
        .collect::<Vec<_>>()
        .join(",");
    let sum: Option<Decimal> = sqlx::query_scalar(&format!(
        "SELECT SUM(amount) FROM payment_refunds WHERE payment_id = ? AND reason IN ({reasons})"
    ))
    .bind(payment)
    .fetch_one(connection)
    .await?;
    Ok(sum.unwrap_or_default())
}

/// Writes a refund owed (the refund job sends it).
pub async fn insert_refund(
    connection: &mut MySqlConnection,
    payment: &Share,
    reason: RefundReason,
    amount: Decimal,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payment_refunds (payment_id, processor_request_id, reason, amount, status, next_attempt_at, created_at) \
         VALUES (?, ?, ?, ?, 'pending', ?, ?)",
    )
    .bind(payment.id)
    .bind(&payment.request_id)
    .bind(reason.as_str())
    .bind(amount)
    .bind(now.naive_utc())
    .bind(now.naive_utc())
    .execute(connection)
    .await?;
    Ok(())
}

/// The refunds of these shares, oldest first: (payment id, refund).
pub async fn refunds_of(
    connection: &mut MySqlConnection,
    payments: &[u64],
) -> Result<Vec<(u64, Refund)>, sqlx::Error> {
    if payments.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT payment_id, reason, amount, status, created_at FROM payment_refunds \
         WHERE payment_id IN ({}) ORDER BY id",
        marks(payments.len())
    );
    let mut query = sqlx::query_as(&sql).persistent(keep_prepared(payments.len()));
    for payment in payments {
        query = query.bind(payment);
    }
    let rows: Vec<(u64, String, Decimal, String, NaiveDateTime)> =
        query.fetch_all(connection).await?;
    rows.into_iter()
        .map(|(payment, reason, amount, status, created)| {
            Ok((
                payment,
                Refund {
                    reason: RefundReason::parse(&reason)
                        .ok_or_else(|| decode(format!("unknown refund reason {reason:?}")))?,
                    amount,
                    sent: status == "sent",
                    created_at: created.and_utc(),
                },
            ))
        })
        .collect()
}

/// A refund waiting to be sent.
#[derive(Debug, Clone)]
pub struct DueRefund {
    pub id: u64,
    pub request_id: String,
    pub amount: Decimal,
    pub attempts: i32,
    /// The checkout of the share it pays back.
    pub checkout_id: String,
}

/// Refunds due to be sent, oldest first.
pub async fn due_refunds(
    connection: &mut MySqlConnection,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DueRefund>, sqlx::Error> {
    let rows: Vec<(u64, String, Decimal, i32, String)> = sqlx::query_as(
        "SELECT r.id, r.processor_request_id, r.amount, r.attempts, p.checkout_id \
         FROM payment_refunds r JOIN payments p ON p.id = r.payment_id \
         WHERE r.status = 'pending' AND r.next_attempt_at <= ? \
         ORDER BY r.next_attempt_at, r.id LIMIT ?",
    )
    .bind(now.naive_utc())
    .bind(limit)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, request_id, amount, attempts, checkout_id)| DueRefund {
                id,
                request_id,
                amount,
                attempts,
                checkout_id,
            },
        )
        .collect())
}

/// Takes a due refund for this copy until `retry_at` (another copy finds it not due); returns
/// whether this copy got it.
pub async fn claim_refund(
    connection: &mut MySqlConnection,
    id: u64,
    now: DateTime<Utc>,
    retry_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE payment_refunds SET next_attempt_at = ?, attempts = attempts + 1 \
         WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?",
    )
    .bind(retry_at.naive_utc())
    .bind(id)
    .bind(now.naive_utc())
    .execute(connection)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Records that the processor made a refund.
pub async fn refund_sent(
    connection: &mut MySqlConnection,
    id: u64,
    processor_refund_id: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_refunds SET status = 'sent', processor_refund_id = ?, sent_at = ?, last_error = NULL \
         WHERE id = ?",
    )
    .bind(processor_refund_id)
    .bind(now.naive_utc())
    .bind(id)
    .execute(connection)
    .await?;
    Ok(())
}

/// Records why a refund could not be sent (it is tried again).
pub async fn refund_failed(
    connection: &mut MySqlConnection,
    id: u64,
    error: &str,
) -> Result<(), sqlx::Error> {
    let error: String = error.chars().take(300).collect();
    sqlx::query("UPDATE payment_refunds SET last_error = ? WHERE id = ?")
        .bind(error)
        .bind(id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Counts of broken payment invariants on one shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardViolations {
    /// Placed orders without a completed payment of exactly their total, paid in full.
    pub placed_unpaid: i64,
    /// Orders whose holds were sold twice.
    pub placed_twice: i64,
    /// Completed payments whose order is not placed.
    pub completed_unplaced: i64,
    /// Refunded payments without the refund of their share.
    pub refunded_without_refund: i64,
    /// Refunds owed for longer than the grace time and not sent.
    pub refunds_late: i64,
}

/// This shard's broken payment invariants; refunds owed longer than `grace_s` count as late.
pub async fn violations(
    connection: &mut MySqlConnection,
    now: DateTime<Utc>,
    grace_s: i64,
) -> Result<ShardViolations, sqlx::Error> {
    let (placed_unpaid, placed_twice, completed_unplaced, refunded_without_refund, refunds_late): (
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT \
           CAST((SELECT COUNT(*) FROM orders o WHERE o.status = 'placed' AND NOT EXISTS \
                 (SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.status = 'completed' \
                  AND p.amount = o.total AND p.received >= p.checkout_total)) AS SIGNED), \
           CAST((SELECT COUNT(*) FROM (SELECT 1 FROM stock_movements WHERE cause = 'sale' \
                 GROUP BY item_id, reason HAVING COUNT(*) > 1) twice) AS SIGNED), \
           CAST((SELECT COUNT(*) FROM payments p JOIN orders o ON o.id = p.order_id \
                 WHERE p.status = 'completed' AND o.status <> 'placed') AS SIGNED), \
           CAST((SELECT COUNT(*) FROM payments p WHERE p.status = 'refunded' AND NOT EXISTS \
                 (SELECT 1 FROM payment_refunds r WHERE r.payment_id = p.id \
                  AND r.reason IN ('not_placed', 'canceled') AND r.amount = p.amount)) AS SIGNED), \
           CAST((SELECT COUNT(*) FROM payment_refunds WHERE status = 'pending' \
                 AND created_at < ? - INTERVAL ? SECOND) AS SIGNED)",
    )
    .bind(now.naive_utc())
    .bind(grace_s)
    .fetch_one(connection)
    .await?;
    Ok(ShardViolations {
        placed_unpaid,
        placed_twice,
        completed_unplaced,
        refunded_without_refund,
        refunds_late,
    })
}

/// One shard's part of a processor request's money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMoney {
    pub request_id: String,
    /// What the processor received (as this shard last heard).
    pub received: Decimal,
    /// The shares of placed orders (completed payments).
    pub kept: Decimal,
    /// Refunds written on this shard.
    pub refunded: Decimal,
    /// Shares still waiting.
    pub pending: i64,
}

/// Every request's money on this shard.
pub async fn money_by_request(
    connection: &mut MySqlConnection,
) -> Result<Vec<RequestMoney>, sqlx::Error> {
    let rows: Vec<(String, Decimal, Decimal, Decimal, i64)> = sqlx::query_as(
        "SELECT p.processor_request_id, MAX(p.received), \
           SUM(CASE WHEN p.status = 'completed' THEN p.amount ELSE 0 END), \
           COALESCE((SELECT SUM(r.amount) FROM payment_refunds r \
                     WHERE r.processor_request_id = p.processor_request_id), 0), \
           CAST(SUM(p.status = 'pending') AS SIGNED) \
         FROM payments p GROUP BY p.processor_request_id",
    )
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(request_id, received, kept, refunded, pending)| RequestMoney {
                request_id,
                received,
                kept,
                refunded,
                pending,
            },
        )
        .collect())
}
