//! The catalog's rules.
//!
//! Invariants kept here:
//! - an item lives on its category's shard, and its ID says so;
//! - every change of an item's stock writes a ledger row (`stock_movements`) in the same
//!   transaction, so the ledger always sums to the stock, and stock is never negative;
//! - every change writes an event to the outbox of its database in the same transaction;
//! - after a commit the writer drops the cached copy; the event drops it on every other copy.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::error::ErrorKind;

use super::cache;
use super::model::{
    Category, CategoryId, CategoryInput, Item, ItemInput, ItemPatchInput, ItemSort, MAX_STOCK,
    Page, PageRequest, StockCause, StockChange, StockChangeInput, StockMovement,
};
use super::repo;
use crate::error::AppError;
use crate::events::{self, Event};
use crate::redis_store::Redis;
use crate::shard::ShardId;
use crate::shard::id::ItemId;
use crate::shard::pool::Tx;
use crate::shard::router::Database;
use crate::state::AppState;

/// The current time as the database stores it (microseconds), so what a write returns equals what
/// a later read gives.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Maps a driver error on `database` to the error a client sees.
fn db(database: &Database) -> impl Fn(sqlx::Error) -> AppError + '_ {
    move |error| database.error(error).into()
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.kind() == ErrorKind::UniqueViolation)
}

/// Every category, by name (cached).
pub async fn list_categories(state: &AppState) -> Result<Vec<Category>, AppError> {
    Ok(categories(state).await?.as_ref().clone())
}

/// Every category, by name: this copy's copy (`memo`), else Redis's, else the directory's.
pub async fn categories(state: &AppState) -> Result<Arc<Vec<Category>>, AppError> {
    if let Some(kept) = state.categories.get() {
        return Ok(kept);
    }
    let generation = state.categories.generation();
    let list = match cache::categories(&state.redis).await {
        Some(categories) => Arc::new(categories),
        None => {
            let directory = state.shards.directory();
            let mut connection = directory.acquire().await?;
            let categories = repo::list_categories(&mut connection)
                .await
                .map_err(db(directory))?;
            cache::put_categories(&state.redis, &categories).await;
            Arc::new(categories)
        }
    };
    state.categories.put(generation, Arc::clone(&list));
    Ok(list)
}

/// Drops every cached category list (this copy's and Redis's) and the pages this copy keeps.
async fn forget_categories(state: &AppState) {
    state.categories.forget();
    cache::forget_categories(&state.redis).await;
    // Every kept page names categories (an item's breadcrumb, a listing's title).
    state.pages.forget_all();
}

/// One category.
pub async fn category(state: &AppState, id: CategoryId) -> Result<Category, AppError> {
    if let Some(found) = categories(state).await?.iter().find(|c| c.id == id) {
        return Ok(found.clone());
    }
    // The cached list may predate a category another copy just created.
    let directory = state.shards.directory();
    let mut connection = directory.acquire().await?;
    repo::get_category(&mut connection, id)
        .await
        .map_err(db(directory))?
        .ok_or_else(|| AppError::not_found("category"))
}

/// The category with this address.
pub async fn category_by_slug(state: &AppState, slug: &str) -> Result<Category, AppError> {
    categories(state)
        .await?
        .iter()
        .find(|c| c.slug == slug)
        .cloned()
        .ok_or_else(|| AppError::not_found("category"))
}

/// The shard with the fewest categories (the lowest-numbered among equals): where a new category
/// goes.
async fn least_loaded_shard(state: &AppState) -> Result<ShardId, AppError> {
    let directory = state.shards.directory();
    let mut connection = directory.acquire().await?;
    let counts = repo::categories_per_shard(&mut connection)
        .await
        .map_err(db(directory))?;
    state
        .shards
        .shards()
        .map(|(shard, _)| {
            let count = counts
                .iter()
                .find(|(number, _)| *number == shard.number())
                .map_or(0, |(_, count)| *count);
            (count, shard)
        })
        .min()
        .map(|(_, shard)| shard)
        .ok_or_else(|| AppError::internal("the shard map has no shards"))
}

fn duplicate_category(error: &sqlx::Error) -> Option<AppError> {
    is_unique_violation(error)
        .then(|| AppError::conflict("name", "a category with this name already exists"))
}

/// Creates a category on the least loaded shard.
pub async fn create_category(
    state: &AppState,
    input: &CategoryInput,
) -> Result<Category, AppError> {
    let new = input.parse()?;
    let shard = least_loaded_shard(state).await?;
    let directory = state.shards.directory();
    let mut tx = directory.begin().await?;
    let id = match repo::insert_category(&mut tx, &new, shard).await {
        Ok(id) => id,
        Err(error) => {
            return Err(duplicate_category(&error).unwrap_or_else(|| db(directory)(error)));
        }
    };
    events::record(&mut tx, &Event::CategoryChanged { category_id: id })
        .await
        .map_err(db(directory))?;
    tx.commit().await.map_err(db(directory))?;
    forget_categories(state).await;
    tracing::info!(category_id = id.0, %shard, "category created");
    Ok(Category {
        id,
        slug: new.slug,
        name: new.name,
        shard,
    })
}

/// Renames a category (its shard never changes).
pub async fn rename_category(
    state: &AppState,
    id: CategoryId,
    input: &CategoryInput,
) -> Result<Category, AppError> {
    let new = input.parse()?;
    let directory = state.shards.directory();
    let mut tx = directory.begin().await?;
    let renamed = match repo::rename_category(&mut tx, id, &new).await {
        Ok(renamed) => renamed,
        Err(error) => {
            return Err(duplicate_category(&error).unwrap_or_else(|| db(directory)(error)));
        }
    };
    if !renamed {
        return Err(AppError::not_found("category"));
    }
    events::record(&mut tx, &Event::CategoryChanged { category_id: id })
        .await
        .map_err(db(directory))?;
    let category = repo::get_category(&mut tx, id)
        .await
        .map_err(db(directory))?
        .ok_or_else(|| AppError::not_found("category"))?;
    tx.commit().await.map_err(db(directory))?;
    forget_categories(state).await;
    Ok(category)
}

/// The end of every admin item write: records the item's event, reads the item back as committed,
/// and commits, so the change, its event and the answer are one; then drops the category's cached
/// listing.
async fn commit_item_change(
    mut tx: Tx,
    shard: &Database,
    redis: &Redis,
    id: ItemId,
    category_id: CategoryId,
) -> Result<Item, AppError> {
    events::record(
        &mut tx,
        &Event::ItemChanged {
            item_id: id,
            category_id,
        },
    )
    .await
    .map_err(db(shard))?;
    let item = repo::get_item(&mut tx, id)
        .await
        .map_err(db(shard))?
        .ok_or_else(|| AppError::not_found("item"))?;
    tx.commit().await.map_err(db(shard))?;
    cache::forget_listing(redis, category_id).await;
    Ok(item)
}

/// Creates an item on its category's shard, with its initial stock in the ledger.
pub async fn create_item(state: &AppState, input: &ItemInput) -> Result<Item, AppError> {
    let new = input.parse()?;
    let category = match category(state, new.category_id).await {
        Err(AppError::NotFound { .. }) => {
            return Err(AppError::invalid("category_id", "no such category"));
        }
        other => other?,
    };
    let shard = state.shards.shard(category.shard)?;
    let now = now();
    // One transaction: the item, its first ledger row and its event exist together or not at all.
    let mut tx = shard.begin().await?;
    let local = repo::insert_item(&mut tx, &new, now)
        .await
        .map_err(db(shard))?;
    let id = ItemId::new(category.shard, local).map_err(AppError::internal)?;
    repo::insert_movement(
        &mut tx,
        id,
        i64::from(new.stock),
        new.stock,
        StockCause::AdminSet,
        "initial stock",
        now,
    )
    .await
    .map_err(db(shard))?;
    let item = commit_item_change(tx, shard, &state.redis, id, category.id).await?;
    tracing::info!(item_id = %id, shard = %category.shard, "item created");
    Ok(item)
}

/// An item (cached).
pub async fn item(state: &AppState, id: ItemId) -> Result<Item, AppError> {
    if let Some(item) = cache::item(&state.redis, &id).await {
        return Ok(item);
    }
    item_from_database(state, id).await
}

/// Adds the read of an item's cached copy to `pipe` (see [`item_from_entry`]).
pub fn cached_item_in(pipe: &mut redis::Pipeline, state: &AppState, id: ItemId) {
    cache::item_in(pipe, &state.redis, &id);
}

/// An item as [`item_from_entry`] found it.
pub struct FoundItem {
    pub item: Item,
    /// Read from its shard on a miss, and not cached yet.
    uncached: bool,
}

impl FoundItem {
    /// Adds caching the item, if it was read from its shard, to `pipe`: the caller's next round
    /// trip carries it.
    pub fn cache_in(&self, pipe: &mut redis::Pipeline, state: &AppState) {
        if self.uncached {
            cache::put_item_in(pipe, &state.redis, &self.item);
        }
    }

    /// Caches the item, if it was read from its shard, in a round trip of its own.
    pub async fn cache(&self, state: &AppState) {
        if self.uncached {
            cache::put_item(&state.redis, &self.item).await;
        }
    }
}

/// An item from its cache entry as read by [`cached_item_in`]: from its shard on a miss, left for
/// the caller to cache (see [`FoundItem`]).
pub async fn item_from_entry(
    state: &AppState,
    id: ItemId,
    entry: Option<String>,
) -> Result<FoundItem, AppError> {
    if let Some(item) = cache::item_found(&state.redis, &id, entry) {
        return Ok(FoundItem {
            item,
            uncached: false,
        });
    }
    Ok(FoundItem {
        item: read_item(state, id).await?,
        uncached: true,
    })
}

/// Several items (cached), read from the cache in one round trip and the misses from their
/// shards in one query each, then cached in one more round trip: those found, by ID. An ID
/// missing from the answer names no item.
pub async fn items(
    state: &AppState,
    ids: impl IntoIterator<Item = ItemId>,
) -> Result<BTreeMap<ItemId, Item>, AppError> {
    let ids: Vec<ItemId> = ids.into_iter().collect();
    let entries = cache::item_entries(&state.redis, &ids).await;
    items_from_entries(state, ids.into_iter().zip(entries)).await
}

/// Items from their cache entries as a caller read them in a round trip of its own (`None` for a
/// miss): the misses are read from their shards (one query a shard) and cached (one round trip).
/// An item in neither place is left out.
pub async fn items_from_entries(
    state: &AppState,
    entries: impl IntoIterator<Item = (ItemId, Option<String>)>,
) -> Result<BTreeMap<ItemId, Item>, AppError> {
    let mut found = BTreeMap::new();
    let mut missed: BTreeMap<ShardId, Vec<u64>> = BTreeMap::new();
    for (id, entry) in entries {
        match cache::item_found(&state.redis, &id, entry) {
            Some(item) => {
                found.insert(id, item);
            }
            None => missed.entry(id.shard()).or_default().push(id.local()),
        }
    }
    let mut to_cache = redis::pipe();
    for (shard, locals) in missed {
        let database = state.shards.shard(shard)?;
        let mut connection = database.acquire().await?;
        let read = repo::items_by_ids(&mut connection, shard, &locals)
            .await
            .map_err(db(database))?;
        drop(connection);
        for item in read {
            cache::put_item_in(&mut to_cache, &state.redis, &item);
            found.insert(item.id, item);
        }
    }
    if !to_cache.is_empty() {
        let cached: redis::RedisResult<()> =
            to_cache.query_async(&mut state.redis.connection()).await;
        if let Err(error) = cached {
            tracing::debug!(%error, "items not cached; read from their shards next time too");
        }
    }
    Ok(found)
}

/// An item read from its shard, and cached.
async fn item_from_database(state: &AppState, id: ItemId) -> Result<Item, AppError> {
    let item = read_item(state, id).await?;
    cache::put_item(&state.redis, &item).await;
    Ok(item)
}

/// An item read from its shard.
async fn read_item(state: &AppState, id: ItemId) -> Result<Item, AppError> {
    let shard = state.shards.for_id(&id)?;
    let mut connection = shard.acquire().await?;
    repo::get_item(&mut connection, id)
        .await
        .map_err(db(shard))?
        .ok_or_else(|| AppError::not_found("item"))
}

/// Changes the fields a patch names.
pub async fn update_item(
    state: &AppState,
    id: ItemId,
    input: &ItemPatchInput,
) -> Result<Item, AppError> {
    let patch = input.parse()?;
    let shard = state.shards.for_id(&id)?;
    // The row is locked from read to write so two edits cannot interleave.
    let mut tx = shard.begin().await?;
    let current = repo::lock_item(&mut tx, id)
        .await
        .map_err(db(shard))?
        .ok_or_else(|| AppError::not_found("item"))?;
    let updated = patch.apply(&current)?;
    repo::update_item(&mut tx, &updated, now())
        .await
        .map_err(db(shard))?;
    let item = commit_item_change(tx, shard, &state.redis, id, current.category_id).await?;
    forget_cached_items(state, &[id]).await;
    Ok(item)
}

/// Removes an item from the shop. Its row stays for the ledger and the orders that name it.
pub async fn delete_item(state: &AppState, id: ItemId) -> Result<(), AppError> {
    let shard = state.shards.for_id(&id)?;
    let mut tx = shard.begin().await?;
    let current = repo::lock_item(&mut tx, id)
        .await
        .map_err(db(shard))?
        .ok_or_else(|| AppError::not_found("item"))?;
    repo::delete_item(&mut tx, id, now())
        .await
        .map_err(db(shard))?;
    events::record(
        &mut tx,
        &Event::ItemDeleted {
            item_id: id,
            category_id: current.category_id,
        },
    )
    .await
    .map_err(db(shard))?;
    tx.commit().await.map_err(db(shard))?;
    forget_cached_items(state, &[id]).await;
    cache::forget_listing(&state.redis, current.category_id).await;
    tracing::info!(item_id = %id, "item deleted");
    Ok(())
}

/// Sets or adjusts an item's stock, with a ledger row for the change.
pub async fn change_stock(
    state: &AppState,
    id: ItemId,
    input: &StockChangeInput,
) -> Result<(Item, StockMovement), AppError> {
    let change = input.parse()?;
    let shard = state.shards.for_id(&id)?;
    let now = now();
    // Lock, compute, write the level and its ledger row: one transaction, so concurrent changes
    // queue on the row and the ledger always sums to the stock.
    let mut tx = shard.begin().await?;
    let current = repo::lock_item(&mut tx, id)
        .await
        .map_err(db(shard))?
        .ok_or_else(|| AppError::not_found("item"))?;
    let (level, delta, cause, reason) = match change {
        StockChange::Set { level, reason } => (
            level,
            i64::from(level) - i64::from(current.stock),
            StockCause::AdminSet,
            reason,
        ),
        StockChange::Adjust { delta, reason } => {
            let level = i64::from(current.stock) + delta;
            if level < 0 {
                return Err(AppError::conflict(
                    "quantity",
                    format!(
                        "only {} in stock: cannot remove {}",
                        current.stock,
                        delta.unsigned_abs()
                    ),
                ));
            }
            let level = u32::try_from(level)
                .ok()
                .filter(|level| *level <= MAX_STOCK)
                .ok_or_else(|| {
                    AppError::invalid(
                        "quantity",
                        format!("the stock would exceed {MAX_STOCK} units"),
                    )
                })?;
            (level, delta, StockCause::AdminAdjust, reason)
        }
    };
    repo::write_stock(&mut tx, id, level, now)
        .await
        .map_err(db(shard))?;
    let movement_id = repo::insert_movement(&mut tx, id, delta, level, cause, &reason, now)
        .await
        .map_err(db(shard))?;
    let item = commit_item_change(tx, shard, &state.redis, id, current.category_id).await?;
    forget_cached_items(state, &[id]).await;
    tracing::info!(item_id = %id, delta, stock = level, cause = cause.as_str(), "stock changed");
    let movement = StockMovement {
        id: movement_id,
        delta,
        stock_after: level,
        cause,
        reason,
        created_at: now,
    };
    Ok((item, movement))
}

/// One page of an item's stock ledger, newest first.
pub async fn stock_movements(
    state: &AppState,
    id: ItemId,
    page: PageRequest,
) -> Result<Page<StockMovement>, AppError> {
    let shard = state.shards.for_id(&id)?;
    let mut connection = shard.acquire().await?;
    repo::get_item(&mut connection, id)
        .await
        .map_err(db(shard))?
        .ok_or_else(|| AppError::not_found("item"))?;
    let (items, total) = repo::list_movements(&mut connection, id, page.offset(), page.per_page)
        .await
        .map_err(db(shard))?;
    Ok(Page {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    })
}

/// One page of a category's items.
pub async fn category_items(
    state: &AppState,
    category: &Category,
    sort: ItemSort,
    page: PageRequest,
) -> Result<Page<Item>, AppError> {
    let (offset, limit) = (page.offset(), page.per_page);
    if let Some(cached) = cache::listing(&state.redis, category.id, sort, offset, limit).await {
        return Ok(cached);
    }
    let shard = state.shards.shard(category.shard)?;
    let mut connection = shard.acquire().await?;
    let (items, total) = repo::list_items(
        &mut connection,
        category.shard,
        category.id,
        sort,
        offset,
        limit,
    )
    .await
    .map_err(db(shard))?;
    let listed = Page {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    };
    cache::put_listing(&state.redis, category.id, sort, offset, limit, &listed).await;
    Ok(listed)
}

/// The newest items in stock across every shard. A shard that does not answer is left out: the
/// home page shows what it can.
pub async fn featured_items(state: &AppState, limit: u32) -> Result<Vec<Item>, AppError> {
    let results = state
        .shards
        .scatter(|shard, database| async move {
            let mut connection = database.acquire().await?;
            repo::newest_in_stock(&mut connection, shard, limit)
                .await
                .map_err(|e| database.error(e))
        })
        .await;
    let mut items = Vec::new();
    for (shard, result) in results {
        match result {
            Ok(found) => items.extend(found),
            Err(error) => tracing::warn!(%shard, %error, "featured items: shard left out"),
        }
    }
    items.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(items)
}

/// Items whose stock differs from their ledger's sum, on every shard: always empty unless an
/// invariant broke. A shard that cannot be read is an error: an audit must not pass by omission.
pub async fn ledger_mismatches(state: &AppState) -> Result<Vec<(ItemId, i64, i64)>, AppError> {
    let results = state
        .shards
        .scatter(|shard, database| async move {
            let mut connection = database.acquire().await?;
            repo::ledger_mismatches(&mut connection, shard)
                .await
                .map_err(|e| database.error(e))
        })
        .await;
    let mut mismatches = Vec::new();
    for (_, result) in results {
        mismatches.extend(result?);
    }
    Ok(mismatches)
}

/// Drops these items' cached copies after changes made outside this module (units given back,
/// sales), in one round trip.
pub async fn forget_cached_items(state: &AppState, ids: &[ItemId]) {
    if let Err(error) = forget_cached_items_with(state, ids, redis::pipe()).await {
        tracing::warn!(%error, "cached items not dropped; they expire");
    }
}

/// Drops these items' cached copies: their Redis entries, sent in `pipe` with what the caller
/// put in it, then the pages this copy keeps of them (see `kept_pages`), so that no page made from
/// an entry that was about to go is kept.
pub async fn forget_cached_items_with(
    state: &AppState,
    ids: &[ItemId],
    mut pipe: redis::Pipeline,
) -> redis::RedisResult<()> {
    cache::forget_items_in(&mut pipe, &state.redis, ids);
    let sent = if pipe.is_empty() {
        Ok(())
    } else {
        pipe.query_async(&mut state.redis.connection()).await
    };
    state.pages.forget_items(ids);
    sent
}

/// How long the stream's follower waits for a shard's stock of held items: past it, their cached
/// copies are dropped, so that a dead or swamped shard does not hold back every other change's
/// invalidation behind it.
const HELD_STOCK_WITHIN: Duration = Duration::from_millis(250);

/// The stock of these items on their shards now, one query a shard, the shards at once: (item,
/// units). An item deleted meanwhile, or on a shard that did not answer within
/// [`HELD_STOCK_WITHIN`], is left out.
async fn held_stock(state: &AppState, ids: &[ItemId]) -> Vec<(ItemId, u32)> {
    let mut by_shard: BTreeMap<ShardId, Vec<u64>> = BTreeMap::new();
    for id in ids {
        by_shard.entry(id.shard()).or_default().push(id.local());
    }
    let reads = by_shard.into_iter().map(|(shard, locals)| async move {
        let read = async {
            let database = state.shards.shard(shard)?;
            let mut connection = database.acquire().await?;
            let read: Result<_, AppError> = repo::stocks_by_ids(&mut connection, &locals)
                .await
                .map_err(db(database));
            read
        };
        (shard, tokio::time::timeout(HELD_STOCK_WITHIN, read).await)
    });
    let mut stocks = Vec::with_capacity(ids.len());
    for (shard, read) in futures_util::future::join_all(reads).await {
        match read {
            Ok(Ok(read)) => stocks.extend(
                read.into_iter()
                    .filter_map(|(local, stock)| Some((ItemId::new(shard, local).ok()?, stock))),
            ),
            Ok(Err(error)) => {
                tracing::warn!(%shard, %error, "held items' stock unread; their cached copies go");
            }
            Err(_) => {
                tracing::warn!(%shard, "held items' stock not read in time; their cached copies go");
            }
        }
    }
    stocks
}

/// Applies a batch of events from the stream: drops what this copy's readers could see stale and
/// lowers the stock of held items' cached copies to their shards' (see `cache`), every key in one
/// round trip.
pub async fn apply_events(state: &AppState, events: &[Event]) {
    let mut items = Vec::new();
    let mut held = Vec::new();
    let mut gates = Vec::new();
    for event in events {
        match event {
            Event::CategoryChanged { .. } => forget_categories(state).await,
            Event::ItemChanged { item_id, .. } | Event::ItemDeleted { item_id, .. } => {
                items.push(*item_id);
                gates.push(*item_id);
            }
            // The gate's count took the held units when it admitted the checkout (one admitted
            // without it can only leave the count too high, which the database corrects): dropping
            // it would let the crowd behind through to the row until it is set again.
            Event::StockHeld { item_id, .. } => held.push(*item_id),
            Event::OrderChanged { .. } => {}
        }
    }
    if items.is_empty() && held.is_empty() {
        return;
    }
    held.sort_unstable();
    held.dedup();
    let stocks = held_stock(state, &held).await;
    // A held item whose stock was not read (deleted, or its shard down) has its copy dropped.
    let read: BTreeSet<ItemId> = stocks.iter().map(|(id, _)| *id).collect();
    items.extend(held.iter().filter(|id| !read.contains(id)));
    let mut pipe = redis::pipe();
    crate::checkout::gate::forget_in(&mut pipe, &state.redis, &gates);
    cache::lower_stock_in(&mut pipe, &state.redis, &stocks);
    if let Err(error) = forget_cached_items_with(state, &items, pipe).await {
        tracing::warn!(%error, "cached items not dropped or lowered; they expire");
    }
    // After the entries were lowered: no page made from one before is kept.
    state.pages.forget_items(&held);
}
