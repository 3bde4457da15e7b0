//! Checkout's SQL, on one shard: orders, their lines, holds, and the stock they take and give back.

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{MySql, MySqlConnection, QueryBuilder};

use super::model::{Hold, HoldStatus, Order, OrderLine, OrderStatus};
use crate::accounts::model::UserId;
use crate::money::Currency;
use crate::shard::ShardId;
use crate::shard::id::{ItemId, OrderId};
use crate::shard::in_list::{keep_prepared, marks};

fn decode(message: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Decode(message.into().into())
}

/// What `take_held_stock` came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Taken, counted and written (and committed when asked).
    Taken,
    /// Fewer units than asked are left, or the item is gone: nothing was taken.
    Short,
    /// The customer would pass the limit: they already have `already` units of the item.
    OverLimit { already: u32 },
}

/// A hold's line, from the item's row to the ledger, in one round trip (the shard's
/// `take_held_stock` procedure): takes `quantity` units of `item` if that many are left, counts
/// the customer's units of it (this order's line included) against `limit`, writes the ledger row
/// and, when `commit` is set, commits the transaction, which releases the row. `Short` and
/// `OverLimit` leave the transaction open for the caller to go on or roll back.
#[allow(clippy::too_many_arguments)]
pub async fn take_held_stock(
    connection: &mut MySqlConnection,
    item: u64,
    quantity: u32,
    user: UserId,
    limit: u32,
    reason: &str,
    now: DateTime<Utc>,
    commit: bool,
) -> Result<Taken, sqlx::Error> {
    let result = sqlx::query("CALL take_held_stock(?, ?, ?, ?, ?, ?, ?)")
        .bind(item)
        .bind(quantity)
        .bind(user.0)
        .bind(limit)
        .bind(reason)
        .bind(now.naive_utc())
        .bind(commit)
        .execute(connection)
        .await;
    let refused = match &result {
        Err(sqlx::Error::Database(e)) => e
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .map(|e| (e.number(), e.message().to_owned())),
        _ => None,
    };
    match refused {
        Some((31001, _)) => Ok(Taken::Short),
        Some((31002, already)) => Ok(Taken::OverLimit {
            already: already
                .parse()
                .map_err(|_| decode(format!("take_held_stock: {already:?} is not a count")))?,
        }),
        _ => result.map(|_| Taken::Taken),
    }
}

/// Gives units back to an item.
pub async fn return_stock(
    connection: &mut MySqlConnection,
    item: u64,
    quantity: u32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE items SET stock = stock + ? WHERE id = ?")
        .bind(quantity)
        .bind(item)
        .execute(connection)
        .await?;
    Ok(())
}

/// An item's stock now (0 for a deleted or unknown item).
pub async fn stock(connection: &mut MySqlConnection, item: u64) -> Result<u32, sqlx::Error> {
    let stock: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(stock AS SIGNED) FROM items WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(item)
    .fetch_optional(connection)
    .await?;
    Ok(stock.and_then(|s| u32::try_from(s).ok()).unwrap_or(0))
}

/// The category of each of these items, in one query.
pub async fn categories_of(
    connection: &mut MySqlConnection,
    items: &[u64],
) -> Result<Vec<(u64, u64)>, sqlx::Error> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, category_id FROM items WHERE id IN ({}) ORDER BY id",
        marks(items.len())
    );
    let mut query = sqlx::query_as(&sql).persistent(keep_prepared(items.len()));
    for item in items {
        query = query.bind(item);
    }
    query.fetch_all(connection).await
}

/// A pending order to add.
pub struct NewOrder<'a> {
    pub checkout_id: &'a str,
    pub user: u64,
    pub currency: Currency,
    pub total: Decimal,
    /// When its holds end.
    pub expires: DateTime<Utc>,
}

/// Adds an order (pending) and returns its row id.
pub async fn insert_order(
    connection: &mut MySqlConnection,
    order: &NewOrder<'_>,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO orders (checkout_id, user_id, status, currency, total, hold_expires_at, created_at, updated_at) \
         VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)",
    )
    .bind(order.checkout_id)
    .bind(order.user)
    .bind(order.currency.code())
    .bind(order.total)
    .bind(order.expires.naive_utc())
    .bind(now.naive_utc())
    .bind(now.naive_utc())
    .execute(connection)
    .await?;
    Ok(result.last_insert_id())
}

/// Adds a line to the order of customer `buyer` (named in the line too, for the per-customer
/// limit's count).
pub async fn insert_line(
    connection: &mut MySqlConnection,
    order: u64,
    buyer: UserId,
    line: &OrderLine,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_items (order_id, item_id, user_id, name, quantity, unit_price) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(order)
    .bind(line.item_id.local())
    .bind(buyer.0)
    .bind(&line.name)
    .bind(line.quantity)
    .bind(line.unit_price)
    .execute(connection)
    .await?;
    Ok(())
}

/// Adds an active hold.
pub async fn insert_hold(
    connection: &mut MySqlConnection,
    order: u64,
    item: u64,
    quantity: u32,
    expires: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO holds (order_id, item_id, quantity, status, expires_at, created_at, updated_at) \
         VALUES (?, ?, ?, 'active', ?, ?, ?)",
    )
    .bind(order)
    .bind(item)
    .bind(quantity)
    .bind(expires.naive_utc())
    .bind(now.naive_utc())
    .bind(now.naive_utc())
    .execute(connection)
    .await?;
    Ok(())
}

/// An active hold, locked.
#[derive(Debug, Clone, Copy)]
pub struct HeldUnits {
    pub hold: u64,
    pub order: u64,
    pub item: u64,
    pub quantity: u32,
}

type HoldRow = (u64, u64, u64, i32);

fn held(rows: Vec<HoldRow>) -> Vec<HeldUnits> {
    rows.into_iter()
        .map(|(hold, order, item, quantity)| HeldUnits {
            hold,
            order,
            item,
            quantity: u32::try_from(quantity).unwrap_or(0),
        })
        .collect()
}

/// Active holds past their expiry (of one item, or any), locked; rows another transaction has
/// locked are skipped, so several expiry runs share the work instead of queueing.
pub async fn lock_expired_holds(
    connection: &mut MySqlConnection,
    item: Option<u64>,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<HeldUnits>, sqlx::Error> {
    // One item's through `holds_item`, any item's through `holds_expiry`: a lock-taking scan
    // must not wander through other items' holds.
    let rows: Vec<HoldRow> = match item {
        Some(item) => {
            sqlx::query_as(
                "SELECT id, order_id, item_id, quantity FROM holds FORCE INDEX (holds_item) \
                 WHERE item_id = ? AND status = 'active' AND expires_at < ? \
                 ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
            )
            .bind(item)
            .bind(now.naive_utc())
            .bind(limit)
            .fetch_all(connection)
            .await?
        }
        None => {
            sqlx::query_as(
                "SELECT id, order_id, item_id, quantity FROM holds FORCE INDEX (holds_expiry) \
                 WHERE status = 'active' AND expires_at < ? \
                 ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
            )
            .bind(now.naive_utc())
            .bind(limit)
            .fetch_all(connection)
            .await?
        }
    };
    Ok(held(rows))
}

/// An order's active holds, locked.
pub async fn lock_order_holds(
    connection: &mut MySqlConnection,
    order: u64,
) -> Result<Vec<HeldUnits>, sqlx::Error> {
    let rows: Vec<HoldRow> = sqlx::query_as(
        "SELECT id, order_id, item_id, quantity FROM holds FORCE INDEX (holds_order) \
         WHERE order_id = ? AND status = 'active' ORDER BY item_id FOR UPDATE",
    )
    .bind(order)
    .fetch_all(connection)
    .await?;
    Ok(held(rows))
}

/// Ends a hold (`released` or `expired`).
pub async fn end_hold(
    connection: &mut MySqlConnection,
    hold: u64,
    status: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE holds SET status = ?, updated_at = ? WHERE id = ? AND status = 'active'")
        .bind(status)
        .bind(now.naive_utc())
        .bind(hold)
        .execute(connection)
        .await?;
    Ok(())
}

/// Moves a pending order to `to`; returns whether it was pending.
pub async fn end_pending_order(
    connection: &mut MySqlConnection,
    order: u64,
    to: OrderStatus,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE orders SET status = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
    )
    .bind(to.as_str())
    .bind(now.naive_utc())
    .bind(order)
    .execute(connection)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// An order's owner and status, locked.
pub async fn lock_order(
    connection: &mut MySqlConnection,
    order: u64,
) -> Result<Option<(u64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT user_id, status FROM orders WHERE id = ? FOR UPDATE")
        .bind(order)
        .fetch_optional(connection)
        .await
}

type OrderRow = (
    u64,
    String,
    u64,
    String,
    String,
    Decimal,
    NaiveDateTime,
    NaiveDateTime,
);
const ORDER_COLUMNS: &str =
    "id, checkout_id, user_id, status, currency, total, hold_expires_at, created_at";

/// Orders with their lines: two queries for any number of orders (no query per order).
async fn with_lines(
    connection: &mut MySqlConnection,
    shard: ShardId,
    rows: Vec<OrderRow>,
) -> Result<Vec<Order>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT order_id, item_id, name, quantity, unit_price FROM order_items \
         WHERE order_id IN ({}) ORDER BY item_id",
        marks(rows.len())
    );
    let mut query = sqlx::query_as(&sql).persistent(keep_prepared(rows.len()));
    for row in &rows {
        query = query.bind(row.0);
    }
    let lines: Vec<(u64, u64, String, i32, Decimal)> = query.fetch_all(&mut *connection).await?;
    rows.into_iter()
        .map(
            |(id, checkout_id, user, status, currency, total, expires, created)| {
                let lines = lines
                    .iter()
                    .filter(|line| line.0 == id)
                    .map(|(_, item, name, quantity, price)| {
                        Ok(OrderLine {
                            item_id: ItemId::new(shard, *item)
                                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                            name: name.clone(),
                            quantity: u32::try_from(*quantity).unwrap_or(0),
                            unit_price: *price,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                Ok(Order {
                    id: OrderId::new(shard, id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    checkout_id,
                    customer_id: UserId(user),
                    status: OrderStatus::parse(&status)
                        .ok_or_else(|| decode(format!("unknown status {status:?}")))?,
                    currency: currency.parse().map_err(decode)?,
                    total,
                    hold_expires_at: expires.and_utc(),
                    created_at: created.and_utc(),
                    lines,
                })
            },
        )
        .collect()
}

/// The order of a checkout on this shard.
pub async fn order_of_checkout(
    connection: &mut MySqlConnection,
    shard: ShardId,
    checkout_id: &str,
) -> Result<Option<Order>, sqlx::Error> {
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE checkout_id = ?"
    ))
    .bind(checkout_id)
    .fetch_all(&mut *connection)
    .await?;
    Ok(with_lines(connection, shard, rows)
        .await?
        .into_iter()
        .next())
}

/// One order.
pub async fn order(
    connection: &mut MySqlConnection,
    id: OrderId,
) -> Result<Option<Order>, sqlx::Error> {
    let rows: Vec<OrderRow> =
        sqlx::query_as(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?"))
            .bind(id.local())
            .fetch_all(&mut *connection)
            .await?;
    Ok(with_lines(connection, id.shard(), rows)
        .await?
        .into_iter()
        .next())
}

/// Which of a shard's orders to list, newest first.
#[derive(Debug, Clone, Copy)]
pub struct OrderSelection {
    pub customer: Option<u64>,
    pub status: Option<OrderStatus>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
    /// Only orders before this point of the list: created earlier, or at the same moment with a
    /// lower row id.
    pub before: Option<(DateTime<Utc>, u64)>,
    pub limit: u32,
}

/// One shard's orders that match, newest first, with their lines (two queries). Only the
/// conditions asked for are in the SQL, so the indexes on (user, created) and (status, created)
/// and (created) serve it.
pub async fn list_orders(
    connection: &mut MySqlConnection,
    shard: ShardId,
    selection: OrderSelection,
) -> Result<Vec<Order>, sqlx::Error> {
    let mut sql =
        QueryBuilder::<MySql>::new(format!("SELECT {ORDER_COLUMNS} FROM orders WHERE TRUE"));
    if let Some(customer) = selection.customer {
        sql.push(" AND user_id = ").push_bind(customer);
    }
    if let Some(status) = selection.status {
        sql.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(since) = selection.since {
        sql.push(" AND created_at >= ").push_bind(since.naive_utc());
    }
    if let Some(until) = selection.until {
        sql.push(" AND created_at < ").push_bind(until.naive_utc());
    }
    if let Some((at, id)) = selection.before {
        sql.push(" AND (created_at < ")
            .push_bind(at.naive_utc())
            .push(" OR (created_at = ")
            .push_bind(at.naive_utc())
            .push(" AND id < ")
            .push_bind(id)
            .push("))");
    }
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(selection.limit);
    let rows: Vec<OrderRow> = sql.build_query_as().fetch_all(&mut *connection).await?;
    with_lines(connection, shard, rows).await
}

/// An order's holds, by item.
pub async fn holds_of_order(
    connection: &mut MySqlConnection,
    id: OrderId,
) -> Result<Vec<Hold>, sqlx::Error> {
    let rows: Vec<(u64, i32, String, NaiveDateTime)> = sqlx::query_as(
        "SELECT item_id, quantity, status, expires_at FROM holds WHERE order_id = ? ORDER BY item_id, id",
    )
    .bind(id.local())
    .fetch_all(connection)
    .await?;
    rows.into_iter()
        .map(|(item, quantity, status, expires)| {
            Ok(Hold {
                item_id: ItemId::new(id.shard(), item)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                quantity: u32::try_from(quantity).unwrap_or(0),
                status: HoldStatus::parse(&status)
                    .ok_or_else(|| decode(format!("unknown hold status {status:?}")))?,
                expires_at: expires.and_utc(),
            })
        })
        .collect()
}

/// Broken hold invariants on this shard: active holds past expiry by more than `grace_s`, and
/// active holds whose order is not pending.
pub async fn hold_violations(
    connection: &mut MySqlConnection,
    now: DateTime<Utc>,
    grace_s: i64,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT \
           CAST((SELECT COUNT(*) FROM holds WHERE status = 'active' AND expires_at < ? - INTERVAL ? SECOND) AS SIGNED), \
           CAST((SELECT COUNT(*) FROM holds h JOIN orders o ON o.id = h.order_id \
                 WHERE h.status = 'active' AND o.status <> 'pending') AS SIGNED)",
    )
    .bind(now.naive_utc())
    .bind(grace_s)
    .fetch_one(connection)
    .await
}

/// An order's status and the end of its holds, locked.
pub async fn lock_order_for_payment(
    connection: &mut MySqlConnection,
    order: u64,
) -> Result<Option<(OrderStatus, DateTime<Utc>)>, sqlx::Error> {
    let row: Option<(String, NaiveDateTime)> =
        sqlx::query_as("SELECT status, hold_expires_at FROM orders WHERE id = ? FOR UPDATE")
            .bind(order)
            .fetch_optional(connection)
            .await?;
    row.map(|(status, expires)| {
        Ok((
            OrderStatus::parse(&status)
                .ok_or_else(|| decode(format!("unknown status {status:?}")))?,
            expires.and_utc(),
        ))
    })
    .transpose()
}

/// Moves an order from `from` to `to`; returns whether it was in `from`.
pub async fn move_order(
    connection: &mut MySqlConnection,
    order: u64,
    from: OrderStatus,
    to: OrderStatus,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let result =
        sqlx::query("UPDATE orders SET status = ?, updated_at = ? WHERE id = ? AND status = ?")
            .bind(to.as_str())
            .bind(now.naive_utc())
            .bind(order)
            .bind(from.as_str())
            .execute(connection)
            .await?;
    Ok(result.rows_affected() == 1)
}

/// An order's lines as (item, units), by item.
pub async fn units_of_order(
    connection: &mut MySqlConnection,
    order: u64,
) -> Result<Vec<(u64, u32)>, sqlx::Error> {
    let rows: Vec<(u64, i32)> = sqlx::query_as(
        "SELECT item_id, quantity FROM order_items WHERE order_id = ? ORDER BY item_id",
    )
    .bind(order)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(item, quantity)| (item, u32::try_from(quantity).unwrap_or(0)))
        .collect())
}
