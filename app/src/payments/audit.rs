//! The payment invariants, checked on live data (`surge audit`):
//! - every placed order has a completed payment of exactly its total, paid in full;
//! - no order is placed twice;
//! - every completed payment belongs to a placed order, and every refunded one has its refund;
//! - refunds never exceed what was received, and every refund owed is sent within the grace time;
//! - once a checkout is settled, the money kept is exactly the shares of its placed orders:
//!   Surge never keeps money for goods it did not deliver.

use std::collections::BTreeMap;

use chrono::Utc;
use rust_decimal::Decimal;

use super::repo::{self, RequestMoney, ShardViolations};
use crate::error::AppError;
use crate::state::AppState;

/// How long a refund may be owed before the audit calls it late (the refund job retries with
/// backoff while the processor is down).
pub const REFUND_GRACE_S: i64 = 120;

/// What the payment checks found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentAudit {
    pub counts: ShardViolations,
    /// Requests whose refunds exceed what they received: (request, received, refunded).
    pub over_refunded: Vec<(String, Decimal, Decimal)>,
    /// Settled requests whose money kept is not their placed shares: (request, kept, placed).
    pub kept_wrong: Vec<(String, Decimal, Decimal)>,
}

impl PaymentAudit {
    /// Whether every payment invariant holds.
    pub fn is_clean(&self) -> bool {
        self.counts == ShardViolations::default()
            && self.over_refunded.is_empty()
            && self.kept_wrong.is_empty()
    }
}

/// Checks every shard.
pub async fn audit(state: &AppState) -> Result<PaymentAudit, AppError> {
    let mut counts = ShardViolations::default();
    let mut requests: BTreeMap<String, RequestMoney> = BTreeMap::new();
    for (_, database) in state.shards.shards() {
        let mut connection = database.acquire().await?;
        let found = repo::violations(&mut connection, Utc::now(), REFUND_GRACE_S)
            .await
            .map_err(|e| AppError::from(database.error(e)))?;
        counts.placed_unpaid += found.placed_unpaid;
        counts.placed_twice += found.placed_twice;
        counts.completed_unplaced += found.completed_unplaced;
        counts.refunded_without_refund += found.refunded_without_refund;
        counts.refunds_late += found.refunds_late;
        for money in repo::money_by_request(&mut connection)
            .await
            .map_err(|e| AppError::from(database.error(e)))?
        {
            requests
                .entry(money.request_id.clone())
                .and_modify(|all| {
                    all.received = all.received.max(money.received);
                    all.kept += money.kept;
                    all.refunded += money.refunded;
                    all.pending += money.pending;
                })
                .or_insert(money);
        }
    }
    let mut audit = PaymentAudit {
        counts,
        ..PaymentAudit::default()
    };
    for (request, money) in requests {
        if money.refunded > money.received {
            audit
                .over_refunded
                .push((request.clone(), money.received, money.refunded));
        }
        if money.pending == 0 && money.received - money.refunded != money.kept {
            audit
                .kept_wrong
                .push((request, money.received - money.refunded, money.kept));
        }
    }
    Ok(audit)
}
