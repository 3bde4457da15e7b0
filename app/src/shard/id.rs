//! IDs that carry their shard.
//!
//! A sharded entity's row id is an auto-increment number local to its shard's database; its public
//! ID is `{kind}-{shard}-{local}` (for example `item-2-1042`). The prefix names the kind so an
//! order ID is never accepted where an item ID is expected, and the shard routes the request
//! without a directory lookup. The ID is a string on the wire because JavaScript numbers cannot
//! hold every 64-bit integer.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The highest number of logical shards a deployment may have. Chosen generously: a logical shard
/// is a database, and a few hundred of them fit on a handful of servers.
pub const MAX_LOGICAL_SHARDS: u16 = 1024;

/// The largest local row id an ID may carry (2^53 - 1, what every JSON client can count to).
pub const MAX_LOCAL_ID: u64 = (1 << 53) - 1;

/// A logical shard: one database with the full shard schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct ShardId(u16);

impl ShardId {
    /// A shard number, checked against [`MAX_LOGICAL_SHARDS`].
    pub fn new(number: u16) -> Result<Self, IdError> {
        if number < MAX_LOGICAL_SHARDS {
            Ok(ShardId(number))
        } else {
            Err(IdError::ShardOutOfRange)
        }
    }

    /// The shard's number, as in the shard map.
    pub fn number(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for ShardId {
    type Error = IdError;
    fn try_from(number: u16) -> Result<Self, IdError> {
        ShardId::new(number)
    }
}

impl From<ShardId> for u16 {
    fn from(shard: ShardId) -> u16 {
        shard.0
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {}", self.0)
    }
}

/// What kind of entity an ID names; its prefix is the first part of the public ID.
pub trait IdKind {
    /// The prefix of the public ID, lowercase ASCII letters only.
    const PREFIX: &'static str;
}

/// The entities that live on the shards.
pub mod kind {
    use super::IdKind;

    /// A catalog item.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Item {}
    impl IdKind for Item {
        const PREFIX: &'static str = "item";
    }

    /// One shard's order of a checkout.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Order {}
    impl IdKind for Order {
        const PREFIX: &'static str = "order";
    }
}

/// The ID of an item.
pub type ItemId = ShardedId<kind::Item>;
/// The ID of an order.
pub type OrderId = ShardedId<kind::Order>;

/// Why a string is not a valid ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("the ID must look like {0}-<shard>-<number>")]
    Malformed(&'static str),
    #[error("the ID names a shard that cannot exist")]
    ShardOutOfRange,
    #[error("the ID's number is out of range")]
    LocalOutOfRange,
}

/// The public ID of a sharded entity of kind `K`: its logical shard and its row id there.
pub struct ShardedId<K> {
    shard: ShardId,
    local: u64,
    kind: PhantomData<fn() -> K>,
}

impl<K: IdKind> ShardedId<K> {
    /// The ID of row `local` on `shard`; `local` is 1 or more (auto-increment ids start at 1).
    pub fn new(shard: ShardId, local: u64) -> Result<Self, IdError> {
        if (1..=MAX_LOCAL_ID).contains(&local) {
            Ok(ShardedId {
                shard,
                local,
                kind: PhantomData,
            })
        } else {
            Err(IdError::LocalOutOfRange)
        }
    }

    /// The logical shard the entity lives on.
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// The row id inside the shard's database.
    pub fn local(&self) -> u64 {
        self.local
    }
}

// Manual impls: deriving would demand `K: Clone` etc. of an uninhabited marker type.
impl<K> Clone for ShardedId<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for ShardedId<K> {}
impl<K> PartialEq for ShardedId<K> {
    fn eq(&self, other: &Self) -> bool {
        (self.shard, self.local) == (other.shard, other.local)
    }
}
impl<K> Eq for ShardedId<K> {}
impl<K> std::hash::Hash for ShardedId<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.shard, self.local).hash(state)
    }
}
impl<K> PartialOrd for ShardedId<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for ShardedId<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.shard, self.local).cmp(&(other.shard, other.local))
    }
}

impl<K: IdKind> fmt::Display for ShardedId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", K::PREFIX, self.shard.0, self.local)
    }
}

impl<K: IdKind> fmt::Debug for ShardedId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Parses a decimal number written canonically: ASCII digits, no sign, no leading zero.
fn canonical_number<T: FromStr>(text: &str) -> Option<T> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

impl<K: IdKind> FromStr for ShardedId<K> {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        let malformed = IdError::Malformed(K::PREFIX);
        let mut parts = text.split('-');
        let (Some(prefix), Some(shard), Some(local), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed);
        };
        if prefix != K::PREFIX {
            return Err(malformed);
        }
        let shard: u16 = canonical_number(shard).ok_or(IdError::ShardOutOfRange)?;
        let local: u64 = canonical_number(local).ok_or(IdError::LocalOutOfRange)?;
        ShardedId::new(ShardId::new(shard)?, local)
    }
}

impl<K: IdKind> Serialize for ShardedId<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de, K: IdKind> Deserialize<'de> for ShardedId<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_item_id_reads_as_kind_shard_and_number() {
        let id = ItemId::new(ShardId::new(2).unwrap(), 1042).unwrap();
        assert_eq!(id.to_string(), "item-2-1042");
        assert_eq!("item-2-1042".parse::<ItemId>(), Ok(id));
    }

    #[test]
    fn an_order_id_is_not_accepted_as_an_item_id() {
        assert_eq!(
            "order-1-5".parse::<ItemId>(),
            Err(IdError::Malformed("item"))
        );
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "item",
            "item-1",
            "item-1-2-3",
            "item--1",
            "item-1-",
            "item-01-5",
            "item-1-05",
            "item-+1-5",
            "item-1-0",
            "item-1024-1",
            "item-1-9007199254740992",
            "item-99999999999-1",
            "ITEM-1-1",
            "item-1-1 ",
        ] {
            assert!(bad.parse::<ItemId>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn ids_deserialize_only_through_the_parser() {
        let id: ItemId = serde_json::from_str("\"item-0-7\"").unwrap();
        assert_eq!(id.shard(), ShardId::new(0).unwrap());
        assert!(serde_json::from_str::<ItemId>("\"item-0-0\"").is_err());
        assert!(serde_json::from_str::<ItemId>("7").is_err());
    }

    proptest! {
        #[test]
        fn every_id_round_trips_to_its_shard(shard in 0..MAX_LOGICAL_SHARDS, local in 1..=MAX_LOCAL_ID) {
            let id = OrderId::new(ShardId::new(shard).unwrap(), local).unwrap();
            let parsed: OrderId = id.to_string().parse().unwrap();
            prop_assert_eq!(parsed, id);
            prop_assert_eq!(parsed.shard().number(), shard);
            prop_assert_eq!(parsed.local(), local);
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<OrderId>(&json).unwrap(), id);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,40}") {
            let _ = text.parse::<ItemId>();
        }
    }
}
