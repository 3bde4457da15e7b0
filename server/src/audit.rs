//! `surge audit`: the invariants of the design, checked on live data. Tests call the same code.
//!
//! Checked: every item's stock equals the sum of its ledger (which also proves no stock went
//! negative, as the schema forbids it); no active hold is past its expiry by more than the expiry
//! job's grace; no hold is active on an order that is no longer pending; and the payment
//! invariants of `app::payments::audit`.

use std::fmt;
use std::net::SocketAddr;

use app::catalog::service;
use app::payments::audit::{PaymentAudit, REFUND_GRACE_S};
use app::shard::id::ItemId;
use app::state::AppState;

use crate::config::Settings;
use crate::startup;

/// What the audit found.
#[derive(Debug, Default)]
pub struct AuditReport {
    /// Items whose stock is not the sum of their ledger: (item, stock, ledger sum).
    pub ledger_mismatches: Vec<(ItemId, i64, i64)>,
    /// Active holds past their expiry by more than the job's grace time.
    pub overdue_holds: i64,
    /// Active holds whose order is no longer pending.
    pub holds_of_ended_orders: i64,
    pub payments: PaymentAudit,
}

impl AuditReport {
    /// Whether every invariant holds.
    pub fn is_clean(&self) -> bool {
        self.ledger_mismatches.is_empty()
            && self.overdue_holds == 0
            && self.holds_of_ended_orders == 0
            && self.payments.is_clean()
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = |broken: bool| if broken { "BROKEN" } else { "ok" };
        writeln!(
            f,
            "audit: {}",
            if self.is_clean() {
                "clean"
            } else {
                "invariants broken"
            }
        )?;
        writeln!(
            f,
            "  {:6} every item's stock equals the sum of its ledger ({} items differ)",
            verdict(!self.ledger_mismatches.is_empty()),
            self.ledger_mismatches.len()
        )?;
        for (item, stock, ledger) in &self.ledger_mismatches {
            writeln!(
                f,
                "           {item}: stock {stock}, ledger sums to {ledger}"
            )?;
        }
        writeln!(
            f,
            "  {:6} no active hold is past its expiry by more than {} s ({} are)",
            verdict(self.overdue_holds > 0),
            app::checkout::service::EXPIRY_GRACE_S,
            self.overdue_holds
        )?;
        writeln!(
            f,
            "  {:6} no hold is active on an order that is no longer pending ({} are)",
            verdict(self.holds_of_ended_orders > 0),
            self.holds_of_ended_orders
        )?;
        let payments = &self.payments;
        let counts = &payments.counts;
        let checks = [
            (
                counts.placed_unpaid,
                "every placed order has a completed payment of exactly its total",
            ),
            (counts.placed_twice, "no order is placed twice"),
            (
                counts.completed_unplaced,
                "every completed payment belongs to a placed order",
            ),
            (
                counts.refunded_without_refund,
                "every refunded payment has the refund of its share",
            ),
        ];
        for (broken, check) in checks {
            writeln!(f, "  {:6} {check} ({broken} do not)", verdict(broken > 0))?;
        }
        writeln!(
            f,
            "  {:6} every refund owed is sent within {REFUND_GRACE_S} s ({} are late)",
            verdict(counts.refunds_late > 0),
            counts.refunds_late
        )?;
        writeln!(
            f,
            "  {:6} refunds never exceed what was received ({} requests do)",
            verdict(!payments.over_refunded.is_empty()),
            payments.over_refunded.len()
        )?;
        for (request, received, refunded) in &payments.over_refunded {
            writeln!(
                f,
                "           {request}: received {received}, refunded {refunded}"
            )?;
        }
        writeln!(
            f,
            "  {:6} settled checkouts keep exactly the shares of their placed orders ({} do not)",
            verdict(!payments.kept_wrong.is_empty()),
            payments.kept_wrong.len()
        )?;
        for (request, kept, placed) in &payments.kept_wrong {
            writeln!(f, "           {request}: kept {kept}, placed {placed}")?;
        }
        Ok(())
    }
}

/// Audits the shop `state` reaches.
pub async fn audit(state: &AppState) -> anyhow::Result<AuditReport> {
    let (overdue_holds, holds_of_ended_orders) =
        app::checkout::service::hold_violations(state).await?;
    Ok(AuditReport {
        ledger_mismatches: service::ledger_mismatches(state).await?,
        overdue_holds,
        holds_of_ended_orders,
        payments: app::payments::audit::audit(state).await?,
    })
}

/// Audits the shop the settings describe.
pub async fn run(settings: &Settings) -> anyhow::Result<AuditReport> {
    let state = startup::connect(settings, SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let report = audit(&state).await;
    state.shards.close().await;
    report
}
