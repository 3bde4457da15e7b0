//! Checkout's rules: turning a cart into held orders, cancelling them, expiring holds, and reading
//! a customer's orders.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use sqlx::MySqlConnection;
use sqlx::mysql::MySqlDatabaseError;

use super::model::{
    Checkout, Hold, Order, OrderCursor, OrderFilter, OrderLine, OrderPage, OrderStatus,
};
use super::repo::{self, HeldUnits, NewOrder, OrderSelection, Taken};
use super::{gate, keys};
use crate::accounts::model::{Role, User, UserId};
use crate::accounts::service as accounts;
use crate::cart::store::{self, Owner};
use crate::catalog::model::{CategoryId, Item, StockCause};
use crate::catalog::repo as catalog_repo;
use crate::catalog::service as catalog;
use crate::error::AppError;
use crate::events::{self, Event};
use crate::money::Currency;
use crate::rate_limit::{self, Limit};
use crate::redis_store::RedisError;
use crate::shard::ShardId;
use crate::shard::id::{ItemId, OrderId};
use crate::shard::pool::Tx;
use crate::shard::router::{Database, DbError};
use crate::state::AppState;

/// Checkout's settings (`checkout.*` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckoutSettings {
    /// How long a checkout's stock is held for payment, in seconds.
    pub hold_seconds: u64,
    /// How many checkouts one customer may start a minute (retries included); past it, `429`.
    pub per_customer_per_minute: u64,
}

impl CheckoutSettings {
    /// The longest hold window accepted: an hour.
    pub const MAX_HOLD_SECONDS: u64 = 3600;

    /// Checks the settings; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=Self::MAX_HOLD_SECONDS).contains(&self.hold_seconds) {
            return Err(format!(
                "checkout.hold_seconds must be between 1 and {}",
                Self::MAX_HOLD_SECONDS
            ));
        }
        if self.per_customer_per_minute == 0 {
            return Err("checkout.per_customer_per_minute must be at least 1".to_owned());
        }
        Ok(())
    }

    /// The checkout rate limit: at most `per_customer_per_minute` checkouts per customer a minute.
    fn rate_limit(&self) -> Limit {
        Limit {
            scope: "checkout-customer",
            max: self.per_customer_per_minute,
            window_s: 60,
        }
    }

    fn hold_window(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.hold_seconds.clamp(1, Self::MAX_HOLD_SECONDS) as i64)
    }
}

impl Default for CheckoutSettings {
    /// Stock is held for two minutes; a customer starts 30 checkouts a minute at most, far more
    /// than a person clicks and retries, far fewer than a script holding stock in a loop.
    fn default() -> Self {
        CheckoutSettings {
            hold_seconds: 120,
            per_customer_per_minute: 30,
        }
    }
}
/// The most units of one item one customer may have in pending and placed orders together: the
/// anti-scalper limit, checked under the item's row lock in the hold's own transaction.
pub const PER_BUYER_LIMIT: u32 = 10;
/// How many times a transaction that lost a deadlock or a lock wait is tried again.
const RETRIES: u32 = 3;
/// Holds expired per transaction of the expiry job.
pub const EXPIRY_BATCH: u32 = 200;
/// How late the expiry job may be before the audit calls an active hold a broken invariant.
pub const EXPIRY_GRACE_S: i64 = 30;

pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A deadlock (1213) or a lock-wait timeout (1205): the transaction is rolled back and may be
/// tried again.
fn is_retryable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => e
            .try_downcast_ref::<MySqlDatabaseError>()
            .is_some_and(|e| matches!(e.number(), 1213 | 1205)),
        _ => false,
    }
}

/// Whether a hold failed on the unique checkout ID: its key already made an order on the shard.
fn is_checkout_taken(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => e
            .try_downcast_ref::<MySqlDatabaseError>()
            .is_some_and(|e| e.number() == 1062 && e.message().contains("orders_checkout")),
        _ => false,
    }
}

/// The checkout's ID: the same customer and idempotency key always give the same one, so a
/// retried request finds what the first made.
fn checkout_id(user: &User, key: &str) -> String {
    let digest = Sha256::digest(format!("{}:{key}", user.id.0).as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Checks an idempotency key: 8 to 64 visible ASCII characters.
pub fn parse_idempotency_key(key: Option<&str>) -> Result<String, AppError> {
    let key = key.map(str::trim).unwrap_or_default();
    if !(8..=64).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::invalid(
            "idempotency_key",
            "send 8 to 64 visible characters, new for each checkout (the Idempotency-Key header)",
        ));
    }
    Ok(key.to_owned())
}

/// One line of one shard's part of a checkout.
pub struct ShardLine {
    pub item: ItemId,
    pub category: CategoryId,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Decimal,
    /// The stock the catalog showed (maybe a moment old): orders the shards, decides nothing.
    pub seen_stock: u32,
}

/// What every shard's part of one checkout shares.
#[derive(Clone, Copy)]
pub struct Attempt<'a> {
    pub checkout_id: &'a str,
    pub customer: UserId,
    pub currency: Currency,
    /// When the holds end.
    pub expires: DateTime<Utc>,
}

/// Why one shard could not hold its lines.
pub enum ShardFailure {
    Short {
        item: ItemId,
        name: String,
        left: u32,
    },
    OverLimit {
        name: String,
        already: u32,
    },
    Error(AppError),
}

impl From<DbError> for ShardFailure {
    fn from(error: DbError) -> Self {
        ShardFailure::Error(error.into())
    }
}

/// Turns the customer's cart into one held order per shard. Either every shard holds its lines,
/// or none does: orders already made on other shards are released, and the customer learns which
/// item is short and how many are left.
pub async fn check_out(state: &AppState, user: &User, key: &str) -> Result<Checkout, AppError> {
    let checkout_id = checkout_id(user, key);
    // The customer's checkouts counted against the rate limit, the cart, and the key marked as
    // used (see `keys`), in one round trip. (A key refused by the limit stays marked: its retry
    // looks on every shard, which finds nothing, and goes on.)
    let limit = state.checkout.rate_limit();
    let mut pipe = redis::pipe();
    pipe.atomic();
    rate_limit::count_in(&mut pipe, &state.redis, limit, &user.id.0.to_string());
    store::lines_in(&mut pipe, &state.redis, &Owner::User(user.id));
    keys::mark_in(&mut pipe, &state.redis, &checkout_id);
    let (count, window_left, cart, marked): (u64, i64, BTreeMap<String, String>, Option<String>) =
        pipe.query_async(&mut state.redis.connection())
            .await
            .map_err(RedisError::from)?;
    rate_limit::verdict(limit, (count, window_left))?;
    let cart = store::parse(cart);
    let key_is_new = marked.is_some();
    // The stock gate first (see `gate`): a hot item's crowd beyond its stock is refused before any
    // database is asked, even before the idempotency lookup. (A retry of a checkout cut between
    // shards is refused too when its item sold out meanwhile: the orders the first attempt made
    // end with their holds.) The gate answers every line's item's cached copy too, in the same
    // round trip; the items it had no copy of are read from their shards.
    let lines: Vec<(ItemId, u32)> = cart.iter().map(|(id, line)| (*id, line.quantity)).collect();
    let (admissions, copies): (Vec<_>, Vec<_>) = gate::admit_lines(&state.redis, &lines)
        .await
        .into_iter()
        .map(|asked| (asked.admission, asked.copy))
        .unzip();
    let mut items =
        catalog::items_from_entries(state, lines.iter().map(|(id, _)| *id).zip(copies)).await?;
    let mut shown = BTreeMap::new();
    let mut admitted = Vec::new();
    let mut refused = None;
    for ((id, quantity), admission) in lines.into_iter().zip(admissions) {
        let item = items.remove(&id);
        let admission = match (admission, &item) {
            (Some(admission), _) => admission,
            (None, Some(item)) => gate::admit(&state.redis, id, quantity, item.stock).await,
            (None, None) => gate::Admission::Unknown,
        };
        if admission == gate::Admission::Admitted {
            admitted.push((id, quantity));
        }
        let Some(item) = item else {
            refused.get_or_insert(AppError::not_found("item"));
            continue;
        };
        if let gate::Admission::Refused { left } = admission {
            refused.get_or_insert(AppError::SoldOut {
                item: id.to_string(),
                name: item.name.clone(),
                left,
            });
        }
        shown.insert(id, item);
    }
    let checkout = match refused {
        Some(error) => Err(error),
        None => check_out_admitted(state, user, checkout_id, key_is_new, cart, shown).await,
    };
    if let Err(error) = &checkout {
        // An item the database found short has its count set from the database: nothing goes
        // back to it.
        let short = match error {
            AppError::SoldOut { item, .. } => Some(item.as_str()),
            _ => None,
        };
        for (id, quantity) in admitted {
            if short != Some(id.to_string().as_str()) {
                gate::give_back(&state.redis, id, quantity).await;
            }
        }
    }
    checkout
}

/// The checkout once the gate let every line through: `shown` is each line's item as the catalog
/// showed it; `key_is_new` whether its key was never marked as used.
async fn check_out_admitted(
    state: &AppState,
    user: &User,
    checkout_id: String,
    key_is_new: bool,
    mut cart: BTreeMap<ItemId, store::Stored>,
    mut shown: BTreeMap<ItemId, Item>,
) -> Result<Checkout, AppError> {
    let owner = Owner::User(user.id);
    // A new key made no orders: no shard is asked (the unique checkout ID guards the ones the
    // holds write to). An empty cart is a retry's, which looks everywhere.
    let existing = if key_is_new && !cart.is_empty() {
        Vec::new()
    } else {
        find_checkout(state, user, &checkout_id).await?
    };
    if !existing.is_empty() {
        if existing
            .iter()
            .all(|order| matches!(order.status, OrderStatus::Canceled | OrderStatus::Failed))
        {
            return Err(AppError::conflict(
                "idempotency_key",
                "this checkout has ended (canceled, or its hold ran out): check out again with a new key",
            ));
        }
        if !is_interrupted(&existing, &cart) {
            // A retry after success finds the orders even though the cart was emptied.
            return Ok(summary(checkout_id, existing));
        }
        // The first attempt died between shards (a crash, a lost connection): its orders are
        // there and the cart was not emptied. Hold what is missing under the same checkout.
        cart.retain(|id, _| !existing.iter().any(|order| order.id.shard() == id.shard()));
        if cart.is_empty() {
            store::clear(&state.redis, &owner).await?;
            return Ok(summary(checkout_id, existing));
        }
    }
    if cart.is_empty() {
        return Err(AppError::invalid("cart", "is empty"));
    }
    let mut per_shard: BTreeMap<ShardId, Vec<ShardLine>> = BTreeMap::new();
    let mut currency: Option<Currency> = existing.first().map(|order| order.currency);
    for (id, line) in &cart {
        // Every line's item was read for the gate.
        let item = shown
            .remove(id)
            .ok_or_else(|| AppError::not_found("item"))?;
        if *currency.get_or_insert(item.currency) != item.currency {
            return Err(AppError::invalid(
                "cart",
                "holds items in more than one currency",
            ));
        }
        per_shard.entry(id.shard()).or_default().push(ShardLine {
            item: *id,
            category: item.category_id,
            name: item.name,
            quantity: line.quantity,
            unit_price: item.price,
            seen_stock: item.stock,
        });
    }
    let currency = currency.unwrap_or(Currency::EUR);
    let expires = now() + state.checkout.hold_window();

    // One shard after the other, the scarcest first: when an item is selling out, the buyers it
    // turns away learn it from its own shard (a quick refusal) and never queue on the rows of
    // the cart's other shards. Within a shard, rows are locked in item-id order.
    let mut plan: Vec<(ShardId, Vec<ShardLine>)> = per_shard.into_iter().collect();
    let slack = |lines: &[ShardLine]| {
        lines
            .iter()
            .map(|line| i64::from(line.seen_stock) - i64::from(line.quantity))
            .min()
            .unwrap_or(i64::MAX)
    };
    plan.sort_by_key(|(shard, lines)| (slack(lines), *shard));
    let attempt = Attempt {
        checkout_id: &checkout_id,
        customer: user.id,
        currency,
        expires,
    };
    let mut orders = existing;
    let mut failure = None;
    for (shard, mut lines) in plan {
        lines.sort_by_key(|line| line.item);
        match hold_on_shard(state, shard, attempt, &lines).await {
            Ok(order) => orders.push(order),
            Err(error) => {
                tracing::info!(%shard, checkout_id, "checkout shard failed");
                failure = Some(error);
                break;
            }
        }
    }
    if let Some(failure) = failure {
        for order in &orders {
            if let Err(error) =
                release(state, order.id, OrderStatus::Canceled, StockCause::Release).await
            {
                // The hold still expires by itself; the audit would flag it only past the grace.
                tracing::error!(order_id = %order.id, %error, "could not release a failed checkout's order");
            }
        }
        if let ShardFailure::Short { item, left, .. } = &failure {
            gate::note_short(&state.redis, *item, *left).await;
        }
        return Err(match failure {
            ShardFailure::Short { item, name, left } => AppError::SoldOut {
                item: item.to_string(),
                name,
                left,
            },
            ShardFailure::OverLimit { name, already } => AppError::conflict(
                "quantity",
                format!(
                    "at most {PER_BUYER_LIMIT} of {name} per customer ({already} already in your orders)"
                ),
            ),
            ShardFailure::Error(error) => error,
        });
    }
    // The held items' cached copies are brought down to the stock left when the holds' events
    // arrive (see `catalog::cache`). (A failed checkout's released orders drop theirs in
    // `release`.)
    store::clear(&state.redis, &owner).await?;
    tracing::info!(
        user_id = user.id.0,
        checkout_id,
        orders = orders.len(),
        "checked out"
    );
    Ok(summary(checkout_id, orders))
}

/// Whether `existing`, the orders a checkout key already made, is a checkout that died half-way
/// whose cart is still there: every order still pending, and the cart holding exactly each
/// order's lines on that order's shard. After a success the cart is empty (or a new one), so a
/// retry then only answers the orders.
fn is_interrupted(existing: &[Order], cart: &BTreeMap<ItemId, store::Stored>) -> bool {
    !cart.is_empty()
        && existing.iter().all(|order| {
            let in_cart: Vec<(ItemId, u32)> = cart
                .iter()
                .filter(|(id, _)| id.shard() == order.id.shard())
                .map(|(id, line)| (*id, line.quantity))
                .collect();
            let ordered: Vec<(ItemId, u32)> = order
                .lines
                .iter()
                .map(|line| (line.item_id, line.quantity))
                .collect();
            order.status == OrderStatus::Pending && in_cart == ordered
        })
}

fn summary(checkout_id: String, mut orders: Vec<Order>) -> Checkout {
    orders.sort_by_key(|order| order.id);
    let hold_expires_at = orders
        .iter()
        .map(|order| order.hold_expires_at)
        .min()
        .unwrap_or_else(Utc::now);
    Checkout {
        checkout_id,
        orders,
        hold_expires_at,
    }
}

/// The orders a checkout already made, on every shard.
pub(crate) async fn find_checkout(
    state: &AppState,
    user: &User,
    checkout_id: &str,
) -> Result<Vec<Order>, AppError> {
    let found = state
        .shards
        .scatter(|shard, database| async move {
            let mut connection = database.acquire().await?;
            repo::order_of_checkout(&mut connection, shard, checkout_id)
                .await
                .map_err(|e| database.error(e))
        })
        .await;
    let mut orders = Vec::new();
    for (_, result) in found {
        if let Some(order) = result?
            && order.customer_id == user.id
        {
            orders.push(order);
        }
    }
    Ok(orders)
}

/// After a failed transaction (already rolled back): a deadlock or a lock-wait timeout waits a
/// jittered backoff and answers `Ok` (try again), up to `RETRIES` times; then the shard is
/// reported too busy. Any other error is answered as it is.
pub(crate) async fn retry_after(
    database: &Database,
    error: sqlx::Error,
    attempt: &mut u32,
) -> Result<(), AppError> {
    if !is_retryable(&error) {
        return Err(database.error(error).into());
    }
    if *attempt >= RETRIES {
        tracing::warn!(database = database.label(), %error, "gave up after retries");
        return Err(AppError::Unavailable {
            what: format!("{} (too busy: try again)", database.label()),
        });
    }
    *attempt += 1;
    tokio::time::sleep(Duration::from_millis(
        10 * (1 << *attempt) + u64::from(rand::random::<u8>() % 10),
    ))
    .await;
    Ok(())
}

/// One shard's part of a checkout in one transaction, kept only when every line was held.
async fn hold_on_shard(
    state: &AppState,
    shard: ShardId,
    attempt: Attempt<'_>,
    lines: &[ShardLine],
) -> Result<Order, ShardFailure> {
    let database = state.shards.shard(shard)?;
    let mut tries = 0;
    let order = loop {
        let mut tx = database.begin().await?;
        match hold_lines(&mut tx, shard, attempt, lines).await {
            Ok(Ok(order)) => {
                tx.commit().await.map_err(|e| database.error(e))?;
                break order;
            }
            Ok(Err(short)) => {
                tx.rollback().await.map_err(|e| database.error(e))?;
                return Err(short);
            }
            Err(error) if is_checkout_taken(&error) => {
                let _ = tx.rollback().await;
                return Err(ShardFailure::Error(AppError::conflict(
                    "idempotency_key",
                    "a checkout with this key is already under way: send the same request again to see its orders",
                )));
            }
            Err(error) => {
                let _ = tx.rollback().await;
                retry_after(database, error, &mut tries)
                    .await
                    .map_err(ShardFailure::Error)?;
            }
        }
    };
    Ok(order)
}

/// The hold transaction, inside the shard's transaction, committed by its last line. `Ok(Err(..))`
/// is a short line or a customer over the limit: nothing was committed; roll back. Checkout runs
/// it per shard; the load runs' direct-database baseline runs it alone, to measure what the
/// database gives without the rest of the shop.
///
/// The rows that lock nothing others wait for come first: the order, its lines, holds and
/// events. Then, in item-id order, each line's stock is taken (the item's row lock, held to the
/// commit), the customer's units of the item counted (the row's lock serialises this customer's
/// other checkouts of it, so the count cannot be raced) and the ledger row written, in one round
/// trip (`repo::take_held_stock`); the last line's call commits. A hot item's buyers queue on
/// its row, so the row is held for one round trip, not eight.
pub async fn hold_lines(
    tx: &mut Tx,
    shard: ShardId,
    attempt: Attempt<'_>,
    lines: &[ShardLine],
) -> Result<Result<Order, ShardFailure>, sqlx::Error> {
    let Attempt {
        checkout_id,
        customer,
        currency,
        expires,
    } = attempt;
    let now = now();
    let total: Decimal = lines
        .iter()
        .map(|line| line.unit_price * Decimal::from(line.quantity))
        .sum();
    let order = repo::insert_order(
        tx,
        &NewOrder {
            checkout_id,
            user: customer.0,
            currency,
            total,
            expires,
        },
        now,
    )
    .await?;
    let order_id = OrderId::new(shard, order).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let mut order_lines = Vec::with_capacity(lines.len());
    for line in lines {
        let order_line = OrderLine {
            item_id: line.item,
            name: line.name.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price,
        };
        repo::insert_line(tx, order, customer, &order_line).await?;
        repo::insert_hold(tx, order, line.item.local(), line.quantity, expires, now).await?;
        events::record(
            tx,
            &Event::StockHeld {
                item_id: line.item,
                category_id: line.category,
            },
        )
        .await?;
        order_lines.push(order_line);
    }
    let reason = format!("order {order_id}");
    for (n, line) in lines.iter().enumerate() {
        let local = line.item.local();
        let last = n + 1 == lines.len();
        let mut reclaimed = false;
        let taken = loop {
            let taken = repo::take_held_stock(
                tx,
                local,
                line.quantity,
                customer,
                PER_BUYER_LIMIT,
                &reason,
                now,
                last,
            )
            .await?;
            if taken != Taken::Short || reclaimed {
                break taken;
            }
            // Short: first give back this item's expired holds (never wait for the job), then
            // try again.
            expire_holds(tx, shard, Some(local), now, EXPIRY_BATCH).await?;
            reclaimed = true;
        };
        match taken {
            Taken::Taken => {}
            Taken::Short => {
                let left = repo::stock(tx, local).await?;
                return Ok(Err(ShardFailure::Short {
                    item: line.item,
                    name: line.name.clone(),
                    left,
                }));
            }
            Taken::OverLimit { already } => {
                return Ok(Err(ShardFailure::OverLimit {
                    name: line.name.clone(),
                    already,
                }));
            }
        }
    }
    Ok(Ok(Order {
        id: order_id,
        checkout_id: checkout_id.to_owned(),
        customer_id: customer,
        status: OrderStatus::Pending,
        currency,
        total,
        hold_expires_at: expires,
        created_at: now,
        lines: order_lines,
    }))
}

/// Gives back the units of `holds`, ends them with `cause`'s status, and ends their pending
/// orders as `order_status`. Runs inside the caller's transaction.
pub(crate) async fn give_back(
    connection: &mut MySqlConnection,
    shard: ShardId,
    holds: &[HeldUnits],
    cause: StockCause,
    order_status: OrderStatus,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let hold_status = if cause == StockCause::Expire {
        "expired"
    } else {
        "released"
    };
    for held in holds {
        repo::return_stock(connection, held.item, held.quantity).await?;
        repo::end_hold(connection, held.hold, hold_status, now).await?;
        let item = ItemId::new(shard, held.item).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        let order =
            OrderId::new(shard, held.order).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        catalog_repo::record_movement(
            connection,
            item,
            i64::from(held.quantity),
            cause,
            &format!("order {order}"),
            now,
        )
        .await?;
    }
    // One event per item, whatever the number of its holds; their categories in one query.
    let mut items: Vec<u64> = holds.iter().map(|h| h.item).collect();
    items.sort_unstable();
    items.dedup();
    for (item, category) in repo::categories_of(connection, &items).await? {
        let item_id = ItemId::new(shard, item).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        events::record(
            connection,
            &Event::ItemChanged {
                item_id,
                category_id: CategoryId(category),
            },
        )
        .await?;
    }
    let mut orders: Vec<u64> = holds.iter().map(|h| h.order).collect();
    orders.sort_unstable();
    orders.dedup();
    for order in orders {
        repo::end_pending_order(connection, order, order_status, now).await?;
    }
    Ok(())
}

/// Expires up to `limit` overdue holds (of one item, or any) inside the caller's transaction.
async fn expire_holds(
    connection: &mut MySqlConnection,
    shard: ShardId,
    item: Option<u64>,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<usize, sqlx::Error> {
    let holds = repo::lock_expired_holds(connection, item, now, limit).await?;
    // Whole orders fail together: take their other active holds too.
    let mut all = holds.clone();
    let mut orders: Vec<u64> = holds.iter().map(|h| h.order).collect();
    orders.sort_unstable();
    orders.dedup();
    for order in orders {
        for other in repo::lock_order_holds(connection, order).await? {
            if !all.iter().any(|h| h.hold == other.hold) {
                all.push(other);
            }
        }
    }
    give_back(
        connection,
        shard,
        &all,
        StockCause::Expire,
        OrderStatus::Failed,
        now,
    )
    .await?;
    Ok(all.len())
}

/// The expiry job's pass over every shard: one transaction per batch of overdue holds. Safe with
/// several copies at once (`SKIP LOCKED`) and when killed at any point (each batch commits whole).
pub async fn expire_due_holds(state: &AppState) -> Result<usize, AppError> {
    let mut expired = 0;
    for (shard, database) in state.shards.shards() {
        loop {
            let mut tx = database.begin().await?;
            let count = expire_holds(&mut tx, shard, None, now(), EXPIRY_BATCH)
                .await
                .map_err(|e| AppError::from(database.error(e)))?;
            tx.commit()
                .await
                .map_err(|e| AppError::from(database.error(e)))?;
            expired += count;
            if count < EXPIRY_BATCH as usize {
                break;
            }
        }
    }
    if expired > 0 {
        tracing::info!(holds = expired, "expired holds");
    }
    Ok(expired)
}

/// What ending a pending order found.
enum Released {
    NoSuchOrder,
    NotPending,
    Holds(Vec<HeldUnits>),
}

/// Inside the order's shard transaction: lock the order, then its active holds, give them back.
async fn release_in(
    tx: &mut Tx,
    id: OrderId,
    status: OrderStatus,
    cause: StockCause,
) -> Result<Released, sqlx::Error> {
    let Some((_, current)) = repo::lock_order(tx, id.local()).await? else {
        return Ok(Released::NoSuchOrder);
    };
    if current != OrderStatus::Pending.as_str() {
        return Ok(Released::NotPending);
    }
    let holds = repo::lock_order_holds(tx, id.local()).await?;
    give_back(tx, id.shard(), &holds, cause, status, now()).await?;
    // An order with no active hold left (all expired already) still ends here.
    repo::end_pending_order(tx, id.local(), status, now()).await?;
    Ok(Released::Holds(holds))
}

/// Ends a pending order: its holds give their units back (retried after a deadlock). Returns
/// whether it was pending.
async fn release(
    state: &AppState,
    id: OrderId,
    status: OrderStatus,
    cause: StockCause,
) -> Result<bool, AppError> {
    let database = state.shards.for_id(&id)?;
    let mut attempt = 0;
    let released = loop {
        let mut tx = database.begin().await?;
        match release_in(&mut tx, id, status, cause).await {
            Ok(released) => {
                tx.commit()
                    .await
                    .map_err(|e| AppError::from(database.error(e)))?;
                break released;
            }
            Err(error) => {
                let _ = tx.rollback().await;
                retry_after(database, error, &mut attempt).await?;
            }
        }
    };
    match released {
        Released::NoSuchOrder => Err(AppError::not_found("order")),
        Released::NotPending => Ok(false),
        Released::Holds(holds) => {
            let items: Vec<ItemId> = holds
                .iter()
                .filter_map(|held| ItemId::new(id.shard(), held.item).ok())
                .collect();
            catalog::forget_cached_items(state, &items).await;
            Ok(true)
        }
    }
}

/// Cancels a customer's order (idempotent: a canceled order stays canceled): a pending one gives
/// its held units back; a placed one restocks its units and its payment is refunded. Another
/// customer's order is 404; a failed order cannot be canceled.
pub async fn cancel(state: &AppState, user: &User, id: OrderId) -> Result<Order, AppError> {
    let current = order(state, user, id).await?;
    // Whether this call ended the pending order it read.
    let ended = match current.status {
        OrderStatus::Pending => {
            release(state, id, OrderStatus::Canceled, StockCause::Release).await
        }
        OrderStatus::Placed => cancel_placed(state, id).await.map(|()| false),
        OrderStatus::Canceled => Ok(false),
        status => {
            return Err(AppError::conflict(
                "status",
                format!("a {} order cannot be canceled", status.as_str()),
            ));
        }
    };
    crate::payments::progress::changed(&state.redis, &current.checkout_id).await;
    if ended? {
        // Nothing else changes a canceled order: it is the one read, canceled.
        return Ok(Order {
            status: OrderStatus::Canceled,
            ..current
        });
    }
    order(state, user, id).await
}

/// Cancels a placed order in one transaction on its shard (retried after a deadlock): restock,
/// and the refund of its share owed (the refund job sends it).
async fn cancel_placed(state: &AppState, id: OrderId) -> Result<(), AppError> {
    let database = state.shards.for_id(&id)?;
    let mut attempt = 0;
    let items = loop {
        let mut tx = database.begin().await?;
        let done = match repo::lock_order(&mut tx, id.local()).await {
            Ok(_) => crate::payments::settle::cancel_placed(&mut tx, id, now()).await,
            Err(error) => Err(error),
        };
        match done {
            Ok(items) => {
                tx.commit()
                    .await
                    .map_err(|e| AppError::from(database.error(e)))?;
                break items;
            }
            Err(error) => {
                let _ = tx.rollback().await;
                retry_after(database, error, &mut attempt).await?;
            }
        }
    };
    catalog::forget_cached_items(state, &items).await;
    Ok(())
}

/// One of the customer's orders (admins see any); 404 for another customer's.
pub async fn order(state: &AppState, user: &User, id: OrderId) -> Result<Order, AppError> {
    let database = state.shards.for_id(&id)?;
    let mut connection = database.acquire().await?;
    match repo::order(&mut connection, id)
        .await
        .map_err(|e| AppError::from(database.error(e)))?
    {
        Some(order) if order.customer_id == user.id || user.role == Role::Admin => Ok(order),
        _ => Err(AppError::not_found("order")),
    }
}

/// An order, its holds and its customer, for the admin console.
pub async fn order_for_admin(
    state: &AppState,
    admin: &User,
    id: OrderId,
) -> Result<(Order, Vec<Hold>, Option<User>), AppError> {
    require_admin(admin)?;
    let order = order(state, admin, id).await?;
    let database = state.shards.for_id(&id)?;
    let mut connection = database.acquire().await?;
    let holds = repo::holds_of_order(&mut connection, id)
        .await
        .map_err(|e| AppError::from(database.error(e)))?;
    let customer = accounts::user(state, admin, order.customer_id).await.ok();
    Ok((order, holds, customer))
}

fn require_admin(user: &User) -> Result<(), AppError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            message: "only admins see every customer's orders".into(),
        })
    }
}

/// A page of the customer's own orders (the `customer` filter is not theirs to set).
pub async fn orders(
    state: &AppState,
    user: &User,
    filter: &OrderFilter,
) -> Result<OrderPage, AppError> {
    if filter.customer.is_some() {
        return Err(AppError::Forbidden {
            message: "only admins filter orders by customer".into(),
        });
    }
    list(state, Some(user.id), filter).await
}

/// A page of every customer's orders (admins): `customer` narrows it to one username; an unknown
/// username matches no order.
pub async fn all_orders(
    state: &AppState,
    admin: &User,
    filter: &OrderFilter,
) -> Result<OrderPage, AppError> {
    require_admin(admin)?;
    let customer = match &filter.customer {
        None => None,
        Some(username) => match accounts::find_by_username(state, username).await? {
            Some(found) => Some(found.id),
            None => {
                return Ok(OrderPage {
                    orders: Vec::new(),
                    next: None,
                });
            }
        },
    };
    list(state, customer, filter).await
}

/// Every shard's matching orders (one query per shard, in parallel, plus one for all their
/// lines), merged newest first. Each shard gives one more than a page, so whether a next page
/// exists is known without counting.
async fn list(
    state: &AppState,
    customer: Option<UserId>,
    filter: &OrderFilter,
) -> Result<OrderPage, AppError> {
    let day_start = |day: chrono::NaiveDate| day.and_time(chrono::NaiveTime::MIN).and_utc();
    let since = filter.from.map(day_start);
    let until = filter.to.and_then(|day| day.succ_opt()).map(day_start);
    let found = state
        .shards
        .scatter(|shard, database| async move {
            let before = filter.after.map(|cursor| cursor.bound_on(shard));
            let selection = OrderSelection {
                customer: customer.map(|c| c.0),
                status: filter.status,
                since,
                until,
                before,
                limit: filter.limit + 1,
            };
            let mut connection = database.acquire().await?;
            repo::list_orders(&mut connection, shard, selection)
                .await
                .map_err(|e| database.error(e))
        })
        .await;
    let mut orders = Vec::new();
    for (_, result) in found {
        orders.extend(result?);
    }
    orders.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let limit = usize::try_from(filter.limit).unwrap_or(usize::MAX);
    let next = (orders.len() > limit).then(|| OrderCursor::after(&orders[limit - 1]).to_string());
    orders.truncate(limit);
    Ok(OrderPage { orders, next })
}

/// Broken hold invariants on every shard: (overdue active holds, active holds of non-pending
/// orders).
pub async fn hold_violations(state: &AppState) -> Result<(i64, i64), AppError> {
    let found = state
        .shards
        .scatter(|_, database| async move {
            let mut connection = database.acquire().await?;
            repo::hold_violations(&mut connection, now(), EXPIRY_GRACE_S)
                .await
                .map_err(|e| database.error(e))
        })
        .await;
    let mut total = (0, 0);
    for (_, result) in found {
        let (overdue, orphaned) = result?;
        total.0 += overdue;
        total.1 += orphaned;
    }
    Ok(total)
}
