//! Payments: what Surge needs from a payment processor (a trait, behind a circuit breaker) and how
//! the two trust each other's messages. (Payments of checkouts, placement and refunds of orders
//! arrive with the rest of the payments work.)

pub mod model;

#[cfg(feature = "ssr")]
pub mod breaker;
#[cfg(feature = "ssr")]
pub mod processor;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod signature;
