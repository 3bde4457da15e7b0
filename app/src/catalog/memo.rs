//! This server copy's own copy of the category list.
//!
//! Every item page, category page and search names categories, and the list changes only when an
//! admin edits one: asking Redis for it on every request cost about a tenth of those requests'
//! CPU. The copy is dropped when this copy changes a category and when any copy's change arrives
//! on the event stream; it also lives at most [`MEMO_TTL`], a bound on a missed event. A reader
//! that fetched the list before a drop does not store it after: each drop starts a new
//! generation, and a list is kept only for the generation it was fetched in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::model::Category;

/// How long the copy is used without being dropped.
pub const MEMO_TTL: Duration = Duration::from_secs(10);

/// The category list as this copy last read it.
#[derive(Debug, Default)]
pub struct CategoryMemo {
    generation: AtomicU64,
    kept: RwLock<Option<Kept>>,
}

#[derive(Debug)]
struct Kept {
    list: Arc<Vec<Category>>,
    generation: u64,
    at: Instant,
}

impl CategoryMemo {
    /// The kept list, unless it was dropped or is older than [`MEMO_TTL`].
    pub fn get(&self) -> Option<Arc<Vec<Category>>> {
        let kept = self
            .kept
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.as_ref()
            .filter(|kept| {
                kept.generation == self.generation.load(Ordering::Acquire)
                    && kept.at.elapsed() < MEMO_TTL
            })
            .map(|kept| Arc::clone(&kept.list))
    }

    /// The generation a reader notes before it fetches the list, to [`CategoryMemo::put`] it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps `list`, fetched in `generation`: unless a drop came since.
    pub fn put(&self, generation: u64, list: Arc<Vec<Category>>) {
        let mut kept = self
            .kept
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if generation == self.generation.load(Ordering::Acquire) {
            *kept = Some(Kept {
                list,
                generation,
                at: Instant::now(),
            });
        }
    }

    /// Drops the kept list; a fetch already under way is not kept either.
    pub fn forget(&self) {
        let mut kept = self
            .kept
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        *kept = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::CategoryId;
    use crate::shard::id::ShardId;

    fn list(name: &str) -> Arc<Vec<Category>> {
        Arc::new(vec![Category {
            id: CategoryId(1),
            slug: name.to_lowercase(),
            name: name.into(),
            shard: ShardId::new(0).unwrap(),
        }])
    }

    #[test]
    fn a_kept_list_is_answered_until_it_is_dropped() {
        let memo = CategoryMemo::default();
        assert!(memo.get().is_none());
        memo.put(memo.generation(), list("Lamps"));
        assert_eq!(memo.get().unwrap()[0].name, "Lamps");
        memo.forget();
        assert!(memo.get().is_none());
    }

    #[test]
    fn a_list_fetched_before_a_drop_is_not_kept() {
        let memo = CategoryMemo::default();
        let before = memo.generation();
        memo.forget();
        memo.put(before, list("Stale"));
        assert!(memo.get().is_none(), "the drop came after the fetch began");
        memo.put(memo.generation(), list("Fresh"));
        assert_eq!(memo.get().unwrap()[0].name, "Fresh");
    }
}
