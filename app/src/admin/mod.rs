//! Administration: who may change the catalog.
//!
//! Until accounts and roles land, admin operations are gated by one configured token, sent as
//! `Authorization: Bearer <token>` to the REST API. Without a configured token every admin
//! operation is refused: a shop is never left open by a missing setting.

#[cfg(feature = "ssr")]
pub mod gate;
