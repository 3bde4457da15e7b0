//! Domain events: written to a database's `outbox` in the same transaction as the change they
//! describe, relayed to a Redis stream ([`relay`]), and applied by every server copy ([`stream`]):
//! cache invalidation today, the search index next.
//!
//! Delivery is at least once (a relay that crashes after publishing and before deleting publishes
//! again), so applying an event must be idempotent: every handler re-reads the current state
//! instead of trusting the event's content.

pub mod relay;
pub mod stream;

use serde::{Deserialize, Serialize};
use sqlx::MySqlConnection;

use crate::catalog::model::CategoryId;
use crate::checkout::model::OrderStatus;
use crate::shard::id::{ItemId, OrderId};

/// Something that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A category was created or renamed.
    CategoryChanged { category_id: CategoryId },
    /// An item was created, edited, or its stock changed otherwise than by a hold (units given
    /// back, sold units restocked, an admin's count).
    ItemChanged {
        item_id: ItemId,
        category_id: CategoryId,
    },
    /// A checkout held units of an item: its stock fell (the stock gate's count already took
    /// them).
    StockHeld {
        item_id: ItemId,
        category_id: CategoryId,
    },
    /// An item was deleted.
    ItemDeleted {
        item_id: ItemId,
        category_id: CategoryId,
    },
    /// An order was placed (paid), or a placed order was canceled.
    OrderChanged {
        order_id: OrderId,
        status: OrderStatus,
    },
}

/// Writes `event` to the outbox of the database `connection` is on. Call it inside the
/// transaction of the change, so the event exists exactly when the change does.
pub async fn record(connection: &mut MySqlConnection, event: &Event) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("INSERT INTO outbox (payload) VALUES (?)")
        .bind(payload)
        .execute(connection)
        .await?;
    Ok(())
}
