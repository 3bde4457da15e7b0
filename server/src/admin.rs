//! `surge admin create`: the first admin account.

use std::net::SocketAddr;

use app::accounts::model::{RegisterInput, Role};
use app::accounts::service;
use app::error::AppError;

use crate::config::Settings;
use crate::startup;

/// Creates an admin account; with `if_missing`, an existing username is fine.
pub async fn create(
    settings: &Settings,
    input: RegisterInput,
    if_missing: bool,
) -> anyhow::Result<()> {
    let state = startup::connect(settings, SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let username = input.username.clone();
    let created = service::register(&state, input, Role::Admin).await;
    state.shards.close().await;
    match created {
        Ok(user) => println!("admin {} created (id {})", user.username, user.id.0),
        Err(AppError::Conflict {
            field: Some(field), ..
        }) if if_missing && field == "username" => {
            println!("{username} exists: nothing to do");
        }
        Err(error) => return Err(error.into()),
    }
    Ok(())
}
