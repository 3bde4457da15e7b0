//! The cart: what a shopper means to buy, kept in Redis (never in the databases: carts are many,
//! short-lived and written often). A signed-in customer's cart follows the account; a visitor's
//! follows a cookie and is merged into the account's at sign-in. Nothing is held until checkout:
//! the cart page shows where stock has fallen below the quantity or a price has changed.

pub mod model;
pub mod server_fns;
pub mod views;

#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod store;
