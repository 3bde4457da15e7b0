//! Surge's application crate: everything the storefront and the admin console share between the
//! server and the browser.
//!
//! The crate is organised by domain (`catalog`, `status`, ...), plus `shard` (how data is spread
//! over the database servers) and `ui` (the layout and shared components). Server-only code (SQL,
//! Redis, the services that hold the rules) sits behind the `ssr` feature, so the WASM bundle never
//! contains it.

pub mod accounts;
pub mod admin;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod error;
pub mod money;
pub mod payments;
pub mod search;
pub mod shard;
pub mod status;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod events;
#[cfg(feature = "ssr")]
pub mod rate_limit;
#[cfg(feature = "ssr")]
pub mod redis_store;
#[cfg(feature = "ssr")]
pub mod request;
#[cfg(feature = "ssr")]
pub mod state;

pub use ui::{App, shell};
