//! Orders as the customer sees them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Currency;
use crate::shard::id::{ItemId, OrderId};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum OrderStatus {
    /// Stock is held; waiting for payment.
    Pending,
    /// Paid and final.
    Placed,
    /// The holds ran out before payment.
    Failed,
    /// Canceled by the customer or the shop.
    Canceled,
}

impl OrderStatus {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Placed => "placed",
            OrderStatus::Failed => "failed",
            OrderStatus::Canceled => "canceled",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(OrderStatus::Pending),
            "placed" => Some(OrderStatus::Placed),
            "failed" => Some(OrderStatus::Failed),
            "canceled" => Some(OrderStatus::Canceled),
            _ => None,
        }
    }
}

/// One line of an order, with the price it was bought at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OrderLine {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub item_id: ItemId,
    pub name: String,
    pub quantity: u32,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub unit_price: Decimal,
}

/// One shard's order of a checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Order {
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "order-1-7"))]
    pub id: OrderId,
    pub checkout_id: String,
    pub status: OrderStatus,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub currency: Currency,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub total: Decimal,
    /// Until when its stock is held (while pending).
    pub hold_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
}

/// What a checkout made: one order per shard of the cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Checkout {
    pub checkout_id: String,
    pub orders: Vec<Order>,
    /// The earliest moment a hold of this checkout ends.
    pub hold_expires_at: DateTime<Utc>,
}
