//! The catalog's rules.

use super::model::Category;
use super::repo;
use crate::error::AppError;
use crate::state::AppState;

/// Every category, read from the directory.
pub async fn list_categories(state: &AppState) -> Result<Vec<Category>, AppError> {
    let directory = state.shards.directory();
    let mut connection = directory.acquire().await?;
    repo::list_categories(&mut connection)
        .await
        .map_err(|e| directory.error(e).into())
}
