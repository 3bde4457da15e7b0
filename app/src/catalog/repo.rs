//! The catalog's SQL: one function per statement.

use sqlx::MySqlConnection;

use super::model::{Category, CategoryId};
use crate::shard::ShardId;

/// The most categories one listing returns.
pub const MAX_CATEGORIES: u32 = 500;

/// Every category, by name.
pub async fn list_categories(
    connection: &mut MySqlConnection,
) -> Result<Vec<Category>, sqlx::Error> {
    let rows: Vec<(u64, String, String, u16)> =
        sqlx::query_as("SELECT id, slug, name, shard FROM categories ORDER BY name, id LIMIT ?")
            .bind(MAX_CATEGORIES)
            .fetch_all(connection)
            .await?;
    rows.into_iter()
        .map(|(id, slug, name, shard)| {
            let shard = ShardId::new(shard).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok(Category {
                id: CategoryId(id),
                slug,
                name,
                shard,
            })
        })
        .collect()
}
