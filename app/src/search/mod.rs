//! Search: full text over item names and descriptions, typo tolerant, with category counts, price
//! and stock filters, sorting and paging.
//!
//! Every server copy keeps its own in-process index ([`engine`]), built from every shard at start
//! and kept current from the event stream, so search reads scale with the number of copies and
//! never touch the databases. The index sits behind the [`engine::SearchEngine`] trait, so an
//! external engine can replace it.

pub mod model;
pub mod server_fns;
pub mod views;

#[cfg(feature = "ssr")]
pub mod engine;
#[cfg(feature = "ssr")]
pub mod service;
