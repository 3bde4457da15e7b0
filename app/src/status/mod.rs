//! The health of the shop's dependencies: every database of the shard map and Redis.
//!
//! The same check answers `GET /healthz` (for load balancers and operators) and the storefront's
//! status panel (through a server function).

pub mod model;
pub mod server_fns;
pub mod views;

#[cfg(feature = "ssr")]
pub mod service;
