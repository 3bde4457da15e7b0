//! Keeping the index current and answering searches.

use std::sync::Arc;

use super::engine::{SearchEngine, SearchError};
use super::model::{CategoryCount, SearchParams, SearchResults};
use crate::catalog::model::Page;
use crate::catalog::{repo, service as catalog};
use crate::error::AppError;
use crate::events::Event;
use crate::shard::id::ItemId;
use crate::state::AppState;

/// Items read per query while building the index.
const BUILD_BATCH: u32 = 5_000;

impl From<SearchError> for AppError {
    fn from(error: SearchError) -> Self {
        AppError::internal(error)
    }
}

/// Fills the index from every shard. A shard that cannot be read is logged and skipped: search
/// then lacks its items until they change or the copy restarts, while the rest of the shop works.
pub async fn build_index(state: &AppState) -> Result<u64, AppError> {
    let mut indexed = 0;
    for (shard, database) in state.shards.shards() {
        let mut after = 0;
        loop {
            let batch = async {
                let mut connection = database.acquire().await?;
                repo::items_after(&mut connection, shard, after, BUILD_BATCH)
                    .await
                    .map_err(|e| AppError::from(database.error(e)))
            }
            .await;
            let items = match batch {
                Ok(items) => items,
                Err(error) => {
                    tracing::error!(%shard, %error, "search index: shard left out");
                    break;
                }
            };
            let Some(last) = items.last() else { break };
            after = last.id.local();
            state.search.upsert(&items)?;
            indexed += items.len() as u64;
        }
    }
    state.search.commit()?;
    tracing::info!(items = indexed, "search index built");
    Ok(indexed)
}

/// Applies a batch of events to the index: every changed item is read again from its shard (the
/// event only says which), so a replayed or reordered event cannot index stale data.
pub async fn apply_events(state: &AppState, events: &[Event]) -> Result<(), AppError> {
    let mut changed = false;
    for event in events {
        let (Event::ItemChanged { item_id, .. } | Event::ItemDeleted { item_id, .. }) = event
        else {
            continue;
        };
        match current_item(state, *item_id).await? {
            Some(item) => state.search.upsert(&[item])?,
            None => state.search.remove(&[*item_id])?,
        }
        changed = true;
    }
    if changed {
        state.search.commit()?;
    }
    Ok(())
}

async fn current_item(
    state: &AppState,
    id: ItemId,
) -> Result<Option<crate::catalog::model::Item>, AppError> {
    let database = state.shards.for_id(&id)?;
    let mut connection = database.acquire().await?;
    repo::get_item(&mut connection, id)
        .await
        .map_err(|e| database.error(e).into())
}

/// Answers a search from this copy's index.
pub async fn search(state: &AppState, params: &SearchParams) -> Result<SearchResults, AppError> {
    let query = params.parse()?;
    let engine: Arc<dyn SearchEngine> = state.search.clone();
    let page = query.page;
    // Scoring and fuzzy matching are CPU work: keep them off the async workers.
    let found = tokio::task::spawn_blocking(move || engine.search(&query))
        .await
        .map_err(AppError::internal)??;
    let names = catalog::list_categories(state).await?;
    let mut categories: Vec<CategoryCount> = found
        .categories
        .into_iter()
        .filter_map(|(id, count)| {
            let category = names.iter().find(|c| c.id == id)?;
            Some(CategoryCount {
                category_id: id,
                name: category.name.clone(),
                count,
            })
        })
        .collect();
    categories.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    Ok(SearchResults {
        results: Page {
            items: found.items,
            page: page.page,
            per_page: page.per_page,
            total: found.total,
        },
        categories,
    })
}
