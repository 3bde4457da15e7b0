//! Paying a checkout and confirming it: one payment request at the processor for the total of the
//! checkout's orders (one payment row per shard order with its share), the processor's signed
//! webhooks, the poller that asks when a webhook does not come, the customer's "place" call, and
//! the refund job. Every one of them ends in [`settle`], which is idempotent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use http::request::Parts;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::model::{
    CheckoutPayment, CheckoutProgress, Payment, PaymentFilter, PaymentPage, Refund,
};
use super::processor::{
    PaymentProcessor, PaymentRequestInput, ProcessorError, ProcessorRequest, ProcessorStatus,
};
use super::progress;
use super::qr;
use super::repo::{self, DuePoll, NewShare, Share, ShareSelection};
use super::settle::{settle, would_change};
use super::signature::{self, SignatureError};
use crate::accounts::model::{Role, User, UserId};
use crate::accounts::service as accounts;
use crate::checkout::model::{OrderCursor, OrderStatus};
use crate::checkout::service::find_checkout;
use crate::error::AppError;
use crate::shard::ShardId;
use crate::shard::id::OrderId;
use crate::state::AppState;

/// How often the poller asks the processor about a pending payment.
pub const POLL_EVERY: Duration = Duration::from_secs(5);
/// Payments polled per shard and pass.
const POLL_BATCH: u32 = 100;
/// Refunds sent per shard and pass.
const REFUND_BATCH: u32 = 50;

fn processor(state: &AppState) -> Result<&Arc<dyn PaymentProcessor>, AppError> {
    state
        .processor
        .as_ref()
        .ok_or_else(|| AppError::Unavailable {
            what: "payments (no payment processor is configured)".into(),
        })
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn later(by: Duration) -> DateTime<Utc> {
    now() + chrono::Duration::from_std(by).unwrap_or_default()
}

/// The payment request of one of the customer's checkouts, made on the first call; asking again
/// answers the same request.
pub async fn pay_checkout(
    state: &AppState,
    user: &User,
    checkout_id: &str,
) -> Result<CheckoutPayment, AppError> {
    let mut orders = find_checkout(state, user, checkout_id).await?;
    orders.sort_by_key(|order| order.id);
    let Some(lead) = orders.first().map(|order| order.id) else {
        return Err(AppError::not_found("checkout"));
    };
    if orders
        .iter()
        .all(|order| order.status != OrderStatus::Pending)
    {
        return Err(AppError::conflict(
            "checkout",
            "this checkout is no longer waiting for payment",
        ));
    }
    let currency = orders[0].currency;
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
        webhook_url: state.webhooks.url.clone(),
    };
    let request = processor(state)?.create_request(&input).await?;
    let now = now();
    let recorded = async {
        for order in &orders {
            let database = state.shards.for_id(&order.id)?;
            let mut connection = database.acquire().await?;
            let share = NewShare {
                order: order.id.local(),
                checkout_id,
                request_id: &request.id,
                currency,
                amount: order.total,
                checkout_total: total,
                lead: order.id == lead,
                expires_at: request.expires_at,
                first_poll: later(POLL_EVERY),
            };
            repo::insert_share(&mut connection, &share, now)
                .await
                .map_err(|e| AppError::from(database.error(e)))?;
        }
        Ok::<_, AppError>(())
    }
    .await;
    progress::changed(&state.redis, checkout_id).await;
    recorded?;
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
        qr_svg: qr::svg(&request.qr_payload)?,
        qr_payload: request.qr_payload,
        pay_url: request.pay_url,
        expires_at: request.expires_at,
    })
}

/// The payments of these orders (any shards), with their refunds: one query per shard for the
/// shares and one for the refunds.
pub async fn payments_of(state: &AppState, orders: &[OrderId]) -> Result<Vec<Payment>, AppError> {
    let shards: BTreeSet<ShardId> = orders.iter().map(|order| order.shard()).collect();
    let mut payments = Vec::new();
    for shard in shards {
        let locals: Vec<u64> = orders
            .iter()
            .filter(|order| order.shard() == shard)
            .map(|order| order.local())
            .collect();
        let database = state.shards.shard(shard)?;
        let mut connection = database.acquire().await?;
        let shares = repo::shares_of_orders(&mut connection, &locals)
            .await
            .map_err(|e| AppError::from(database.error(e)))?;
        let ids: Vec<u64> = shares.iter().map(|share| share.id).collect();
        let refunds = repo::refunds_of(&mut connection, &ids)
            .await
            .map_err(|e| AppError::from(database.error(e)))?;
        for share in shares {
            payments.push(payment(shard, &share, &refunds)?);
        }
    }
    payments.sort_by_key(|payment| payment.order_id);
    Ok(payments)
}

fn payment(shard: ShardId, share: &Share, refunds: &[(u64, Refund)]) -> Result<Payment, AppError> {
    Ok(Payment {
        order_id: OrderId::new(shard, share.order).map_err(AppError::internal)?,
        customer_id: UserId(share.customer),
        checkout_id: share.checkout_id.clone(),
        request_id: share.request_id.clone(),
        status: share.status,
        currency: share.currency.clone(),
        amount: share.amount,
        checkout_total: share.checkout_total,
        received: share.received,
        refunds: refunds
            .iter()
            .filter(|(payment, _)| *payment == share.id)
            .map(|(_, refund)| refund.clone())
            .collect(),
        expires_at: share.expires_at,
        created_at: share.created_at,
    })
}

/// A page of payments, newest first: a customer's own, or for an admin every customer's
/// (`customer` narrows to one username; a customer who sends it is refused).
pub async fn list_payments(
    state: &AppState,
    user: &User,
    filter: &PaymentFilter,
) -> Result<PaymentPage, AppError> {
    let customer = match (user.role, &filter.customer) {
        (Role::Customer, Some(_)) => {
            return Err(AppError::Forbidden {
                message: "only admins filter payments by customer".into(),
            });
        }
        (Role::Customer, None) => Some(user.id),
        (Role::Admin, None) => None,
        (Role::Admin, Some(username)) => match accounts::find_by_username(state, username).await? {
            Some(found) => Some(found.id),
            None => {
                return Ok(PaymentPage {
                    payments: Vec::new(),
                    next: None,
                });
            }
        },
    };
    let found = state
        .shards
        .scatter(|shard, database| async move {
            let before = filter.after.map(|cursor| cursor.bound_on(shard));
            let selection = ShareSelection {
                customer: customer.map(|c| c.0),
                status: filter.status,
                before,
                limit: filter.limit + 1,
            };
            let mut connection = database.acquire().await?;
            let shares = repo::list_shares(&mut connection, selection)
                .await
                .map_err(|e| database.error(e))?;
            let ids: Vec<u64> = shares.iter().map(|share| share.id).collect();
            let refunds = repo::refunds_of(&mut connection, &ids)
                .await
                .map_err(|e| database.error(e))?;
            Ok((shares, refunds))
        })
        .await;
    let mut payments = Vec::new();
    for (shard, result) in found {
        let (shares, refunds) = result?;
        for share in &shares {
            payments.push(payment(shard, share, &refunds)?);
        }
    }
    payments.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(b.order_id.cmp(&a.order_id))
    });
    let limit = usize::try_from(filter.limit).unwrap_or(usize::MAX);
    let next = (payments.len() > limit).then(|| {
        let last = &payments[limit - 1];
        OrderCursor {
            created_at: last.created_at,
            id: last.order_id,
        }
        .to_string()
    });
    payments.truncate(limit);
    Ok(PaymentPage { payments, next })
}

/// A checkout's orders and their payments, as the waiting customer sees them: from its Redis
/// snapshot when there is one (see [`progress`]), else from the databases. Another customer's
/// checkout is 404.
pub async fn checkout_progress(
    state: &AppState,
    user: &User,
    checkout_id: &str,
) -> Result<CheckoutProgress, AppError> {
    let cached = progress::cached(&state.redis, checkout_id).await;
    progress_from(state, user, checkout_id, cached).await
}

/// [`checkout_progress`] for the request `parts`' signed-in customer (401 without one), its
/// session read in the same round trip as the snapshot: what the waiting page's polls cost.
pub async fn followed_checkout(
    state: &AppState,
    parts: &Parts,
    checkout_id: &str,
) -> Result<CheckoutProgress, AppError> {
    let (user, (found,)) = accounts::authenticate_with(state, parts, |pipe| {
        progress::cached_in(pipe, &state.redis, checkout_id);
    })
    .await?;
    let user = accounts::signed_in(user)?;
    let cached = progress::Cached::from_found(checkout_id, found);
    progress_from(state, &user, checkout_id, cached).await
}

/// The checkout's progress from what [`progress::cached`] found, else from the databases (and
/// kept for the next poll).
async fn progress_from(
    state: &AppState,
    user: &User,
    checkout_id: &str,
    cached: progress::Cached,
) -> Result<CheckoutProgress, AppError> {
    if let Some(snapshot) = &cached.progress {
        return if snapshot
            .orders
            .iter()
            .all(|order| order.customer_id == user.id)
        {
            Ok(snapshot.clone())
        } else {
            Err(AppError::not_found("checkout"))
        };
    }
    let mut orders = find_checkout(state, user, checkout_id).await?;
    if orders.is_empty() {
        return Err(AppError::not_found("checkout"));
    }
    orders.sort_by_key(|order| order.id);
    let ids: Vec<OrderId> = orders.iter().map(|order| order.id).collect();
    let payments = payments_of(state, &ids).await?;
    let read = CheckoutProgress::of(checkout_id.to_owned(), orders, payments);
    progress::store(&state.redis, cached, &read).await;
    Ok(read)
}

/// The customer's "place" call: asks the processor about the checkout's payment now and settles
/// it (idempotent; the same as a webhook or a poll would do).
pub async fn place_checkout(
    state: &AppState,
    user: &User,
    checkout_id: &str,
) -> Result<CheckoutProgress, AppError> {
    let progress = checkout_progress(state, user, checkout_id).await?;
    let Some(request_id) = progress
        .payments
        .first()
        .map(|payment| payment.request_id.clone())
    else {
        return Err(AppError::conflict(
            "checkout",
            "this checkout has no payment yet: pay it first",
        ));
    };
    let request = processor(state)?.request(&request_id).await?;
    settle(state, &request).await?;
    checkout_progress(state, user, checkout_id).await
}

/// A processor's event, as much of it as Surge reads.
#[derive(Debug, Deserialize)]
struct WebhookEvent {
    #[serde(rename = "type")]
    kind: String,
    data: ProcessorRequest,
}

/// A webhook from the processor: checked (signature and timestamp: forgeries and replays are
/// refused), then settled. Events of other types are acknowledged and ignored.
pub async fn receive_webhook(
    state: &AppState,
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<(), AppError> {
    let Some(secret) = state.webhooks.secret.as_deref() else {
        return Err(AppError::Unavailable {
            what: "webhooks (no webhook secret is configured)".into(),
        });
    };
    let header = signature_header.ok_or_else(|| AppError::Unauthorized {
        message: format!("the {} header is missing", signature::HEADER),
    })?;
    signature::verify(secret.as_bytes(), header, body, Utc::now().timestamp()).map_err(
        |error| {
            tracing::warn!(%error, "webhook refused");
            AppError::Unauthorized {
                message: match error {
                    SignatureError::Malformed => "the signature header is malformed",
                    SignatureError::Stale => "the signature is too old (a replay?)",
                    SignatureError::Mismatch => "the signature does not match",
                }
                .into(),
            }
        },
    )?;
    let event: WebhookEvent = serde_json::from_slice(body).map_err(|e| AppError::BadRequest {
        message: format!("the event cannot be read: {e}"),
    })?;
    if event.kind != "payment.received" {
        return Ok(());
    }
    settle(state, &event.data).await
}

/// The poller's pass: pending payments whose poll is due (every [`POLL_EVERY`] for the payment
/// window, then once more to end them), claimed with `SKIP LOCKED` so several copies share the
/// work; the next poll time is written before the processor is asked, so a crash loses nothing
/// and no transaction waits on the network. Returns how many requests were asked about.
pub async fn poll_due(state: &AppState) -> Result<usize, AppError> {
    let Some(processor) = state.processor.as_ref() else {
        return Ok(0);
    };
    let mut due: BTreeMap<String, Vec<DuePoll>> = BTreeMap::new();
    for (_, database) in state.shards.shards() {
        let mut tx = database.begin().await?;
        let claimed = repo::claim_due_polls(&mut tx, now(), later(POLL_EVERY), POLL_BATCH)
            .await
            .map_err(|e| AppError::from(database.error(e)))?;
        tx.commit()
            .await
            .map_err(|e| AppError::from(database.error(e)))?;
        for poll in claimed {
            due.entry(poll.request_id.clone()).or_default().push(poll);
        }
    }
    for (request, polls) in &due {
        // One request the processor refuses (or that cannot be settled) must not hold up the
        // others; a processor that is down ends the pass (the breaker answers at once anyway).
        // Most polls find nothing new (the customer has not paid yet): those settle nothing.
        let outcome = match processor.request(request).await {
            Ok(reported)
                if polls
                    .iter()
                    .any(|poll| would_change(poll, &reported, now())) =>
            {
                settle(state, &reported).await
            }
            Ok(_) => Ok(()),
            Err(error @ ProcessorError::Unavailable { .. }) => return Err(error.into()),
            Err(error) => Err(error.into()),
        };
        if let Err(error) = outcome {
            tracing::warn!(request, %error, "payment not settled by the poller");
        }
    }
    Ok(due.len())
}

/// How long before a refund that could not be sent is tried again.
fn refund_backoff(attempts: i32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempts.clamp(0, 8) as u32).min(300))
}

/// The refund job's pass: every refund owed is sent with an idempotency key made of its row, so
/// a crash after sending and before recording sends the same key again and the processor refunds
/// once. Returns how many were sent.
pub async fn send_due_refunds(state: &AppState) -> Result<usize, AppError> {
    let Some(processor) = state.processor.as_ref() else {
        return Ok(0);
    };
    let mut sent = 0;
    for (shard, database) in state.shards.shards() {
        let mut connection = database.acquire().await?;
        let due = repo::due_refunds(&mut connection, now(), REFUND_BATCH)
            .await
            .map_err(|e| AppError::from(database.error(e)))?;
        for refund in due {
            let retry_at = later(refund_backoff(refund.attempts + 1));
            if !repo::claim_refund(&mut connection, refund.id, now(), retry_at)
                .await
                .map_err(|e| AppError::from(database.error(e)))?
            {
                continue;
            }
            let key = format!("surge-refund-{}-{}", shard.number(), refund.id);
            match processor
                .refund(&refund.request_id, &key, Some(refund.amount))
                .await
            {
                Ok(made) => {
                    repo::refund_sent(&mut connection, refund.id, &made.id, now())
                        .await
                        .map_err(|e| AppError::from(database.error(e)))?;
                    progress::changed(&state.redis, &refund.checkout_id).await;
                    sent += 1;
                }
                Err(error) => {
                    tracing::warn!(refund = refund.id, %error, "refund not sent; trying again later");
                    repo::refund_failed(&mut connection, refund.id, &error.to_string())
                        .await
                        .map_err(|e| AppError::from(database.error(e)))?;
                }
            }
        }
    }
    if sent > 0 {
        tracing::info!(refunds = sent, "refunds sent");
    }
    Ok(sent)
}
