//! Surge's configuration: one typed struct, read once at start.
//!
//! Layers, each overriding the one before: built-in defaults (the local stack of
//! `scripts/stack.sh`), then an optional TOML file (`--config FILE` or `SURGE_CONFIG`; see
//! `deploy/surge.example.toml`), then `SURGE_*` environment variables, with `__` between nested
//! keys (`SURGE_HTTP__ADDR=0.0.0.0:3000`, `SURGE_DATABASE__PREFIX=shop`). Connection URLs are
//! wrapped so they never print.

use std::net::SocketAddr;
use std::path::Path;

use app::checkout::service::CheckoutSettings;
use app::redis_store::RedisSettings;
use app::shard::topology::{DatabaseSettings, Topology, TopologyError};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::psp_sandbox::SandboxSettings;

/// The local stack's first MariaDB port; the other two follow it.
pub const LOCAL_MARIADB_PORT: u16 = 3307;
/// The local stack's Redis port.
pub const LOCAL_REDIS_PORT: u16 = 6380;

/// The default `http.compression_level`: the fastest. The read mix of `surge load black-friday`
/// ran at about 5,100 answers a second uncompressed, 3,900 to 4,900 at level 1 and 3,000 to 3,300 at
/// level 4 (tower-http's own brotli level) on one 2-core machine, while level 1 made pages only a
/// few percent larger than level 4.
const COMPRESSION_LEVEL: u32 = 1;

/// The default `http.compression_min_bytes`: about what TCP's first window carries (ten segments,
/// RFC 6928), so a smaller answer reaches a new connection in one round trip compressed or not.
/// Compressing the item page (3.6 KB) cost a fifth of its CPU.
const COMPRESSION_MIN_BYTES: u16 = 14_000;

/// Every setting of a Surge process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub http: HttpSettings,
    pub site: SiteSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub checkout: CheckoutSettings,
    pub psp_sandbox: SandboxSettings,
    pub payments: PaymentSettings,
    pub log: LogSettings,
}

/// How Surge reaches its payment processor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSettings {
    /// The processor's merchant API.
    pub processor_url: String,
    /// Its API key (`SURGE_PAYMENTS__API_KEY`); without one, payments answer "unavailable".
    pub api_key: Option<String>,
    /// How long one call to the processor may take.
    pub timeout_ms: u64,
    /// Failures in a row that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long the open breaker refuses calls before a trial.
    pub breaker_open_ms: u64,
    /// Surge's public address of `POST /api/v1/payments/webhook`, where the processor posts its
    /// events (none: the poller alone confirms payments, within 5 seconds).
    pub webhook_url: Option<String>,
    /// The secret the processor signs its events with (`SURGE_PAYMENTS__WEBHOOK_SECRET`); without
    /// one, webhooks are refused.
    pub webhook_secret: Option<String>,
}

/// The HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpSettings {
    pub addr: SocketAddr,
    /// The kernel's queue of not-yet-accepted connections: the default (1024) gave one-second
    /// latency tails at 3000 concurrent connections.
    pub listen_backlog: u32,
    /// The largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// A request that takes longer than this is answered with 408.
    pub request_timeout_ms: u64,
    /// How hard answers are compressed for clients that accept gzip or brotli, from 1 (fastest)
    /// to 9; 0 sends them as they are, for a deployment behind a proxy or CDN that compresses.
    pub compression_level: u32,
    /// Answers smaller than this go as they are: compressing them saves bytes but no round trip.
    pub compression_min_bytes: u16,
    /// The most requests a copy works on at once (see `http::brake`); the probes do not count.
    pub max_in_flight: u32,
    /// How long a request past `max_in_flight` waits for its turn before it is answered `503`.
    pub queue_wait_ms: u64,
}

impl HttpSettings {
    fn validate(&self) -> Result<(), String> {
        if self.max_in_flight == 0 {
            return Err("http.max_in_flight must be at least 1".into());
        }
        if self.queue_wait_ms >= self.request_timeout_ms {
            return Err(format!(
                "http.queue_wait_ms ({}) must be shorter than http.request_timeout_ms ({})",
                self.queue_wait_ms, self.request_timeout_ms
            ));
        }
        if self.compression_level > 9 {
            return Err(format!(
                "http.compression_level: {} is not between 0 (off) and 9",
                self.compression_level
            ));
        }
        Ok(())
    }
}

/// Where the compiled site (the WASM bundle, CSS and assets) is served from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSettings {
    /// The folder `cargo leptos build` writes (`target/site`).
    pub root: String,
    /// The bundle's folder inside `root`.
    pub pkg_dir: String,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSettings {
    /// A `tracing` filter (`info`, `server=debug,info`); `RUST_LOG` wins when set.
    pub filter: String,
    /// One JSON object per line, for a log collector, instead of text.
    pub json: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: HttpSettings {
                addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
                listen_backlog: 4096,
                body_limit_bytes: 64 * 1024,
                request_timeout_ms: 15_000,
                compression_level: COMPRESSION_LEVEL,
                compression_min_bytes: COMPRESSION_MIN_BYTES,
                max_in_flight: 512,
                queue_wait_ms: 100,
            },
            site: SiteSettings {
                root: "target/site".into(),
                pkg_dir: "pkg".into(),
            },
            database: DatabaseSettings::local(LOCAL_MARIADB_PORT),
            redis: RedisSettings::local(LOCAL_REDIS_PORT),
            checkout: CheckoutSettings::default(),
            psp_sandbox: SandboxSettings::default(),
            payments: PaymentSettings {
                processor_url: "http://127.0.0.1:3900".into(),
                api_key: None,
                timeout_ms: 3000,
                breaker_failures: 5,
                breaker_open_ms: 10_000,
                webhook_url: None,
                webhook_secret: None,
            },
            log: LogSettings {
                filter: "info,tantivy=warn".into(),
                json: false,
            },
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Read(#[from] Box<figment::Error>),
    #[error("configuration: shard map: {0}")]
    Topology(#[from] TopologyError),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Defaults, then the file (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let settings: Settings = figment
            .merge(Env::prefixed("SURGE_").split("__"))
            .extract()
            .map_err(|e| ConfigError::Read(Box::new(e)))?;
        settings.http.validate().map_err(ConfigError::Invalid)?;
        settings.checkout.validate().map_err(ConfigError::Invalid)?;
        Ok(settings)
    }

    /// The validated shard map with its pool sizes.
    pub fn topology(&self) -> Result<Topology, ConfigError> {
        Ok(Topology::plan(&self.database)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_local_stack() {
        let settings = Settings::default();
        let topology = settings.topology().unwrap();
        assert_eq!(topology.databases.len(), 4);
        assert_eq!(settings.http.addr.port(), 3000);
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn a_file_overrides_the_defaults_and_the_environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "surge.toml",
                r#"
                [http]
                addr = "0.0.0.0:8080"
                [database]
                prefix = "shop"
                server_copies = 4
                "#,
            )?;
            jail.set_env("SURGE_DATABASE__PREFIX", "override");
            jail.set_env("SURGE_CHECKOUT__HOLD_SECONDS", "30");
            let settings = Settings::load(Some(Path::new("surge.toml"))).expect("loads");
            assert_eq!(settings.http.addr.port(), 8080);
            assert_eq!(settings.checkout.hold_seconds, 30);
            assert_eq!(settings.database.server_copies, 4);
            assert_eq!(settings.database.prefix, "override");
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn a_brake_without_turns_or_waiting_past_the_timeout_is_refused_and_named() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SURGE_HTTP__MAX_IN_FLIGHT", "0");
            let error = Settings::load(None).expect_err("refused");
            assert!(error.to_string().contains("http.max_in_flight"), "{error}");
            jail.set_env("SURGE_HTTP__MAX_IN_FLIGHT", "64");
            jail.set_env("SURGE_HTTP__QUEUE_WAIT_MS", "15000");
            let error = Settings::load(None).expect_err("refused");
            assert!(error.to_string().contains("http.queue_wait_ms"), "{error}");
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn checkout_settings_out_of_bounds_are_refused_and_named() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SURGE_CHECKOUT__HOLD_SECONDS", "0");
            let error = Settings::load(None).expect_err("refused");
            assert!(
                error.to_string().contains("checkout.hold_seconds"),
                "{error}"
            );
            jail.set_env("SURGE_CHECKOUT__HOLD_SECONDS", "120");
            jail.set_env("SURGE_CHECKOUT__PER_CUSTOMER_PER_MINUTE", "0");
            let error = Settings::load(None).expect_err("refused");
            assert!(
                error
                    .to_string()
                    .contains("checkout.per_customer_per_minute"),
                "{error}"
            );
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn a_compression_level_above_nine_is_refused_and_named() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SURGE_HTTP__COMPRESSION_LEVEL", "10");
            let error = Settings::load(None).expect_err("refused");
            assert!(
                error.to_string().contains("http.compression_level"),
                "{error}"
            );
            jail.set_env("SURGE_HTTP__COMPRESSION_LEVEL", "0");
            let settings = Settings::load(None).expect("0 turns compression off");
            assert_eq!(settings.http.compression_level, 0);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn the_example_deployment_file_is_valid() {
        // In a jail: other tests set SURGE_* variables, and jails take turns.
        figment::Jail::expect_with(|_| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/surge.example.toml");
            let settings = Settings::load(Some(&path)).expect("the example loads");
            let topology = settings
                .topology()
                .expect("the example's shard map is valid");
            assert!(topology.databases.len() > 4);
            Ok(())
        });
    }
}
