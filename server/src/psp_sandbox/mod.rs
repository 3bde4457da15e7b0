//! `surge psp-sandbox`: a payment processor's test mode, as a process of its own.
//!
//! Surge cannot reach a real payment processor, so it ships one that behaves like one: its own
//! port, its own database (durable: a restart loses nothing), a merchant API behind an API key
//! (`/v1/payment-requests`: a payment request gets a virtual account and a dynamic EMVCo QR
//! payload), and a "bank app" (`/bank`) where a person pays a request by pasting its payload or
//! opening its link, as a phone does after scanning the code, with any amount and as often as
//! they like. Every transfer queues a signed webhook to the request's `webhook_url`, sent until
//! acknowledged.

pub mod api;
pub mod bank;
pub mod emv;
pub mod faults;
pub mod store;
pub mod webhooks;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use app::shard::pool::{Pool, PoolLimits};
use serde::{Deserialize, Serialize};
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{Connection, MySqlConnection};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::Settings;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/psp_sandbox");

/// The sandbox processor's settings (`psp_sandbox.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSettings {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The merchant API key (`Authorization: Bearer ...`). No default: set it in the
    /// environment (`SURGE_PSP_SANDBOX__API_KEY`); `make run` generates one per machine.
    pub api_key: Option<String>,
    /// The secret webhooks are signed with (HMAC-SHA256); Surge verifies with the same. No
    /// default, like the API key (`SURGE_PSP_SANDBOX__WEBHOOK_SECRET`).
    pub webhook_secret: Option<String>,
    /// Its database, on the directory's server: `<database.prefix>_<database>`.
    pub database: String,
    /// What the QR codes name as the merchant.
    pub merchant_name: String,
    pub merchant_city: String,
    /// ISO 3166 alpha-2.
    pub country: String,
    /// ISO 18245 merchant category code.
    pub merchant_category: String,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            addr: SocketAddr::from(([127, 0, 0, 1], 3900)),
            api_key: None,
            webhook_secret: None,
            database: "psp_sandbox".into(),
            merchant_name: "Surge Shop".into(),
            merchant_city: "Berlin".into(),
            country: "DE".into(),
            merchant_category: "5311".into(),
        }
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct Sandbox {
    /// The sandbox's database (the shards' pool: it pings a connection only after it sat idle,
    /// not on every use as sqlx's pool does).
    pub pool: Arc<Pool>,
    pub settings: SandboxSettings,
    /// Where links to the bank pages point.
    pub base_url: String,
    /// The injected faults.
    pub faults: faults::FaultSwitch,
    /// Wakes the webhook sender when a transfer queued an event, so a payment's webhook leaves
    /// at once rather than at the queue's next look.
    pub queued: Arc<Notify>,
}

/// The sandbox's database: its name and the server's connection options.
fn database(settings: &Settings) -> anyhow::Result<(String, MySqlConnectOptions)> {
    let topology = settings.topology()?;
    let directory = topology
        .databases
        .iter()
        .find(|plan| plan.role == app::shard::topology::Role::Directory)
        .ok_or_else(|| anyhow::anyhow!("the shard map has no directory"))?;
    let name = format!(
        "{}_{}",
        settings.database.prefix, settings.psp_sandbox.database
    );
    anyhow::ensure!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "psp_sandbox.database: use a-z, 0-9 and _"
    );
    let options = MySqlConnectOptions::from_str(directory.url.expose())?.charset("utf8mb4");
    Ok((name, options))
}

/// Creates (if missing) and migrates the sandbox's database, and connects to it.
async fn connect(settings: &Settings) -> anyhow::Result<Pool> {
    let (name, server) = database(settings)?;
    let mut connection = MySqlConnection::connect_with(&server).await?;
    sqlx::query(&format!(
        "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .execute(&mut connection)
    .await?;
    connection.close().await?;
    let pool = Pool::new(
        server.database(&name),
        PoolLimits {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(300),
        },
    );
    MIGRATIONS.run(&mut *pool.acquire().await?).await?;
    Ok(pool)
}

/// Drops the sandbox's database (tests and benchmarks clean up with it).
pub async fn drop_database(settings: &Settings) -> anyhow::Result<()> {
    let (name, server) = database(settings)?;
    let mut connection = MySqlConnection::connect_with(&server).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`"))
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    Ok(())
}

/// The sandbox bound to its port, ready to serve.
pub struct SandboxServer {
    listener: TcpListener,
    sandbox: Sandbox,
}

impl SandboxServer {
    /// Migrates its database and binds its port.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let long_enough = |value: &Option<String>| value.as_ref().is_some_and(|v| v.len() >= 16);
        anyhow::ensure!(
            long_enough(&settings.psp_sandbox.api_key),
            "psp_sandbox.api_key: set at least 16 characters (SURGE_PSP_SANDBOX__API_KEY)"
        );
        anyhow::ensure!(
            long_enough(&settings.psp_sandbox.webhook_secret),
            "psp_sandbox.webhook_secret: set at least 16 characters (SURGE_PSP_SANDBOX__WEBHOOK_SECRET)"
        );
        let pool = connect(settings).await?;
        let listener = TcpListener::bind(settings.psp_sandbox.addr).await?;
        let addr = listener.local_addr()?;
        Ok(SandboxServer {
            listener,
            sandbox: Sandbox {
                pool: Arc::new(pool),
                settings: settings.psp_sandbox.clone(),
                base_url: format!("http://{addr}"),
                faults: faults::FaultSwitch::default(),
                queued: Arc::default(),
            },
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let merchant_api = api::router().layer(axum::middleware::from_fn_with_state(
            self.sandbox.clone(),
            faults::inject,
        ));
        let router = axum::Router::new()
            .merge(merchant_api)
            .merge(faults::router())
            .merge(bank::router())
            .with_state(self.sandbox.clone());
        tracing::info!(addr = %self.sandbox.base_url, "payment processor sandbox listening");
        let sender = tokio::spawn(webhooks::run(self.sandbox.clone()));
        let result = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        sender.abort();
        self.sandbox.pool.close().await;
        result
    }
}
