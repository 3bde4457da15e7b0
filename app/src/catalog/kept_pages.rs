//! Catalog pages rendered for visitors who are not signed in, kept in this server copy's memory.
//!
//! A category page or an item page is the same for every visitor without a session, and
//! rendering them was most of the read mix's CPU. The HTTP layer (`kept_pages` in the server)
//! answers visitors from here and keeps what it renders; this is the store and its rules:
//! - a category page lives [`LISTING_TTL`]: its listing is cached for two seconds already, so the
//!   stock it shows lags by three seconds at most;
//! - an item page lives until its item changes, [`ITEM_TTL`] at most (a bound on a missed event).
//!   This copy drops it right after its own writes (`catalog::service::forget_cached_items`),
//!   every other copy when the item's event arrives, as they drop the item's Redis entry. A page
//!   whose rendering began before its item's last drop is not kept: it may show the item as it
//!   was. Once hydrated, the page refreshes its stock by itself every few seconds;
//! - a change of any category drops every page: they all name categories;
//! - at most [`MAX_BYTES`] of pages: past it, the expired pages go, then the oldest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::HeaderMap;

use crate::shard::id::ItemId;

/// How long a rendered category page is answered.
pub const LISTING_TTL: Duration = Duration::from_secs(1);
/// How long a rendered item page is answered when no change of its item drops it first.
pub const ITEM_TTL: Duration = Duration::from_secs(60);
/// The most bytes of pages kept.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;
/// How long an item's drop is remembered: longer than any page takes to render.
const DROP_MEMORY: Duration = Duration::from_secs(30);
/// Drops remembered before the old ones are cleared out.
const DROPS_PRUNED_PAST: usize = 4096;
/// What a kept page costs beside its HTML (its address, headers and entry), roughly.
const PAGE_OVERHEAD_BYTES: usize = 1024;

/// Which kind of kept page an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keepable {
    /// A category's listing, any sort or page.
    Listing,
    /// An item's page (its bare address, without a query).
    Item(ItemId),
}

impl Keepable {
    /// The kind of page at `path` with `query`, if it is kept at all.
    pub fn of(path: &str, query: Option<&str>) -> Option<Self> {
        if path.starts_with("/categories/") {
            return Some(Keepable::Listing);
        }
        let id = path.strip_prefix("/items/")?;
        if query.is_some() {
            return None;
        }
        id.parse().ok().map(Keepable::Item)
    }

    fn lifetime(self) -> Duration {
        match self {
            Keepable::Listing => LISTING_TTL,
            Keepable::Item(_) => ITEM_TTL,
        }
    }
}

/// One rendered page: the answer's headers and HTML, and the nonce its scripts carry (each
/// answer replaces it with one of its own).
#[derive(Debug)]
pub struct KeptPage {
    pub kind: Keepable,
    pub at: Instant,
    pub headers: HeaderMap,
    pub html: String,
    pub nonce: String,
}

impl KeptPage {
    fn fresh(&self) -> bool {
        self.at.elapsed() < self.kind.lifetime()
    }

    fn bytes(&self, address: &str) -> usize {
        self.html.len() + address.len() + PAGE_OVERHEAD_BYTES
    }
}

/// The pages this copy keeps, by address.
#[derive(Debug, Default)]
pub struct KeptPages {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    pages: HashMap<String, Arc<KeptPage>>,
    bytes: usize,
    /// When each recently changed item's pages were last dropped.
    drops: HashMap<ItemId, Instant>,
    prune_drops_past: usize,
}

impl Inner {
    fn remove(&mut self, address: &str) {
        if let Some(page) = self.pages.remove(address) {
            self.bytes = self.bytes.saturating_sub(page.bytes(address));
        }
    }

    /// Makes room for `wanted` bytes: the expired pages go, then the oldest.
    fn make_room(&mut self, wanted: usize) {
        if self.bytes + wanted <= MAX_BYTES {
            return;
        }
        let expired: Vec<String> = self
            .pages
            .iter()
            .filter(|(_, page)| !page.fresh())
            .map(|(address, _)| address.clone())
            .collect();
        for address in expired {
            self.remove(&address);
        }
        if self.bytes + wanted <= MAX_BYTES {
            return;
        }
        let mut by_age: Vec<(Instant, String)> = self
            .pages
            .iter()
            .map(|(address, page)| (page.at, address.clone()))
            .collect();
        by_age.sort_unstable();
        // A tenth more than needed, so the next pages do not each sort the lot again.
        let target = (MAX_BYTES - MAX_BYTES / 10).saturating_sub(wanted);
        for (_, address) in by_age {
            if self.bytes <= target {
                break;
            }
            self.remove(&address);
        }
    }
}

impl KeptPages {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The page kept at `address`, unless it expired.
    pub fn get(&self, address: &str) -> Option<Arc<KeptPage>> {
        self.lock()
            .pages
            .get(address)
            .filter(|page| page.fresh())
            .map(Arc::clone)
    }

    /// Keeps `page` at `address`, rendered from `rendering_began`: unless its item was dropped
    /// since, or the page alone is larger than the store.
    pub fn put(&self, address: String, rendering_began: Instant, page: KeptPage) {
        let bytes = page.bytes(&address);
        if bytes > MAX_BYTES / 16 {
            return;
        }
        let mut inner = self.lock();
        if let Keepable::Item(id) = page.kind
            && inner
                .drops
                .get(&id)
                .is_some_and(|dropped| *dropped >= rendering_began)
        {
            return;
        }
        inner.remove(&address);
        inner.make_room(bytes);
        inner.bytes += bytes;
        inner.pages.insert(address, Arc::new(page));
    }

    /// Drops the pages of these items: they changed. Call it after their other cached copies
    /// (Redis) were dropped, so that a page rendered from those is never kept.
    pub fn forget_items(&self, ids: &[ItemId]) {
        if ids.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut inner = self.lock();
        for id in ids {
            inner.remove(&format!("/items/{id}"));
            inner.drops.insert(*id, now);
        }
        if inner.drops.len() > inner.prune_drops_past.max(DROPS_PRUNED_PAST) {
            inner
                .drops
                .retain(|_, dropped| dropped.elapsed() < DROP_MEMORY);
            inner.prune_drops_past = inner.drops.len() * 2;
        }
    }

    /// Drops every page: what they all show changed (a category). A page rendered before the
    /// drop may still be kept after it; it lives its own lifetime at most.
    pub fn forget_all(&self) {
        let mut inner = self.lock();
        inner.pages.clear();
        inner.bytes = 0;
    }

    /// The bytes of pages kept now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::id::ShardId;

    fn item(local: u64) -> ItemId {
        ItemId::new(ShardId::new(0).unwrap(), local).unwrap()
    }

    fn page(kind: Keepable, html: &str) -> KeptPage {
        KeptPage {
            kind,
            at: Instant::now(),
            headers: HeaderMap::new(),
            html: html.into(),
            nonce: "n".into(),
        }
    }

    #[test]
    fn only_category_pages_and_bare_item_pages_are_kept() {
        let id = item(7);
        assert_eq!(
            Keepable::of("/categories/lamps", Some("sort=price")),
            Some(Keepable::Listing)
        );
        assert_eq!(
            Keepable::of(&format!("/items/{id}"), None),
            Some(Keepable::Item(id))
        );
        assert_eq!(Keepable::of(&format!("/items/{id}"), Some("x=1")), None);
        assert_eq!(Keepable::of("/items/not-an-id", None), None);
        assert_eq!(Keepable::of("/cart", None), None);
    }

    #[test]
    fn an_item_page_is_answered_until_its_item_changes() {
        let pages = KeptPages::default();
        let id = item(1);
        let address = format!("/items/{id}");
        pages.put(
            address.clone(),
            Instant::now(),
            page(Keepable::Item(id), "old"),
        );
        assert_eq!(pages.get(&address).unwrap().html, "old");
        pages.forget_items(&[id]);
        assert!(pages.get(&address).is_none());
        assert_eq!(pages.bytes(), 0);
    }

    #[test]
    fn a_page_rendered_while_its_item_changed_is_not_kept() {
        let pages = KeptPages::default();
        let id = item(2);
        let address = format!("/items/{id}");
        let began = Instant::now();
        pages.forget_items(&[id]);
        pages.put(address.clone(), began, page(Keepable::Item(id), "stale"));
        assert!(
            pages.get(&address).is_none(),
            "it may show the item before the change"
        );
        std::thread::sleep(Duration::from_millis(1));
        pages.put(
            address.clone(),
            Instant::now(),
            page(Keepable::Item(id), "new"),
        );
        assert_eq!(pages.get(&address).unwrap().html, "new");
    }

    #[test]
    fn a_category_change_drops_every_page() {
        let pages = KeptPages::default();
        let id = item(3);
        pages.put(
            format!("/items/{id}"),
            Instant::now(),
            page(Keepable::Item(id), "i"),
        );
        pages.put(
            "/categories/a".into(),
            Instant::now(),
            page(Keepable::Listing, "c"),
        );
        pages.forget_all();
        assert!(pages.get(&format!("/items/{id}")).is_none());
        assert!(pages.get("/categories/a").is_none());
        assert_eq!(pages.bytes(), 0);
    }

    #[test]
    fn a_category_page_expires_by_itself() {
        let pages = KeptPages::default();
        let mut old = page(Keepable::Listing, "listing");
        old.at = Instant::now().checked_sub(LISTING_TTL).unwrap();
        pages.put("/categories/a".into(), Instant::now(), old);
        assert!(pages.get("/categories/a").is_none());
    }

    #[test]
    fn past_the_bound_the_oldest_pages_go() {
        let pages = KeptPages::default();
        let html = "x".repeat(MAX_BYTES / 32);
        for n in 1..=40 {
            let id = item(n);
            pages.put(
                format!("/items/{id}"),
                Instant::now(),
                page(Keepable::Item(id), &html),
            );
        }
        assert!(pages.bytes() <= MAX_BYTES);
        assert!(
            pages.get(&format!("/items/{}", item(1))).is_none(),
            "the oldest went"
        );
        assert!(
            pages.get(&format!("/items/{}", item(40))).is_some(),
            "the newest stays"
        );
    }
}
