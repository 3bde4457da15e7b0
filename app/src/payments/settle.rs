//! Settling payments: what the processor received for a checkout's request turns into placed
//! orders, failed ones, and refunds owed. Every step is one transaction on one shard, idempotent,
//! and driven only by facts that never go back: the amount received (it only grows) and the
//! orders' outcomes (final once reached). So a webhook, its duplicate, an older event arriving
//! late, the poller and the customer's "place" call can all run it, in any order, in several
//! server copies at once, and the result is the same.
//!
//! The policy, for a checkout of total `T` that received `R` so far:
//! - `R >= T`: paid. Each order whose holds are still active is placed (holds released as a sale,
//!   order Placed, payment Completed, ledger and outbox rows). An order whose holds have ended
//!   fails (its stock comes back) and its share is refunded. The lead share owes back `R - T`
//!   (overpaid, or paid twice): the customer keeps the goods and gets the excess back.
//! - `R < T`: not paid; nothing is placed. The customer may still pay the rest until the payment
//!   window ends. After it (and a grace time that covers clock skew between copies), the shares
//!   fail and the lead share owes back all of `R`.
//!
//! Refunds are rows written in the transaction that owes them; the refund job sends them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::MySqlConnection;

use super::model::{PaymentStatus, RefundReason};
use super::processor::ProcessorRequest;
use super::repo::{self, DuePoll, Share};
use crate::catalog::model::{CategoryId, StockCause};
use crate::catalog::repo as catalog_repo;
use crate::catalog::service as catalog;
use crate::checkout::model::OrderStatus;
use crate::checkout::repo as checkout_repo;
use crate::checkout::service::{give_back, now, retry_after};
use crate::error::AppError;
use crate::events::{self, Event};
use crate::shard::ShardId;
use crate::shard::id::{ItemId, OrderId};
use crate::shard::pool::Tx;
use crate::state::AppState;

/// How long after the payment window an underpaid or unpaid share is given up: longer than any
/// clock difference between server copies, so no copy can still place an order of it.
pub const WINDOW_GRACE_S: i64 = 10;

/// What settling one share did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing changed (already settled, or still waiting).
    Unchanged,
    Placed,
    /// Paid, but the holds had ended: the order failed and its share is owed back.
    NotPlaced,
    /// The window ended unpaid (or underpaid).
    Failed,
}

/// Settles every share of a request with what the processor reports. A report whose amount or
/// currency is not the checkout's is refused (logged): it cannot be about this checkout.
pub async fn settle(state: &AppState, request: &ProcessorRequest) -> Result<(), AppError> {
    let request_id = request.id.as_str();
    let found = state
        .shards
        .scatter(|shard, database| async move {
            let mut connection = database.acquire().await?;
            repo::shares_of_request(&mut connection, request_id)
                .await
                .map(|shares| (shard, shares))
                .map_err(|e| database.error(e))
        })
        .await;
    for (_, result) in found {
        let (shard, shares) = result?;
        for share in shares {
            if share.checkout_total != request.amount || share.currency != request.currency {
                tracing::error!(
                    request = request_id,
                    amount = %request.amount,
                    currency = request.currency,
                    "the processor reports another amount for this request; not applied"
                );
                return Err(AppError::conflict(
                    "amount",
                    "the processor's request does not match the checkout",
                ));
            }
            let order = OrderId::new(shard, share.order).map_err(AppError::internal)?;
            let settled = settle_share(state, order, request.amount_received).await;
            super::progress::changed(&state.redis, &share.checkout_id).await;
            settled?;
        }
    }
    Ok(())
}

/// Whether settling a share claimed for a poll could change anything, given what the processor
/// reports: more received than the share has seen, a report that is not the checkout's (settling
/// refuses it, and says so), or the share's window over (with its grace). A pending share is
/// unpaid (settling it paid would have completed it), so otherwise settling would write back what
/// is there; the poller skips it, and the waiting customer's snapshot stays.
pub fn would_change(due: &DuePoll, reported: &ProcessorRequest, now: DateTime<Utc>) -> bool {
    reported.amount_received > due.received
        || reported.amount != due.checkout_total
        || reported.currency != due.currency
        || now > due.expires_at + chrono::Duration::seconds(WINDOW_GRACE_S)
}

/// Settles one order's share in one transaction on its shard (retried after a deadlock).
pub async fn settle_share(
    state: &AppState,
    order: OrderId,
    received: Decimal,
) -> Result<Outcome, AppError> {
    let database = state.shards.for_id(&order)?;
    let mut attempt = 0;
    let (outcome, items) = loop {
        let mut tx = database.begin().await?;
        match settle_in(&mut tx, order, received).await {
            Ok(done) => {
                tx.commit()
                    .await
                    .map_err(|e| AppError::from(database.error(e)))?;
                break done;
            }
            Err(error) => {
                let _ = tx.rollback().await;
                retry_after(database, error, &mut attempt).await?;
            }
        }
    };
    catalog::forget_cached_items(state, &items).await;
    if outcome != Outcome::Unchanged {
        tracing::info!(order = %order, ?outcome, "payment settled");
    }
    Ok(outcome)
}

/// Inside the shard's transaction; locks the order, then its share, then its holds (the order
/// first, as cancel does). Returns the outcome and the items whose stock changed.
async fn settle_in(
    tx: &mut Tx,
    order: OrderId,
    seen: Decimal,
) -> Result<(Outcome, Vec<ItemId>), sqlx::Error> {
    let now = now();
    let Some((order_status, holds_end)) =
        checkout_repo::lock_order_for_payment(tx, order.local()).await?
    else {
        return Ok((Outcome::Unchanged, Vec::new()));
    };
    let Some(share) = repo::share_of_order(tx, order.local(), true).await? else {
        return Ok((Outcome::Unchanged, Vec::new()));
    };
    let received = share.received.max(seen);
    let paid = received >= share.checkout_total;
    let mut outcome = Outcome::Unchanged;
    let mut items = Vec::new();
    let status = match share.status {
        PaymentStatus::Pending | PaymentStatus::Failed if paid => {
            if order_status == OrderStatus::Pending && holds_end > now {
                items = place(tx, order, now).await?;
                outcome = Outcome::Placed;
                PaymentStatus::Completed
            } else {
                if order_status == OrderStatus::Pending {
                    let holds = checkout_repo::lock_order_holds(tx, order.local()).await?;
                    items = holds
                        .iter()
                        .filter_map(|h| ItemId::new(order.shard(), h.item).ok())
                        .collect();
                    give_back(
                        tx,
                        order.shard(),
                        &holds,
                        StockCause::Expire,
                        OrderStatus::Failed,
                        now,
                    )
                    .await?;
                    checkout_repo::end_pending_order(tx, order.local(), OrderStatus::Failed, now)
                        .await?;
                }
                repo::insert_refund(tx, &share, RefundReason::NotPlaced, share.amount, now).await?;
                outcome = Outcome::NotPlaced;
                PaymentStatus::Refunded
            }
        }
        PaymentStatus::Pending
            if now > share.expires_at + chrono::Duration::seconds(WINDOW_GRACE_S) =>
        {
            outcome = Outcome::Failed;
            PaymentStatus::Failed
        }
        status => status,
    };
    repo::update_share(tx, share.id, received, status, now).await?;
    if share.lead {
        owe_the_rest(tx, &share, received, paid, status, now).await?;
    }
    Ok((outcome, items))
}

/// The lead share: what was received and not applied to the checkout is owed back (beyond the
/// total when paid; all of it when the window ended short), less what is already owed.
async fn owe_the_rest(
    connection: &mut MySqlConnection,
    lead: &Share,
    received: Decimal,
    paid: bool,
    status: PaymentStatus,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let (applied, reason) = if paid {
        (lead.checkout_total, RefundReason::Excess)
    } else if status == PaymentStatus::Failed {
        (Decimal::ZERO, RefundReason::Underpaid)
    } else {
        return Ok(());
    };
    let owed = received - applied;
    let already = repo::refunded(
        connection,
        lead.id,
        &[RefundReason::Excess, RefundReason::Underpaid],
    )
    .await?;
    if owed > already {
        repo::insert_refund(connection, lead, reason, owed - already, now).await?;
    }
    Ok(())
}

/// Places a pending order whose holds are active: the holds end as a sale (their units stay
/// sold), the order is Placed, and the ledger and the outbox say so.
async fn place(
    connection: &mut MySqlConnection,
    order: OrderId,
    now: DateTime<Utc>,
) -> Result<Vec<ItemId>, sqlx::Error> {
    let holds = checkout_repo::lock_order_holds(connection, order.local()).await?;
    let mut items = Vec::with_capacity(holds.len());
    for held in &holds {
        checkout_repo::end_hold(connection, held.hold, "released", now).await?;
        let stock = checkout_repo::stock(connection, held.item).await?;
        let item =
            ItemId::new(order.shard(), held.item).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        catalog_repo::insert_movement(
            connection,
            item,
            0,
            stock,
            StockCause::Sale,
            &format!("order {order}: {} sold", held.quantity),
            now,
        )
        .await?;
        items.push(item);
    }
    checkout_repo::end_pending_order(connection, order.local(), OrderStatus::Placed, now).await?;
    events::record(
        connection,
        &Event::OrderChanged {
            order_id: order,
            status: OrderStatus::Placed,
        },
    )
    .await?;
    Ok(items)
}

/// Cancels a placed order inside the caller's transaction (the order locked by the caller): its
/// units go back on sale, and its share is owed back. Returns the items whose stock changed.
pub(crate) async fn cancel_placed(
    connection: &mut MySqlConnection,
    order: OrderId,
    now: DateTime<Utc>,
) -> Result<Vec<ItemId>, sqlx::Error> {
    if !checkout_repo::move_order(
        connection,
        order.local(),
        OrderStatus::Placed,
        OrderStatus::Canceled,
        now,
    )
    .await?
    {
        return Ok(Vec::new());
    }
    let shard: ShardId = order.shard();
    let units = checkout_repo::units_of_order(connection, order.local()).await?;
    let mut items = Vec::with_capacity(units.len());
    for &(item, quantity) in &units {
        checkout_repo::return_stock(connection, item, quantity).await?;
        let item_id = ItemId::new(shard, item).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        catalog_repo::record_movement(
            connection,
            item_id,
            i64::from(quantity),
            StockCause::Restock,
            &format!("order {order} canceled"),
            now,
        )
        .await?;
        items.push(item_id);
    }
    let ids: Vec<u64> = units.iter().map(|(item, _)| *item).collect();
    for (item, category) in checkout_repo::categories_of(connection, &ids).await? {
        events::record(
            connection,
            &Event::ItemChanged {
                item_id: ItemId::new(shard, item).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                category_id: CategoryId(category),
            },
        )
        .await?;
    }
    events::record(
        connection,
        &Event::OrderChanged {
            order_id: order,
            status: OrderStatus::Canceled,
        },
    )
    .await?;
    if let Some(share) = repo::share_of_order(connection, order.local(), true).await?
        && share.status == PaymentStatus::Completed
    {
        repo::update_share(
            connection,
            share.id,
            share.received,
            PaymentStatus::Refunded,
            now,
        )
        .await?;
        repo::insert_refund(
            connection,
            &share,
            RefundReason::Canceled,
            share.amount,
            now,
        )
        .await?;
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::processor::ProcessorStatus;
    use chrono::{Duration, TimeZone};

    fn dec(amount: &str) -> Decimal {
        amount.parse().expect("an amount")
    }

    fn due(received: Decimal) -> DuePoll {
        DuePoll {
            id: 1,
            request_id: "pr_1".into(),
            currency: "EUR".into(),
            checkout_total: dec("30.00"),
            received,
            expires_at: Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap(),
        }
    }

    fn reported(received: Decimal) -> ProcessorRequest {
        ProcessorRequest {
            id: "pr_1".into(),
            status: ProcessorStatus::Pending,
            currency: "EUR".into(),
            amount: dec("30.00"),
            amount_received: received,
            amount_refunded: Decimal::ZERO,
            qr_payload: String::new(),
            pay_url: String::new(),
            expires_at: Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_poll_that_brings_nothing_new_changes_nothing_until_the_window_is_over() {
        let due = due(dec("10.00"));
        let window = due.expires_at;
        let before = window - Duration::seconds(60);
        assert!(!would_change(&due, &reported(dec("10.00")), before));
        assert!(!would_change(&due, &reported(dec("0")), before));
        assert!(!would_change(
            &due,
            &reported(dec("10.00")),
            window + Duration::seconds(WINDOW_GRACE_S)
        ));
        assert!(would_change(
            &due,
            &reported(dec("10.00")),
            window + Duration::seconds(WINDOW_GRACE_S + 1)
        ));
    }

    #[test]
    fn more_received_or_another_request_is_settled() {
        let due = due(dec("10.00"));
        let before = due.expires_at - Duration::seconds(60);
        assert!(would_change(&due, &reported(dec("10.01")), before));
        let mut other_amount = reported(dec("10.00"));
        other_amount.amount = dec("31.00");
        assert!(would_change(&due, &other_amount, before));
        let mut other_currency = reported(dec("10.00"));
        other_currency.currency = "USD".into();
        assert!(would_change(&due, &other_currency, before));
    }
}
