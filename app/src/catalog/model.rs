//! Catalog types shared by the server and the browser.

use serde::{Deserialize, Serialize};

use crate::shard::ShardId;

/// A category's id in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CategoryId(pub u64);

/// A category of the catalog and the logical shard that holds its items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: CategoryId,
    pub slug: String,
    pub name: String,
    pub shard: ShardId,
}
