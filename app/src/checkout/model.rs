//! Orders as the customer and the admin see them, and the filters and cursors of order lists.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::accounts::model::UserId;
use crate::catalog::model::FieldErrors;
use crate::error::AppError;
use crate::money::Currency;
use crate::shard::ShardId;
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
    /// The customer who checked out.
    #[cfg_attr(feature = "ssr", schema(value_type = u64))]
    pub customer_id: UserId,
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

/// How a hold of stock ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    /// The units are held for the order.
    Active,
    /// Given back by a cancel, or turned into a sale by placement.
    Released,
    /// Given back because the hold window ended.
    Expired,
}

impl HoldStatus {
    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(HoldStatus::Active),
            "released" => Some(HoldStatus::Released),
            "expired" => Some(HoldStatus::Expired),
            _ => None,
        }
    }

    /// A word for people.
    pub fn label(self) -> &'static str {
        match self {
            HoldStatus::Active => "active",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
        }
    }
}

/// Units of an item an order holds (or held).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub item_id: ItemId,
    pub quantity: u32,
    pub status: HoldStatus,
    pub expires_at: DateTime<Utc>,
}

/// Where a list of orders goes on: the last order of the page before. Lists run newest first, by
/// creation time and then ID, so a cursor stays valid while new orders arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCursor {
    pub created_at: DateTime<Utc>,
    pub id: OrderId,
}

impl OrderCursor {
    /// The cursor just past `order`.
    pub fn after(order: &Order) -> Self {
        OrderCursor {
            created_at: order.created_at,
            id: order.id,
        }
    }

    /// Where the list goes on within one shard's rows: before (`created_at`, row id). A list
    /// runs by (created, shard, row id), newest first, so on a shard before the cursor's, rows of
    /// the cursor's moment still come; on one after it, they came already.
    pub fn bound_on(&self, shard: ShardId) -> (DateTime<Utc>, u64) {
        let id = match shard.cmp(&self.id.shard()) {
            std::cmp::Ordering::Less => u64::MAX,
            std::cmp::Ordering::Equal => self.id.local(),
            std::cmp::Ordering::Greater => 0,
        };
        (self.created_at, id)
    }
}

/// A query-string field as given: trimmed, and absent when empty (a plain HTML form sends empty
/// fields).
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// What every keyset-paged list takes besides its own filters: a customer's username (admins
/// only), the cursor of the page before, and a page size. Each invalid one is added to `errors`.
pub fn page_params(
    errors: &mut FieldErrors,
    customer: Option<&str>,
    after: Option<&str>,
    limit: Option<&str>,
) -> (Option<String>, Option<OrderCursor>, u32) {
    const DEFAULT_LIMIT: u32 = 20;
    const MAX_LIMIT: u32 = 100;
    let customer = customer.map(str::to_owned);
    if customer.as_ref().is_some_and(|c| c.chars().count() > 64) {
        errors.add("customer", "must be a username (at most 64 characters)");
    }
    let after = after.and_then(|text| errors.check("after", text.parse()));
    let limit = match limit {
        None => Some(DEFAULT_LIMIT),
        Some(text) => errors.check(
            "limit",
            text.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| format!("must be a number from 1 to {MAX_LIMIT}")),
        ),
    };
    (customer, after, limit.unwrap_or(DEFAULT_LIMIT))
}

/// `<microseconds since 1970>.<order ID>`: opaque to clients.
impl fmt::Display for OrderCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.created_at.timestamp_micros(), self.id)
    }
}

impl FromStr for OrderCursor {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid =
            || "is not a cursor of this list (use the `next` of the page before)".to_owned();
        let (micros, id) = text.split_once('.').ok_or_else(invalid)?;
        let created_at = micros
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(invalid)?;
        let id = id.parse().map_err(|_| invalid())?;
        Ok(OrderCursor { created_at, id })
    }
}

/// An order list's query string, as sent: every field optional, empty means absent (a plain
/// HTML form sends empty fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct OrderFilterInput {
    /// `pending`, `placed`, `failed` or `canceled`.
    pub status: Option<String>,
    /// The first day (`YYYY-MM-DD`, UTC) of the orders' creation.
    pub from: Option<String>,
    /// The last day (`YYYY-MM-DD`, UTC), included.
    pub to: Option<String>,
    /// A customer's username (admins only).
    pub customer: Option<String>,
    /// The `next` cursor of the page before.
    pub after: Option<String>,
    /// Orders per page, 1 to 100 (20 when absent).
    pub limit: Option<String>,
}

/// Which orders a list shows, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub customer: Option<String>,
    pub after: Option<OrderCursor>,
    pub limit: u32,
}

impl OrderFilter {
    /// Checks every field, naming each invalid one.
    pub fn parse(input: &OrderFilterInput) -> Result<Self, AppError> {
        fn date(text: &str) -> Result<NaiveDate, String> {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| "must be a date like 2026-11-27".to_owned())
        }
        let mut errors = FieldErrors::default();
        let status = given(&input.status).and_then(|text| {
            errors.check(
                "status",
                OrderStatus::parse(text)
                    .map(Some)
                    .ok_or_else(|| "must be pending, placed, failed or canceled".to_owned()),
            )
        });
        let from = given(&input.from).and_then(|text| errors.check("from", date(text)));
        let to = given(&input.to).and_then(|text| errors.check("to", date(text)));
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            errors.add("to", "must not be before `from`");
        }
        let (customer, after, limit) = page_params(
            &mut errors,
            given(&input.customer),
            given(&input.after),
            given(&input.limit),
        );
        errors.finish()?;
        Ok(OrderFilter {
            status: status.flatten(),
            from,
            to,
            customer,
            after,
            limit,
        })
    }
}

/// One page of an order list, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::ShardId;

    fn input(pairs: &[(&str, &str)]) -> OrderFilterInput {
        let mut input = OrderFilterInput::default();
        for (key, value) in pairs {
            let value = Some((*value).to_owned());
            match *key {
                "status" => input.status = value,
                "from" => input.from = value,
                "to" => input.to = value,
                "customer" => input.customer = value,
                "after" => input.after = value,
                "limit" => input.limit = value,
                other => panic!("no field {other}"),
            }
        }
        input
    }

    fn invalid_fields(result: Result<OrderFilter, AppError>) -> Vec<String> {
        match result {
            Err(AppError::Validation { fields }) => fields.into_keys().collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn empty_fields_are_absent_and_the_limit_has_a_default() {
        let filter = OrderFilter::parse(&input(&[("status", ""), ("from", " "), ("after", "")]))
            .expect("valid");
        let every_order = OrderFilter {
            status: None,
            from: None,
            to: None,
            customer: None,
            after: None,
            limit: 20,
        };
        assert_eq!(filter, every_order);
    }

    #[test]
    fn every_invalid_field_is_named() {
        let fields = invalid_fields(OrderFilter::parse(&input(&[
            ("status", "shipped"),
            ("from", "27.11.2026"),
            ("after", "yesterday"),
            ("limit", "500"),
        ])));
        assert_eq!(fields, ["after", "from", "limit", "status"]);
    }

    #[test]
    fn a_range_that_ends_before_it_starts_is_refused() {
        let fields = invalid_fields(OrderFilter::parse(&input(&[
            ("from", "2026-11-28"),
            ("to", "2026-11-27"),
        ])));
        assert_eq!(fields, ["to"]);
    }

    #[test]
    fn a_cursor_reads_back_what_it_wrote() {
        let cursor = OrderCursor {
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(),
            id: OrderId::new(ShardId::new(2).unwrap(), 77).unwrap(),
        };
        let text = cursor.to_string();
        assert_eq!(text.parse::<OrderCursor>(), Ok(cursor));
        let filter =
            OrderFilter::parse(&input(&[("after", &text), ("status", "placed")])).expect("valid");
        assert_eq!(filter.after, Some(cursor));
        assert_eq!(filter.status, Some(OrderStatus::Placed));
    }
}
