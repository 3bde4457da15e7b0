//! Payments: what Surge needs from a payment processor (a trait, behind a circuit breaker), how
//! the two trust each other's messages, paying a checkout, and settling what the processor
//! received into placed orders and refunds.

pub mod admin_views;
pub mod model;
pub mod server_fns;
pub mod views;

#[cfg(feature = "ssr")]
pub mod audit;
#[cfg(feature = "ssr")]
pub mod breaker;
#[cfg(feature = "ssr")]
pub mod processor;
#[cfg(feature = "ssr")]
pub mod progress;
#[cfg(feature = "ssr")]
pub mod qr;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod settle;
#[cfg(feature = "ssr")]
pub mod signature;

/// How the processor reaches Surge with its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Webhooks {
    /// Surge's public address of `POST /api/v1/payments/webhook`, given to the processor with
    /// every payment request (none: the poller alone confirms payments).
    pub url: Option<String>,
    /// The secret shared with the processor that signs its events.
    pub secret: Option<String>,
}
