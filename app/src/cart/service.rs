//! The cart's rules: whose cart a request means, what it holds now (re-read against the catalog
//! each time), and the bounds on it.

use std::collections::BTreeMap;

use http::HeaderValue;
use http::request::Parts;
use rust_decimal::Decimal;

use super::model::{Cart, CartLine, CartTotal, MAX_LINES, MAX_QUANTITY};
use super::store::{self, Owner, Stored};
use crate::accounts::model::UserId;
use crate::catalog::model::Item;
use crate::catalog::service as catalog;
use crate::error::AppError;
use crate::redis_store::RedisError;
use crate::shard::id::ItemId;
use crate::state::AppState;

/// The visitor cart's cookie.
pub const COOKIE_NAME: &str = "surge_cart";
/// How long a visitor's cart cookie lasts.
const COOKIE_MAX_AGE_S: u64 = 30 * 24 * 3600;

fn visitor_id(parts: &Parts) -> Option<String> {
    crate::request::cookie(parts, COOKIE_NAME)
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The cart a request means: the signed-in customer's, else the visitor cookie's, if any.
pub async fn owner(state: &AppState, parts: &Parts) -> Result<Option<Owner>, AppError> {
    if let Some(user) = crate::accounts::service::authenticate(state, parts).await? {
        return Ok(Some(Owner::User(user.id)));
    }
    Ok(visitor_id(parts).map(Owner::Visitor))
}

/// The cart a write goes to; a visitor without a cart gets one, and the cookie to send.
pub async fn owner_for_write(
    state: &AppState,
    parts: &Parts,
) -> Result<(Owner, Option<HeaderValue>), AppError> {
    if let Some(owner) = owner(state, parts).await? {
        return Ok((owner, None));
    }
    let id = format!("{:032x}", rand::random::<u128>());
    let cookie = crate::request::set_cookie(parts, COOKIE_NAME, &id, COOKIE_MAX_AGE_S)?;
    Ok((Owner::Visitor(id), Some(cookie)))
}

/// The cart as it is now: every line re-read from the catalog (cached), with its warnings. Lines
/// whose item no longer exists are taken out.
pub async fn view(state: &AppState, owner: Option<&Owner>) -> Result<Cart, AppError> {
    let Some(owner) = owner else {
        return Ok(Cart::default());
    };
    let stored = store::lines(&state.redis, owner).await?;
    let items = catalog::items(state, stored.keys().copied()).await?;
    priced(state, owner, stored, items).await
}

/// The cart of the `stored` lines, each priced with its item from `items` (the catalog's now). A
/// line whose item is not in `items` no longer exists, and is taken out.
async fn priced(
    state: &AppState,
    owner: &Owner,
    stored: BTreeMap<ItemId, Stored>,
    mut items: BTreeMap<ItemId, Item>,
) -> Result<Cart, AppError> {
    let mut lines = Vec::with_capacity(stored.len());
    let mut gone = Vec::new();
    for (id, line) in stored {
        let Some(item) = items.remove(&id) else {
            gone.push(id);
            continue;
        };
        let line_total = item.price * Decimal::from(line.quantity);
        lines.push(CartLine {
            only_left: (item.stock < line.quantity).then_some(item.stock),
            price_changed: item.price != line.price,
            price_when_added: line.price,
            quantity: line.quantity,
            line_total,
            item,
        });
    }
    store::remove(&state.redis, owner, &gone).await?;
    let mut totals: BTreeMap<_, Decimal> = BTreeMap::new();
    for line in &lines {
        *totals.entry(line.item.currency).or_default() += line.line_total;
    }
    Ok(Cart {
        lines,
        totals: totals
            .into_iter()
            .map(|(currency, amount)| CartTotal { currency, amount })
            .collect(),
        removed: u32::try_from(gone.len()).unwrap_or(u32::MAX),
    })
}

/// Sets how many of an item the cart holds (0 takes it out). An item that is sold out cannot be
/// added; one with less stock than asked is added with a warning (checkout decides).
pub async fn set_quantity(
    state: &AppState,
    owner: &Owner,
    id: ItemId,
    quantity: u32,
) -> Result<Cart, AppError> {
    if quantity > MAX_QUANTITY {
        return Err(AppError::invalid(
            "quantity",
            format!("at most {MAX_QUANTITY} of one item"),
        ));
    }
    if quantity == 0 {
        let mut existing = store::lines(&state.redis, owner).await?;
        store::remove(&state.redis, owner, &[id]).await?;
        existing.remove(&id);
        let items = catalog::items(state, existing.keys().copied()).await?;
        return priced(state, owner, existing, items).await;
    }
    let (existing, entry) = lines_and_item(state, owner, id).await?;
    set_line(state, owner, existing, id, entry, quantity).await
}

/// Adds units of an item to what the cart holds.
pub async fn add(
    state: &AppState,
    owner: &Owner,
    id: ItemId,
    quantity: u32,
) -> Result<Cart, AppError> {
    if quantity == 0 {
        return Err(AppError::invalid("quantity", "must be at least 1"));
    }
    let (existing, entry) = lines_and_item(state, owner, id).await?;
    let current = existing.get(&id).map_or(0, |line| line.quantity);
    let wanted = current + quantity;
    if wanted > MAX_QUANTITY {
        return Err(AppError::invalid(
            "quantity",
            format!("at most {MAX_QUANTITY} of one item ({current} already in the cart)"),
        ));
    }
    set_line(state, owner, existing, id, entry, wanted).await
}

/// The cart's lines and the item's cache entry, in one round trip.
async fn lines_and_item(
    state: &AppState,
    owner: &Owner,
    id: ItemId,
) -> Result<(BTreeMap<ItemId, Stored>, Option<String>), AppError> {
    let mut pipe = redis::pipe();
    store::lines_in(&mut pipe, &state.redis, owner);
    catalog::cached_item_in(&mut pipe, state, id);
    let (lines, entry): (BTreeMap<String, String>, Option<String>) = pipe
        .query_async(&mut state.redis.connection())
        .await
        .map_err(RedisError::from)?;
    Ok((store::parse(lines), entry))
}

/// Sets the line of item `id` to `quantity` (at least 1) in the cart whose lines were just read
/// (`existing`), with the item's cache entry read with them. The cart answered is built from
/// them and the write, not read again.
async fn set_line(
    state: &AppState,
    owner: &Owner,
    mut existing: BTreeMap<ItemId, Stored>,
    id: ItemId,
    entry: Option<String>,
    quantity: u32,
) -> Result<Cart, AppError> {
    let found = catalog::item_from_entry(state, id, entry).await?;
    let previous = existing.get(&id);
    let refused = match previous {
        Some(_) => None,
        None if existing.len() >= MAX_LINES => Some(AppError::conflict(
            "item_id",
            format!("a cart holds at most {MAX_LINES} different items"),
        )),
        None if found.item.stock == 0 => {
            Some(AppError::conflict("item_id", "this item is sold out"))
        }
        None => None,
    };
    if let Some(refused) = refused {
        // A sold-out item's crowd keeps asking: the copy read from its shard is cached anyway.
        found.cache(state).await;
        return Err(refused);
    }
    // The price remembered is the one the shopper saw when first adding the item.
    let price = previous.map_or(found.item.price, |line| line.price);
    let line = Stored { quantity, price };
    // The line written and, on a cache miss, the item cached, in one round trip.
    let mut pipe = redis::pipe();
    store::set_in(&mut pipe, &state.redis, owner, id, line);
    found.cache_in(&mut pipe, state);
    let () = pipe
        .query_async(&mut state.redis.connection())
        .await
        .map_err(RedisError::from)?;
    existing.insert(id, line);
    let mut items =
        catalog::items(state, existing.keys().copied().filter(|other| *other != id)).await?;
    items.insert(id, found.item);
    priced(state, owner, existing, items).await
}

/// Empties the cart.
pub async fn clear(state: &AppState, owner: &Owner) -> Result<(), AppError> {
    Ok(store::clear(&state.redis, owner).await?)
}

/// At sign-in: moves a visitor's cart into the account's (quantities add up, to the bound) and
/// returns the cookie that forgets the visitor cart.
pub async fn merge_at_sign_in(
    state: &AppState,
    parts: &Parts,
    user: UserId,
) -> Result<Option<HeaderValue>, AppError> {
    let Some(visitor) = visitor_id(parts).map(Owner::Visitor) else {
        return Ok(None);
    };
    let account = Owner::User(user);
    let theirs = store::lines(&state.redis, &visitor).await?;
    let mine = store::lines(&state.redis, &account).await?;
    let mut lines = mine.len();
    for (id, line) in theirs {
        let (quantity, price) = match mine.get(&id) {
            Some(existing) => (existing.quantity + line.quantity, existing.price),
            None if lines >= MAX_LINES => continue,
            None => {
                lines += 1;
                (line.quantity, line.price)
            }
        };
        let quantity = quantity.min(MAX_QUANTITY);
        store::set(&state.redis, &account, id, Stored { quantity, price }).await?;
    }
    store::clear(&state.redis, &visitor).await?;
    Ok(Some(crate::request::set_cookie(parts, COOKIE_NAME, "", 0)?))
}
