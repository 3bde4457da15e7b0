//! Surge's side of the payment processor: the HTTP client of the processor's merchant API.

pub mod http_processor;
