//! The admin console (`/admin/...`): categories, items and their stock, and the accounts. Every
//! admin server function checks, on the server, that the request's session belongs to an admin
//! account; customers get 403 and anonymous visitors are sent to sign in.

pub mod server_fns;
pub mod views;
