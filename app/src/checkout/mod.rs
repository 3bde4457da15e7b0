//! Checkout: a cart becomes one order per shard, each created in one transaction on its shard
//! that takes the stock into holds; holds end by placement (payments, a later issue), by
//! cancellation, or by expiry.
//!
//! Invariants kept here (DESIGN section 4):
//! - stock never goes negative: it is taken by one conditional UPDATE per line, in item-id order
//!   (a fixed lock order, so two checkouts cannot deadlock on each other's rows for long);
//! - every change of stock writes its ledger row in the same transaction;
//! - a hold is Active only while its order is Pending; every hold that ends gives its units back
//!   (release, expiry) in the same transaction that ends it;
//! - a checkout retried with the same idempotency key finds its orders instead of making new ones;
//! - correctness never waits on the expiry job: a checkout short of stock first reclaims that
//!   item's expired holds itself;
//! - the sold-out gate ([`gate`]) only ever refuses early; the database decides every hold.

pub mod admin_views;
pub mod model;
pub mod server_fns;
pub mod views;

#[cfg(feature = "ssr")]
pub mod gate;
#[cfg(feature = "ssr")]
pub mod keys;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
