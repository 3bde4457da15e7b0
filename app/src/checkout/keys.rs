//! Which checkout keys were used: a hint in Redis that spares a new checkout the lookup on every
//! shard.
//!
//! A checkout retried with its idempotency key must find the orders the first attempt made, on
//! whichever shards they are. Looking on every shard for every checkout was a tenth of all the
//! statements the shards ran in a sale, and nearly every key is new. So each checkout first marks
//! its key here (`SET NX`, read in the same round trip as the cart):
//! - the mark was there: the key was used before (or is in use); the checkout looks on every
//!   shard, as a retry must;
//! - it was not: the key is new, and the checkout goes straight to the holds. The database still
//!   guards each shard it writes to: `orders.checkout_id` is unique, so a key used before on one
//!   of the cart's shards fails there and is answered as a conflict, never as a second order.
//!
//! The mark is only a hint. When Redis lost it (a restart without persistence, or after
//! [`MARK_TTL_S`]), a retry whose first orders are all on shards its cart no longer names (the
//! customer emptied and refilled the cart, then sent the old key) makes a new checkout for the new
//! cart instead of answering the old one: each still has to be paid for on its own, so nothing is
//! sold twice or unpaid. A retry with an empty cart (the usual retry after a success) always looks
//! on every shard.

use redis::Pipeline;

use crate::redis_store::Redis;

/// How long a used key stays marked: far past any client's retries.
pub const MARK_TTL_S: u64 = 3600;

/// The mark's key.
pub fn key(redis: &Redis, checkout_id: &str) -> String {
    redis.key(&format!("checkout-key:{checkout_id}"))
}

/// Adds the mark of `checkout_id` to `pipe`; its answer is `true` when the key is new (the mark
/// was set), `false` when it was used before.
pub fn mark_in(pipe: &mut Pipeline, redis: &Redis, checkout_id: &str) {
    pipe.cmd("SET")
        .arg(key(redis, checkout_id))
        .arg(1)
        .arg("NX")
        .arg("EX")
        .arg(MARK_TTL_S);
}
