//! The catalog's server functions.

use leptos::prelude::*;

use super::model::Category;
use crate::error::AppError;

/// Every category of the shop, by name.
#[server(endpoint = "categories")]
pub async fn list_categories() -> Result<Vec<Category>, AppError> {
    let state = crate::state::use_app_state()?;
    super::service::list_categories(&state)
        .await
        .map_err(crate::error::with_status)
}
