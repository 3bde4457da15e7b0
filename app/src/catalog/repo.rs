//! The catalog's SQL: one function per statement, each taking the connection (or transaction) of
//! the database that holds the rows. Categories are in the directory; items, their ledger and
//! their outbox are on the category's shard.

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use sqlx::MySqlConnection;

use super::model::{
    Category, CategoryId, Item, ItemSort, NewCategory, NewItem, StockCause, StockMovement,
};
use crate::money::Currency;
use crate::shard::ShardId;
use crate::shard::id::ItemId;
use crate::shard::in_list::{keep_prepared, marks};

/// The most categories the shop may have (they are read whole and cached).
pub const MAX_CATEGORIES: u32 = 500;

fn decode_error(message: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Decode(message.into().into())
}

type CategoryRow = (u64, String, String, u16);

fn category(row: CategoryRow) -> Result<Category, sqlx::Error> {
    let (id, slug, name, shard) = row;
    Ok(Category {
        id: CategoryId(id),
        slug,
        name,
        shard: ShardId::new(shard).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
    })
}

/// Every category, by name.
pub async fn list_categories(
    connection: &mut MySqlConnection,
) -> Result<Vec<Category>, sqlx::Error> {
    let rows: Vec<CategoryRow> =
        sqlx::query_as("SELECT id, slug, name, shard FROM categories ORDER BY name, id LIMIT ?")
            .bind(MAX_CATEGORIES)
            .fetch_all(connection)
            .await?;
    rows.into_iter().map(category).collect()
}

/// One category.
pub async fn get_category(
    connection: &mut MySqlConnection,
    id: CategoryId,
) -> Result<Option<Category>, sqlx::Error> {
    let row: Option<CategoryRow> =
        sqlx::query_as("SELECT id, slug, name, shard FROM categories WHERE id = ?")
            .bind(id.0)
            .fetch_optional(connection)
            .await?;
    row.map(category).transpose()
}

/// How many categories each shard holds, for shards that hold any.
pub async fn categories_per_shard(
    connection: &mut MySqlConnection,
) -> Result<Vec<(u16, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT shard, COUNT(*) FROM categories GROUP BY shard")
        .fetch_all(connection)
        .await
}

/// Adds a category on `shard`; a duplicate slug fails with a unique violation.
pub async fn insert_category(
    connection: &mut MySqlConnection,
    category: &NewCategory,
    shard: ShardId,
) -> Result<CategoryId, sqlx::Error> {
    let result = sqlx::query("INSERT INTO categories (slug, name, shard) VALUES (?, ?, ?)")
        .bind(&category.slug)
        .bind(&category.name)
        .bind(shard.number())
        .execute(connection)
        .await?;
    Ok(CategoryId(result.last_insert_id()))
}

/// Renames a category; returns whether it exists.
pub async fn rename_category(
    connection: &mut MySqlConnection,
    id: CategoryId,
    category: &NewCategory,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("UPDATE categories SET slug = ?, name = ? WHERE id = ?")
        .bind(&category.slug)
        .bind(&category.name)
        .bind(id.0)
        .execute(connection)
        .await?;
    Ok(result.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: u64,
    category_id: u64,
    name: String,
    description: String,
    price: Decimal,
    currency: String,
    stock: i32,
    location: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

const ITEM_COLUMNS: &str =
    "id, category_id, name, description, price, currency, stock, location, created_at, updated_at";

impl ItemRow {
    fn into_item(self, shard: ShardId) -> Result<Item, sqlx::Error> {
        let currency: Currency = self.currency.parse().map_err(decode_error)?;
        // The currency's decimal places: "506.00" for euros, as a shop writes it.
        let mut price = self.price.round_dp(currency.minor_units());
        price.rescale(currency.minor_units());
        Ok(Item {
            id: ItemId::new(shard, self.id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            category_id: CategoryId(self.category_id),
            name: self.name,
            description: self.description,
            price,
            currency,
            stock: u32::try_from(self.stock).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            location: self.location,
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        })
    }
}

fn items(rows: Vec<ItemRow>, shard: ShardId) -> Result<Vec<Item>, sqlx::Error> {
    rows.into_iter().map(|row| row.into_item(shard)).collect()
}

/// Adds an item (its stock included; the caller writes the ledger row) and returns its row id.
pub async fn insert_item(
    connection: &mut MySqlConnection,
    item: &NewItem,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO items (category_id, name, description, price, currency, stock, location, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(item.category_id.0)
    .bind(&item.name)
    .bind(&item.description)
    .bind(item.price.amount())
    .bind(item.price.currency().code())
    .bind(item.stock)
    .bind(&item.location)
    .bind(now.naive_utc())
    .bind(now.naive_utc())
    .execute(connection)
    .await?;
    Ok(result.last_insert_id())
}

/// An item that is not deleted.
pub async fn get_item(
    connection: &mut MySqlConnection,
    id: ItemId,
) -> Result<Option<Item>, sqlx::Error> {
    let row: Option<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE id = ? AND deleted_at IS NULL"
    ))
    .bind(id.local())
    .fetch_optional(connection)
    .await?;
    row.map(|row| row.into_item(id.shard())).transpose()
}

/// The items among `ids` (row ids on this shard) that are not deleted, in one query.
pub async fn items_by_ids(
    connection: &mut MySqlConnection,
    shard: ShardId,
    ids: &[u64],
) -> Result<Vec<Item>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({}) AND deleted_at IS NULL",
        marks(ids.len())
    );
    let mut query = sqlx::query_as::<_, ItemRow>(&sql).persistent(keep_prepared(ids.len()));
    for id in ids {
        query = query.bind(id);
    }
    items(query.fetch_all(connection).await?, shard)
}

/// The stock of the items among `ids` (row ids on this shard) that are not deleted, in one query:
/// (row id, units).
pub async fn stocks_by_ids(
    connection: &mut MySqlConnection,
    ids: &[u64],
) -> Result<Vec<(u64, u32)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, CAST(stock AS UNSIGNED) FROM items WHERE id IN ({}) AND deleted_at IS NULL",
        marks(ids.len())
    );
    let mut query = sqlx::query_as::<_, (u64, u64)>(&sql).persistent(keep_prepared(ids.len()));
    for id in ids {
        query = query.bind(id);
    }
    query
        .fetch_all(connection)
        .await?
        .into_iter()
        .map(|(id, stock)| {
            u32::try_from(stock)
                .map(|stock| (id, stock))
                .map_err(|_| sqlx::Error::Decode(format!("item {id}: stock {stock}").into()))
        })
        .collect()
}

/// An item that is not deleted, locked until the transaction ends.
pub async fn lock_item(
    connection: &mut MySqlConnection,
    id: ItemId,
) -> Result<Option<Item>, sqlx::Error> {
    let row: Option<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE id = ? AND deleted_at IS NULL FOR UPDATE"
    ))
    .bind(id.local())
    .fetch_optional(connection)
    .await?;
    row.map(|row| row.into_item(id.shard())).transpose()
}

/// Writes an item's descriptive fields (never its stock: that goes through the ledger).
pub async fn update_item(
    connection: &mut MySqlConnection,
    item: &Item,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE items SET name = ?, description = ?, price = ?, currency = ?, location = ?, updated_at = ? \
         WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(&item.name)
    .bind(&item.description)
    .bind(item.price)
    .bind(item.currency.code())
    .bind(&item.location)
    .bind(now.naive_utc())
    .bind(item.id.local())
    .execute(connection)
    .await?;
    Ok(())
}

/// Hides an item from the shop; returns whether it was there to delete.
pub async fn delete_item(
    connection: &mut MySqlConnection,
    id: ItemId,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE items SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(now.naive_utc())
    .bind(now.naive_utc())
    .bind(id.local())
    .execute(connection)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Writes a new stock level of a locked item.
pub async fn write_stock(
    connection: &mut MySqlConnection,
    id: ItemId,
    stock: u32,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE items SET stock = ?, updated_at = ? WHERE id = ?")
        .bind(stock)
        .bind(now.naive_utc())
        .bind(id.local())
        .execute(connection)
        .await?;
    Ok(())
}

/// Appends a row to an item's stock ledger, its `stock_after` read from the item's row by the same
/// statement. Only for a transaction that already holds the row's lock (it changed the stock):
/// reading the row this way takes a shared lock on it.
pub async fn record_movement(
    connection: &mut MySqlConnection,
    id: ItemId,
    delta: i64,
    cause: StockCause,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stock_movements (item_id, delta, stock_after, cause, reason, created_at) \
         SELECT id, ?, stock, ?, ?, ? FROM items WHERE id = ?",
    )
    .bind(delta)
    .bind(cause.as_str())
    .bind(reason)
    .bind(now.naive_utc())
    .bind(id.local())
    .execute(connection)
    .await?;
    Ok(())
}

/// Appends a row to an item's stock ledger.
pub async fn insert_movement(
    connection: &mut MySqlConnection,
    id: ItemId,
    delta: i64,
    stock_after: u32,
    cause: StockCause,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO stock_movements (item_id, delta, stock_after, cause, reason, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id.local())
    .bind(delta)
    .bind(stock_after)
    .bind(cause.as_str())
    .bind(reason)
    .bind(now.naive_utc())
    .execute(connection)
    .await?;
    Ok(result.last_insert_id())
}

/// One page of an item's ledger, newest first, and how many rows it has.
pub async fn list_movements(
    connection: &mut MySqlConnection,
    id: ItemId,
    offset: u32,
    limit: u32,
) -> Result<(Vec<StockMovement>, u64), sqlx::Error> {
    let rows: Vec<(u64, i32, i32, String, String, NaiveDateTime)> = sqlx::query_as(
        "SELECT id, delta, stock_after, cause, reason, created_at FROM stock_movements \
         WHERE item_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
    )
    .bind(id.local())
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *connection)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stock_movements WHERE item_id = ?")
        .bind(id.local())
        .fetch_one(connection)
        .await?;
    let movements = rows
        .into_iter()
        .map(|(id, delta, stock_after, cause, reason, created_at)| {
            Ok(StockMovement {
                id,
                delta: i64::from(delta),
                stock_after: u32::try_from(stock_after)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                cause: StockCause::from_stored(&cause)
                    .ok_or_else(|| decode_error(format!("unknown stock cause {cause:?}")))?,
                reason,
                created_at: created_at.and_utc(),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((movements, u64::try_from(total).unwrap_or_default()))
}

fn order_by(sort: ItemSort) -> &'static str {
    match sort {
        ItemSort::Newest => "id DESC",
        ItemSort::PriceAsc => "price ASC, id ASC",
        ItemSort::PriceDesc => "price DESC, id DESC",
        ItemSort::Name => "name ASC, id ASC",
    }
}

/// One page of a category's items, and how many it has.
pub async fn list_items(
    connection: &mut MySqlConnection,
    shard: ShardId,
    category: CategoryId,
    sort: ItemSort,
    offset: u32,
    limit: u32,
) -> Result<(Vec<Item>, u64), sqlx::Error> {
    let rows: Vec<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE category_id = ? AND deleted_at IS NULL \
         ORDER BY {} LIMIT ? OFFSET ?",
        order_by(sort)
    ))
    .bind(category.0)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *connection)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM items WHERE category_id = ? AND deleted_at IS NULL",
    )
    .bind(category.0)
    .fetch_one(connection)
    .await?;
    Ok((
        items(rows, shard)?,
        u64::try_from(total).unwrap_or_default(),
    ))
}

/// The newest items in stock on one shard.
pub async fn newest_in_stock(
    connection: &mut MySqlConnection,
    shard: ShardId,
    limit: u32,
) -> Result<Vec<Item>, sqlx::Error> {
    let rows: Vec<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE deleted_at IS NULL AND stock > 0 \
         ORDER BY id DESC LIMIT ?"
    ))
    .bind(limit)
    .fetch_all(connection)
    .await?;
    items(rows, shard)
}

/// Items that are not deleted with a row id above `after`, in id order: a whole shard, read in
/// batches (building the search index).
pub async fn items_after(
    connection: &mut MySqlConnection,
    shard: ShardId,
    after: u64,
    limit: u32,
) -> Result<Vec<Item>, sqlx::Error> {
    let rows: Vec<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE id > ? AND deleted_at IS NULL ORDER BY id LIMIT ?"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await?;
    items(rows, shard)
}

/// Items whose stock is not what their ledger sums to (an invariant: this is always empty).
pub async fn ledger_mismatches(
    connection: &mut MySqlConnection,
    shard: ShardId,
) -> Result<Vec<(ItemId, i64, i64)>, sqlx::Error> {
    let rows: Vec<(u64, i64, Decimal)> = sqlx::query_as(
        "SELECT i.id, CAST(i.stock AS SIGNED), COALESCE(SUM(m.delta), 0) FROM items i \
         LEFT JOIN stock_movements m ON m.item_id = i.id \
         GROUP BY i.id, i.stock HAVING i.stock <> COALESCE(SUM(m.delta), 0)",
    )
    .fetch_all(connection)
    .await?;
    rows.into_iter()
        .map(|(id, stock, sum)| {
            let sum = i64::try_from(sum).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok((
                ItemId::new(shard, id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                stock,
                sum,
            ))
        })
        .collect()
}
