//! Keeping the index current and answering searches.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::engine::{SearchEngine, SearchError};
use super::model::{CategoryCount, SearchParams, SearchResults};
use crate::catalog::model::Page;
use crate::catalog::{repo, service as catalog};
use crate::error::AppError;
use crate::events::Event;
use crate::shard::ShardId;
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

/// How soon a change should reach search results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// An admin's edit, a deletion, units back on sale or a restock: at the next update.
    Prompt,
    /// Stock taken by a hold: a sale makes hundreds a second, so they may wait a little longer
    /// (the item's own page and checkout always see the stock as it is).
    Sale,
}

/// The item an event asks the index to read again, if any, and how soon.
pub fn changed_item(event: &Event) -> Option<(ItemId, Urgency)> {
    match event {
        Event::ItemChanged { item_id, .. } | Event::ItemDeleted { item_id, .. } => {
            Some((*item_id, Urgency::Prompt))
        }
        Event::StockHeld { item_id, .. } => Some((*item_id, Urgency::Sale)),
        Event::CategoryChanged { .. } | Event::OrderChanged { .. } => None,
    }
}

/// Brings these items up to date in the index: each is read again from its shard (events only
/// say which changed), so a replayed or reordered event cannot index stale data. One query per
/// shard and one commit for the lot; the commit (a new searcher) runs off the async workers. The
/// search answers this copy keeps for visitors go once the change is searchable.
pub async fn reindex(state: &AppState, changed: &BTreeSet<ItemId>) -> Result<(), AppError> {
    if changed.is_empty() {
        return Ok(());
    }
    let mut per_shard: BTreeMap<ShardId, Vec<ItemId>> = BTreeMap::new();
    for id in changed {
        per_shard.entry(id.shard()).or_default().push(*id);
    }
    for (shard, ids) in per_shard {
        let locals: Vec<u64> = ids.iter().map(ItemId::local).collect();
        let database = state.shards.shard(shard)?;
        let mut connection = database.acquire().await?;
        let found = repo::items_by_ids(&mut connection, shard, &locals)
            .await
            .map_err(|e| AppError::from(database.error(e)))?;
        drop(connection);
        let gone: Vec<ItemId> = ids
            .into_iter()
            .filter(|id| !found.iter().any(|item| item.id == *id))
            .collect();
        state.search.upsert(&found)?;
        state.search.remove(&gone)?;
    }
    let engine: Arc<dyn SearchEngine> = state.search.clone();
    tokio::task::spawn_blocking(move || engine.commit())
        .await
        .map_err(AppError::internal)??;
    state.pages.forget_searches();
    Ok(())
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
    let names = catalog::categories(state).await?;
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
