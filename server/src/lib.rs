//! The Surge process: configuration, telemetry, the HTTP front doors and the subcommands.
//!
//! `main.rs` only parses the command line; everything here is a library so the integration tests
//! start the very same server ([`startup::Application`]) on a free port.

pub mod admin;
pub mod api;
pub mod audit;
pub mod bench;
pub mod config;
pub mod http;
pub mod jobs;
pub mod open_files;
pub mod payments;
pub mod psp_sandbox;
pub mod seed;
pub mod startup;
pub mod telemetry;
