//! Catalog pages and search answers made for visitors who are not signed in, kept in this server
//! copy's memory, with their bodies compressed once.
//!
//! A category page, an item page or a search's answer is the same for every visitor without a
//! session, and rendering, serializing and compressing them was most of the read mix's CPU. The
//! HTTP layer (`kept_pages` in the server) answers visitors from here and keeps what it made;
//! this is the store and its rules:
//! - a category page lives [`LISTING_TTL`]: its listing is cached for two seconds already, so the
//!   stock it shows lags by three seconds at most;
//! - an item page lives until its item changes, [`ITEM_TTL`] at most (a bound on a missed event;
//!   give or take a quarter, by address, so that the pages of a sale's first seconds do not all
//!   expire together).
//!   This copy drops it right after its own writes (`catalog::service::forget_cached_items`),
//!   every other copy when the item's event arrives, as they drop the item's Redis entry. A page
//!   whose rendering began before its item's last drop is not kept: it may show the item as it
//!   was. A hold's event drops it too, once the Redis entry shows the stock left (see `cache`).
//!   Once hydrated, the page refreshes its stock by itself every few seconds;
//! - a search's answer (the API's or the search page) lives until this copy's index next
//!   changes: each copy has an index of its own, so no event can be missed; a search answered
//!   before the change began is not kept;
//! - a change of any category drops every page: they all name categories; one made before the
//!   drop began is not kept;
//! - at most [`MAX_BYTES`] of pages: past it, the expired pages go, then the oldest.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http::HeaderMap;

use crate::shard::id::ItemId;

/// How long a rendered category page is answered.
pub const LISTING_TTL: Duration = Duration::from_secs(1);
/// How long a rendered item page is answered when no change of its item drops it first.
pub const ITEM_TTL: Duration = Duration::from_secs(60);
/// How long a search's answer is kept when no change of the index drops it first.
pub const SEARCH_TTL: Duration = Duration::from_secs(60);
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
    /// A search's answer: the API's JSON or the search page, any query.
    Search,
}

impl Keepable {
    /// The kind of page at `path` with `query`, if it is kept at all.
    pub fn of(path: &str, query: Option<&str>) -> Option<Self> {
        if path.starts_with("/categories/") {
            return Some(Keepable::Listing);
        }
        if path == "/api/v1/search" || path == "/search" {
            return Some(Keepable::Search);
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
            Keepable::Search => SEARCH_TTL,
        }
    }
}

/// One kept answer: its headers (whatever the encoding) and its body in each encoding it is sent.
#[derive(Debug)]
pub struct KeptPage {
    pub kind: Keepable,
    pub at: Instant,
    pub headers: HeaderMap,
    pub bodies: Bodies,
}

/// A kept answer's body as it is and, when the shop compresses it, in each encoding a client
/// asks for, each made once (at the first answer in it).
#[derive(Debug)]
pub struct Bodies {
    pub identity: Bytes,
    /// Whether the shop compresses this body (its type and size call for it).
    pub compressible: bool,
    /// `None` inside when it could not be compressed: the body goes as it is.
    pub brotli: OnceLock<Option<Bytes>>,
    pub gzip: OnceLock<Option<Bytes>>,
}

impl Bodies {
    pub fn new(identity: Bytes, compressible: bool) -> Self {
        Bodies {
            identity,
            compressible,
            brotli: OnceLock::new(),
            gzip: OnceLock::new(),
        }
    }

    /// The bytes the store counts for these bodies: the compressed ones are made later, so they
    /// are counted ahead at half the body's size (both together; HTML and JSON compress to well
    /// under a quarter each).
    fn bytes(&self) -> usize {
        if self.compressible {
            self.identity.len() + self.identity.len() / 2
        } else {
            self.identity.len()
        }
    }
}

impl KeptPage {
    /// Whether the page kept at `address` is still answered. An item page or a search answer
    /// lives its kind's lifetime give or take a quarter, the same for an address every time:
    /// the pages made in a sale's first seconds do not all expire, and get made again, in the
    /// same second.
    fn fresh(&self, address: &str) -> bool {
        let lifetime = self.kind.lifetime();
        let lifetime = match self.kind {
            Keepable::Listing => lifetime,
            Keepable::Item(_) | Keepable::Search => {
                let mut hasher = std::hash::DefaultHasher::new();
                address.hash(&mut hasher);
                let spread = u32::try_from(hasher.finish() % 1024).unwrap_or(0);
                lifetime * 3 / 4 + lifetime * spread / 2048
            }
        };
        self.at.elapsed() < lifetime
    }

    fn bytes(&self, address: &str) -> usize {
        self.bodies.bytes() + address.len() + PAGE_OVERHEAD_BYTES
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
    /// When the search answers were last dropped.
    searches_dropped: Option<Instant>,
    /// When every page was last dropped.
    all_dropped: Option<Instant>,
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
            .filter(|(address, page)| !page.fresh(address))
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
            .filter(|page| page.fresh(address))
            .map(Arc::clone)
    }

    /// Keeps `page` at `address`, made from `rendering_began`: unless what it shows was dropped
    /// since (its item, the search answers, or every page), or the page alone is larger than
    /// the store.
    pub fn put(&self, address: String, rendering_began: Instant, page: KeptPage) {
        let bytes = page.bytes(&address);
        if bytes > MAX_BYTES / 16 {
            return;
        }
        let mut inner = self.lock();
        let dropped_since =
            |dropped: Option<&Instant>| dropped.is_some_and(|d| *d >= rendering_began);
        let stale = dropped_since(inner.all_dropped.as_ref())
            || match page.kind {
                Keepable::Item(id) => dropped_since(inner.drops.get(&id)),
                Keepable::Search => dropped_since(inner.searches_dropped.as_ref()),
                Keepable::Listing => false,
            };
        if stale {
            return;
        }
        inner.remove(&address);
        inner.make_room(bytes);
        inner.bytes += bytes;
        inner.pages.insert(address, Arc::new(page));
    }

    /// Drops the pages of these items: they changed. Call it after their other cached copies
    /// (Redis) were dropped or lowered, so that a page rendered from those is never kept.
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

    /// Drops every search answer: the index changed. Call it once the change is searchable.
    pub fn forget_searches(&self) {
        let mut inner = self.lock();
        let searches: Vec<String> = inner
            .pages
            .iter()
            .filter(|(_, page)| page.kind == Keepable::Search)
            .map(|(address, _)| address.clone())
            .collect();
        for address in searches {
            inner.remove(&address);
        }
        inner.searches_dropped = Some(Instant::now());
    }

    /// Drops every page: what they all show changed (a category).
    pub fn forget_all(&self) {
        let mut inner = self.lock();
        inner.pages.clear();
        inner.bytes = 0;
        inner.all_dropped = Some(Instant::now());
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
            bodies: Bodies::new(Bytes::copy_from_slice(html.as_bytes()), false),
        }
    }

    fn body(pages: &KeptPages, address: &str) -> Option<Bytes> {
        pages.get(address).map(|page| page.bodies.identity.clone())
    }

    #[test]
    fn only_category_pages_bare_item_pages_and_searches_are_kept() {
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
        assert_eq!(
            Keepable::of("/api/v1/search", Some("q=lamp")),
            Some(Keepable::Search)
        );
        assert_eq!(
            Keepable::of("/search", Some("q=lamp")),
            Some(Keepable::Search)
        );
        assert_eq!(Keepable::of("/api/v1/items", None), None);
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
        assert_eq!(body(&pages, &address).unwrap(), "old");
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
        assert_eq!(body(&pages, &address).unwrap(), "new");
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
    fn a_page_made_while_every_page_was_dropped_is_not_kept() {
        let pages = KeptPages::default();
        let began = Instant::now();
        pages.forget_all();
        pages.put("/categories/a".into(), began, page(Keepable::Listing, "c"));
        assert!(body(&pages, "/categories/a").is_none());
    }

    #[test]
    fn search_answers_are_answered_until_the_index_changes() {
        let pages = KeptPages::default();
        let id = item(4);
        let search = "/api/v1/search?q=lamp".to_owned();
        let began = Instant::now();
        pages.put(search.clone(), began, page(Keepable::Search, "[]"));
        pages.put(format!("/items/{id}"), began, page(Keepable::Item(id), "i"));
        pages.forget_items(&[id]);
        assert_eq!(
            body(&pages, &search).unwrap(),
            "[]",
            "an item's page is not a search"
        );
        pages.forget_searches();
        assert!(body(&pages, &search).is_none());
        pages.put(search.clone(), began, page(Keepable::Search, "stale"));
        assert!(
            body(&pages, &search).is_none(),
            "answered before the index changed"
        );
        std::thread::sleep(Duration::from_millis(1));
        pages.put(
            search.clone(),
            Instant::now(),
            page(Keepable::Search, "new"),
        );
        assert_eq!(body(&pages, &search).unwrap(), "new");
        pages.forget_searches();
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
    fn item_pages_expire_spread_around_their_lifetime() {
        let ages: Vec<bool> = (1..=200)
            .map(|n| {
                let id = item(n);
                let mut old = page(Keepable::Item(id), "i");
                old.at = Instant::now().checked_sub(ITEM_TTL).unwrap();
                old.fresh(&format!("/items/{id}"))
            })
            .collect();
        let still = ages.iter().filter(|fresh| **fresh).count();
        assert!(
            (40..=160).contains(&still),
            "{still} of 200 pages a lifetime old are still answered"
        );
        let mut ancient = page(Keepable::Item(item(1)), "i");
        ancient.at = Instant::now().checked_sub(ITEM_TTL * 5 / 4).unwrap();
        assert!(!ancient.fresh(&format!("/items/{}", item(1))));
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
