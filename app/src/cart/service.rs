//! The cart's rules: whose cart a request means, what it holds now (re-read against the catalog
//! each time), and the bounds on it.

use std::collections::BTreeMap;

use http::HeaderValue;
use http::request::Parts;
use rust_decimal::Decimal;

use super::model::{Cart, CartLine, CartTotal, MAX_LINES, MAX_QUANTITY};
use super::store::{self, Change, Owner, Put, Stored};
use crate::accounts::model::{User, UserId};
use crate::catalog::model::Item;
use crate::catalog::service as catalog;
use crate::error::AppError;
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
    let user = crate::accounts::service::authenticate(state, parts).await?;
    Ok(owner_of(user, parts))
}

/// The cart of `user`, the request's signed-in account if any, else the visitor cookie's.
fn owner_of(user: Option<User>, parts: &Parts) -> Option<Owner> {
    match user {
        Some(user) => Some(Owner::User(user.id)),
        None => visitor_id(parts).map(Owner::Visitor),
    }
}

/// The cart a write goes to, `owner` if there is one; a visitor without a cart gets one, and the
/// cookie to send.
fn or_new_visitor(
    owner: Option<Owner>,
    parts: &Parts,
) -> Result<(Owner, Option<HeaderValue>), AppError> {
    if let Some(owner) = owner {
        return Ok((owner, None));
    }
    let id = format!("{:032x}", rand::random::<u128>());
    let cookie = crate::request::set_cookie(parts, COOKIE_NAME, &id, COOKIE_MAX_AGE_S)?;
    Ok((Owner::Visitor(id), Some(cookie)))
}

/// The cart a write goes to; a visitor without a cart gets one, and the cookie to send.
pub async fn owner_for_write(
    state: &AppState,
    parts: &Parts,
) -> Result<(Owner, Option<HeaderValue>), AppError> {
    or_new_visitor(owner(state, parts).await?, parts)
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

/// Changes one line of the cart a request's write goes to (a visitor without a cart gets one, and
/// the cookie to send): `Set(0)` takes it out. An item that is sold out cannot be added; one with
/// less stock than asked is added with a warning (checkout decides). The session and the item's
/// cached copy are read in one round trip, and the line is written, checked against the cart's
/// bounds and read back with the rest of the cart in one more.
pub async fn change_line(
    state: &AppState,
    parts: &Parts,
    id: ItemId,
    change: Change,
) -> Result<(Cart, Option<HeaderValue>), AppError> {
    match change {
        Change::Set(0) => {
            let (owner, cookie) = owner_for_write(state, parts).await?;
            return Ok((remove_line(state, &owner, id).await?, cookie));
        }
        Change::Set(quantity) if quantity > MAX_QUANTITY => {
            return Err(AppError::invalid(
                "quantity",
                format!("at most {MAX_QUANTITY} of one item"),
            ));
        }
        Change::Add(0) => return Err(AppError::invalid("quantity", "must be at least 1")),
        Change::Set(_) | Change::Add(_) => {}
    }
    let (user, (entry,)) = crate::accounts::service::authenticate_with(state, parts, |pipe| {
        catalog::cached_item_in(pipe, state, id);
    })
    .await?;
    let (owner, cookie) = or_new_visitor(owner_of(user, parts), parts)?;
    let found = catalog::item_from_entry(state, id, entry).await?;
    // A sold-out item's crowd keeps asking: the copy read from its shard is cached anyway.
    found.cache(state).await;
    let item = found.item;
    let put = store::put(
        &state.redis,
        &owner,
        id,
        change,
        item.price,
        item.stock == 0,
    )
    .await?;
    let lines = match put {
        Put::Written(lines) => lines,
        Put::TooMany { already } => {
            return Err(AppError::invalid(
                "quantity",
                format!("at most {MAX_QUANTITY} of one item ({already} already in the cart)"),
            ));
        }
        Put::Full => {
            return Err(AppError::conflict(
                "item_id",
                format!("a cart holds at most {MAX_LINES} different items"),
            ));
        }
        Put::SoldOut => return Err(AppError::conflict("item_id", "this item is sold out")),
    };
    let mut items =
        catalog::items(state, lines.keys().copied().filter(|other| *other != id)).await?;
    items.insert(id, item);
    Ok((priced(state, &owner, lines, items).await?, cookie))
}

/// Takes an item's line out of the cart.
pub async fn remove_line(state: &AppState, owner: &Owner, id: ItemId) -> Result<Cart, AppError> {
    let mut existing = store::lines(&state.redis, owner).await?;
    store::remove(&state.redis, owner, &[id]).await?;
    existing.remove(&id);
    let items = catalog::items(state, existing.keys().copied()).await?;
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
