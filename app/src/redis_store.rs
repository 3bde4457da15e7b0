//! Redis: sessions, carts, caches, rate limits and the event stream live here.
//!
//! One multiplexed connection per server copy, connected lazily and re-established by itself, so
//! Surge starts and serves (more slowly, where a cache is missing) while Redis is down. Every key
//! goes through [`Redis::key`], which puts the configured prefix in front: tests and several shops
//! can share one Redis without seeing each other's keys.

use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::shard::topology::SecretUrl;

/// Redis settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedisSettings {
    /// `redis://host:port/db`.
    pub url: SecretUrl,
    /// Put in front of every key, followed by `:`.
    pub key_prefix: String,
    /// How long one command may take before Redis counts as unavailable.
    pub response_timeout_ms: u64,
    /// How long connecting may take.
    pub connect_timeout_ms: u64,
}

impl RedisSettings {
    /// The local stack's Redis.
    pub fn local(port: u16) -> Self {
        RedisSettings {
            url: SecretUrl::new(format!("redis://127.0.0.1:{port}/0")),
            key_prefix: "surge".into(),
            response_timeout_ms: 1000,
            connect_timeout_ms: 1000,
        }
    }
}

/// Why a Redis command failed.
#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct RedisError(#[from] redis::RedisError);

impl From<RedisError> for AppError {
    fn from(error: RedisError) -> Self {
        tracing::warn!(%error, "redis command failed");
        AppError::Unavailable {
            what: "redis".into(),
        }
    }
}

/// The shared Redis connection. Cheap to clone.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    connection: ConnectionManager,
    key_prefix: String,
}

impl Redis {
    /// Prepares the connection without connecting.
    pub fn connect_lazy(settings: &RedisSettings) -> Result<Self, RedisError> {
        let client = redis::Client::open(settings.url.expose())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)))
            .set_response_timeout(Some(Duration::from_millis(settings.response_timeout_ms)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Redis {
            client,
            connection,
            key_prefix: settings.key_prefix.clone(),
        })
    }

    /// The full key for `name`, with the configured prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{}", self.key_prefix, name)
    }

    /// A handle to run commands on (the connection is multiplexed; cloning it is cheap).
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// A connection of its own, for commands that block (reading a stream); `response_timeout`
    /// must exceed the longest block.
    pub async fn dedicated(
        &self,
        response_timeout: Duration,
    ) -> Result<redis::aio::MultiplexedConnection, RedisError> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(response_timeout));
        Ok(self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?)
    }

    /// Deletes every key of this prefix (tests, and `surge reset`); returns how many. SCAN walks
    /// the keyspace in batches, so Redis keeps serving meanwhile.
    pub async fn delete_all_keys(&self) -> Result<u64, RedisError> {
        let mut connection = self.connection();
        let pattern = self.key("*");
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await?;
            if !keys.is_empty() {
                let removed: u64 = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut connection)
                    .await?;
                deleted += removed;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// Checks Redis answers; returns the round-trip time.
    pub async fn ping(&self) -> Result<Duration, RedisError> {
        let started = Instant::now();
        let mut connection = self.connection();
        let _: String = redis::cmd("PING").query_async(&mut connection).await?;
        Ok(started.elapsed())
    }
}
