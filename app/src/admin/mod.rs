//! Administration: the admin console (`/admin/...`) and who may use it.
//!
//! Until accounts and roles land, admin operations are gated by one configured token: sent as
//! `Authorization: Bearer <token>` to the REST API, or entered once on the console's sign-in page,
//! which starts an admin session. Without a configured token every admin operation is refused: a
//! shop is never left open by a missing setting. Every admin server function checks the session
//! on the server.

pub mod server_fns;
pub mod views;

#[cfg(feature = "ssr")]
pub mod gate;
#[cfg(feature = "ssr")]
pub mod session;
