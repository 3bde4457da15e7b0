//! Sharding: how Surge's data is spread over its database servers.
//!
//! A *logical shard* is one database holding whole categories: their items, and the holds,
//! orders and payments for them, so one order's write path is one local transaction. The shard map
//! (configuration) assigns logical shards to physical servers; growing means moving whole logical
//! shards to new servers, never re-keying rows. Every sharded entity's public ID carries its
//! logical shard ([`id`]), so any item, order, hold or payment is routed without a lookup.
//!
//! The [`router`] is the only way to a connection pool: nothing else opens connections.

pub mod id;

#[cfg(feature = "ssr")]
pub mod in_list;
#[cfg(feature = "ssr")]
pub mod migrate;
#[cfg(feature = "ssr")]
pub mod pool;
#[cfg(feature = "ssr")]
pub mod router;
#[cfg(feature = "ssr")]
pub mod topology;

pub use id::{ShardId, ShardedId};
