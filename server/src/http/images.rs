//! `GET /images/items/{id}.svg`: an item's generated picture.

use app::catalog::{image, service};
use app::error::AppError;
use app::state::AppState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

/// The picture of the item named by `file` (`item-2-1042.svg`).
pub async fn item_image(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let id = file
        .strip_suffix(".svg")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| AppError::not_found("image"))?;
    let item = service::item(&state, id).await?;
    Ok((
        [
            (CONTENT_TYPE, "image/svg+xml"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        image::item_svg(&item),
    ))
}
