//! The sandbox's SQL: payment requests and the transfers made to them.

use std::str::FromStr;

use app::money::Currency;
use app::shard::pool::Pool;
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::SandboxSettings;
use super::emv::{PROCESSOR_ID, PaymentPayload};

/// Where a payment request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Nothing paid yet, still open.
    Pending,
    /// Money arrived (see `amount_received`: it may differ from `amount`).
    Paid,
    /// Nothing paid, and the time is up.
    Expired,
}

/// Money that moved: a transfer a bank sent to a request's virtual account (`tr_...`), or a
/// refund given back (`rf_...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Movement {
    pub id: String,
    pub amount: Decimal,
    pub created_at: DateTime<Utc>,
}

/// A payment request as the merchant API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRequest {
    pub id: String,
    pub status: RequestStatus,
    pub reference: String,
    pub currency: String,
    pub amount: Decimal,
    pub amount_received: Decimal,
    /// The virtual account the bank pays into.
    pub account: String,
    /// The EMVCo payload: what the QR code holds.
    pub qr_payload: String,
    /// The bank page that pays it (what a phone opens after scanning).
    pub pay_url: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub transfers: Vec<Movement>,
    pub amount_refunded: Decimal,
    pub refunds: Vec<Movement>,
}

/// A checked request to be paid.
pub struct NewRequest {
    pub idempotency_key: String,
    pub reference: String,
    pub currency: Currency,
    pub amount: Decimal,
    pub expires_at: DateTime<Utc>,
    /// Where the processor posts its signed events about the request.
    pub webhook_url: Option<String>,
}

/// The virtual account of request `id`.
pub fn account_of(id: u64) -> String {
    format!("VA{id:010}")
}

/// The public ID of request `id`.
pub fn request_id(id: u64) -> String {
    format!("pr_{id}")
}

/// The row id of a public request ID.
pub fn parse_request_id(text: &str) -> Option<u64> {
    text.strip_prefix("pr_")?.parse().ok()
}

/// A request's row, beside one of its transfers or refunds (`tr` or `rf`, then its ID, amount and
/// time; all absent for a request with neither).
type Row = (
    u64,
    String,
    String,
    Decimal,
    String,
    NaiveDateTime,
    NaiveDateTime,
    Option<String>,
    Option<u64>,
    Option<Decimal>,
    Option<NaiveDateTime>,
);

/// Creates a request, or finds the one this idempotency key made before: `(request, created)`.
pub async fn create(
    pool: &Pool,
    settings: &SandboxSettings,
    base_url: &str,
    new: &NewRequest,
) -> Result<(PaymentRequest, bool), sqlx::Error> {
    if let Some(found) = by_key(pool, base_url, &new.idempotency_key).await? {
        return Ok((found, false));
    }
    let now = Utc::now().trunc_subsecs(6);
    let mut tx = pool.begin().await?;
    // The payload names the account, which is the row's id: insert, then fill it in.
    let inserted = sqlx::query(
        "INSERT INTO payment_requests (idempotency_key, merchant_reference, currency, amount, payload, expires_at, created_at, webhook_url) \
         VALUES (?, ?, ?, ?, '', ?, ?, ?)",
    )
    .bind(&new.idempotency_key)
    .bind(&new.reference)
    .bind(new.currency.code())
    .bind(new.amount)
    .bind(new.expires_at.naive_utc())
    .bind(now.naive_utc())
    .bind(&new.webhook_url)
    .execute(&mut *tx)
    .await;
    let id = match inserted {
        Ok(done) => done.last_insert_id(),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            // The same key, at the same moment, from another request: answer its request.
            drop(tx);
            return by_key(pool, base_url, &new.idempotency_key)
                .await?
                .map(|found| (found, false))
                .ok_or(sqlx::Error::RowNotFound);
        }
        Err(error) => return Err(error),
    };
    let payload = PaymentPayload {
        processor: PROCESSOR_ID.into(),
        account: account_of(id),
        merchant_category: settings.merchant_category.clone(),
        currency: new.currency,
        amount: new.amount,
        country: settings.country.clone(),
        merchant_name: settings.merchant_name.clone(),
        merchant_city: settings.merchant_city.clone(),
        reference: new.reference.clone(),
    }
    .encode()
    .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    sqlx::query("UPDATE payment_requests SET payload = ? WHERE id = ?")
        .bind(&payload)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let created = get(pool, base_url, id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok((created, true))
}

async fn by_key(
    pool: &Pool,
    base_url: &str,
    key: &str,
) -> Result<Option<PaymentRequest>, sqlx::Error> {
    let id: Option<u64> =
        sqlx::query_scalar("SELECT id FROM payment_requests WHERE idempotency_key = ?")
            .bind(key)
            .fetch_optional(&mut *pool.acquire().await?)
            .await?;
    match id {
        Some(id) => get(pool, base_url, id).await,
        None => Ok(None),
    }
}

/// A request with its transfers and refunds, in one statement: every poll, webhook and bank
/// transfer reads one.
pub async fn get(
    pool: &Pool,
    base_url: &str,
    id: u64,
) -> Result<Option<PaymentRequest>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT r.id, r.merchant_reference, r.currency, r.amount, r.payload, r.expires_at, \
         r.created_at, m.kind, m.id, m.amount, m.created_at \
         FROM payment_requests r LEFT JOIN ( \
           SELECT 'tr' AS kind, id, amount, created_at FROM transfers WHERE request_id = ? \
           UNION ALL \
           SELECT 'rf', id, amount, created_at FROM refunds WHERE request_id = ? \
         ) m ON TRUE \
         WHERE r.id = ? ORDER BY m.id",
    )
    .bind(id)
    .bind(id)
    .bind(id)
    .fetch_all(&mut *pool.acquire().await?)
    .await?;
    let Some((id, reference, currency, amount, payload, expires, created, ..)) =
        rows.first().cloned()
    else {
        return Ok(None);
    };
    let (mut transfers, mut refunds) = (Vec::new(), Vec::new());
    for (.., kind, movement, moved, at) in rows {
        let (Some(kind), Some(movement), Some(moved), Some(at)) = (kind, movement, moved, at)
        else {
            continue;
        };
        let list = if kind == "tr" {
            &mut transfers
        } else {
            &mut refunds
        };
        list.push(Movement {
            id: format!("{kind}_{movement}"),
            amount: in_minor_units(moved, &currency),
            created_at: at.and_utc(),
        });
    }
    let amount_received = in_minor_units(transfers.iter().map(|t| t.amount).sum(), &currency);
    let amount_refunded = in_minor_units(refunds.iter().map(|r| r.amount).sum(), &currency);
    let expires_at = expires.and_utc();
    let status = if !transfers.is_empty() {
        RequestStatus::Paid
    } else if Utc::now() >= expires_at {
        RequestStatus::Expired
    } else {
        RequestStatus::Pending
    };
    let pay_url = format!(
        "{base_url}/bank/pay?payload={}",
        app::search::views::encode(&payload)
    );
    Ok(Some(PaymentRequest {
        id: request_id(id),
        status,
        reference,
        amount: in_minor_units(amount, &currency),
        amount_received,
        currency,
        account: account_of(id),
        qr_payload: payload,
        pay_url,
        expires_at,
        created_at: created.and_utc(),
        transfers,
        amount_refunded,
        refunds,
    }))
}

/// An amount with exactly the currency's decimals: 19.99, not 19.9900.
fn in_minor_units(mut amount: Decimal, currency: &str) -> Decimal {
    let places = Currency::from_str(currency)
        .map(Currency::minor_units)
        .unwrap_or(2);
    amount.rescale(places);
    amount
}

/// The request a virtual account belongs to.
pub async fn by_account(pool: &Pool, account: &str) -> Result<Option<u64>, sqlx::Error> {
    let Some(id) = account
        .strip_prefix("VA")
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return Ok(None);
    };
    sqlx::query_scalar("SELECT id FROM payment_requests WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *pool.acquire().await?)
        .await
}

/// Records money a bank sent to request `id` and, in the same transaction, queues the webhook
/// that tells the merchant.
pub async fn add_transfer(pool: &Pool, id: u64, amount: Decimal) -> Result<(), sqlx::Error> {
    let now = Utc::now().trunc_subsecs(6).naive_utc();
    let mut tx = pool.begin().await?;
    let transfer =
        sqlx::query("INSERT INTO transfers (request_id, amount, created_at) VALUES (?, ?, ?)")
            .bind(id)
            .bind(amount)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .last_insert_id();
    sqlx::query(
        "INSERT INTO webhooks (request_id, transfer_id, url, next_attempt_at, created_at) \
         SELECT id, ?, webhook_url, ?, ? FROM payment_requests WHERE id = ? AND webhook_url IS NOT NULL",
    )
    .bind(transfer)
    .bind(now)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// A webhook waiting to be delivered.
pub struct DueWebhook {
    pub id: u64,
    pub request_id: u64,
    pub transfer_id: u64,
    pub url: String,
    pub attempts: u32,
}

/// Webhooks whose time has come, oldest first.
pub async fn due_webhooks(pool: &Pool, limit: u32) -> Result<Vec<DueWebhook>, sqlx::Error> {
    let rows: Vec<(u64, u64, u64, String, i32)> = sqlx::query_as(
        "SELECT id, request_id, transfer_id, url, attempts FROM webhooks \
         WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
    )
    .bind(Utc::now().naive_utc())
    .bind(limit)
    .fetch_all(&mut *pool.acquire().await?)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, request_id, transfer_id, url, attempts)| DueWebhook {
            id,
            request_id,
            transfer_id,
            url,
            attempts: u32::try_from(attempts).unwrap_or(0),
        })
        .collect())
}

/// Marks a webhook acknowledged.
pub async fn webhook_delivered(pool: &Pool, id: u64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE webhooks SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?")
        .bind(Utc::now().trunc_subsecs(6).naive_utc())
        .bind(id)
        .execute(&mut *pool.acquire().await?)
        .await?;
    Ok(())
}

/// Schedules a webhook's next attempt after a failed one.
pub async fn webhook_failed(
    pool: &Pool,
    id: u64,
    next: DateTime<Utc>,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhooks SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
    )
    .bind(next.trunc_subsecs(6).naive_utc())
    .bind(error.chars().take(200).collect::<String>())
    .bind(id)
    .execute(&mut *pool.acquire().await?)
    .await?;
    Ok(())
}

/// What a refund attempt found.
pub enum RefundOutcome {
    /// Made now, or made before under the same idempotency key.
    Done {
        refund: Movement,
        created: bool,
    },
    /// More than what was received and not yet refunded.
    TooMuch {
        left: Decimal,
    },
    /// The idempotency key made a refund of another request.
    KeyOfAnotherRequest,
    NoSuchRequest,
}

/// Refunds `amount` (all that is left when `None`) of what request `id` received, once per
/// idempotency key. The request's row lock serialises refunds, so together they never exceed what
/// was received.
pub async fn refund(
    pool: &Pool,
    id: u64,
    idempotency_key: &str,
    amount: Option<Decimal>,
) -> Result<RefundOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let currency: Option<String> =
        sqlx::query_scalar("SELECT currency FROM payment_requests WHERE id = ? FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(currency) = currency else {
        return Ok(RefundOutcome::NoSuchRequest);
    };
    let exact = |amount: Decimal| in_minor_units(amount, &currency);
    let earlier: Option<(u64, u64, Decimal, NaiveDateTime)> = sqlx::query_as(
        "SELECT id, request_id, amount, created_at FROM refunds WHERE idempotency_key = ?",
    )
    .bind(idempotency_key)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((refund_id, request, amount, at)) = earlier {
        if request != id {
            return Ok(RefundOutcome::KeyOfAnotherRequest);
        }
        return Ok(RefundOutcome::Done {
            refund: Movement {
                id: format!("rf_{refund_id}"),
                amount: exact(amount),
                created_at: at.and_utc(),
            },
            created: false,
        });
    }
    let (received, refunded): (Decimal, Decimal) = sqlx::query_as(
        "SELECT \
           (SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE request_id = ?), \
           (SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE request_id = ?)",
    )
    .bind(id)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let left = exact(received - refunded);
    let amount = amount.unwrap_or(left);
    if amount <= Decimal::ZERO || amount > left {
        return Ok(RefundOutcome::TooMuch { left });
    }
    let now = Utc::now().trunc_subsecs(6);
    let refund_id = sqlx::query(
        "INSERT INTO refunds (request_id, idempotency_key, amount, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(id)
    .bind(idempotency_key)
    .bind(amount)
    .bind(now.naive_utc())
    .execute(&mut *tx)
    .await?
    .last_insert_id();
    tx.commit().await?;
    Ok(RefundOutcome::Done {
        refund: Movement {
            id: format!("rf_{refund_id}"),
            amount: exact(amount),
            created_at: now,
        },
        created: true,
    })
}

/// Moves a webhook's next attempt later without counting an attempt (fault injection).
pub async fn webhook_postponed(
    pool: &Pool,
    id: u64,
    next: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE webhooks SET next_attempt_at = ? WHERE id = ?")
        .bind(next.trunc_subsecs(6).naive_utc())
        .bind(id)
        .execute(&mut *pool.acquire().await?)
        .await?;
    Ok(())
}
