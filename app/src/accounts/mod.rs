//! Accounts: customers and admins, their sessions, and who may do what.
//!
//! Passwords are hashed with argon2id ([`password`]); sessions are random tokens in Redis
//! ([`session`]) sent as a cookie or a bearer token; every front door authenticates through
//! [`service::authenticate`] and authorizes with [`service::require_user`] and
//! [`service::require_admin`].

pub mod model;
pub mod server_fns;
pub mod views;

#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod session;
