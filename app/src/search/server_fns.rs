//! The search page's server function.

use leptos::prelude::*;

use super::model::{SearchParams, SearchResults};
use crate::error::AppError;

/// Searches the catalog (this server copy's index).
#[server(endpoint = "search")]
pub async fn search_items(params: SearchParams) -> Result<SearchResults, AppError> {
    let state = crate::state::use_app_state()?;
    super::service::search(&state, &params)
        .await
        .map_err(crate::error::with_status)
}
