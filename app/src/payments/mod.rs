//! Payments: how Surge and a payment processor trust each other's messages. (Payment requests
//! for checkouts, placement and refunds arrive with the rest of the payments work.)

#[cfg(feature = "ssr")]
pub mod signature;
