//! The status panel's server function.

use leptos::prelude::*;

use super::model::Health;
use crate::error::AppError;

/// The health of every database and Redis, as `/healthz` reports it.
#[server(endpoint = "status")]
pub async fn shop_status() -> Result<Health, AppError> {
    let state = crate::state::use_app_state()?;
    Ok(super::service::check(&state).await)
}
