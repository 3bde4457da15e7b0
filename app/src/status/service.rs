//! Checking every dependency, all at once, each with a deadline.

use std::time::Duration;

use super::model::{ComponentHealth, Health};
use crate::state::AppState;

/// No single check may hold a health probe longer than this.
const CHECK_DEADLINE: Duration = Duration::from_secs(3);

fn answered(name: &str, server: &str, latency: Duration) -> ComponentHealth {
    ComponentHealth {
        name: name.to_owned(),
        server: server.to_owned(),
        up: true,
        latency_us: Some(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX)),
        error: None,
    }
}

fn failed(name: &str, server: &str, error: String) -> ComponentHealth {
    ComponentHealth {
        name: name.to_owned(),
        server: server.to_owned(),
        up: false,
        latency_us: None,
        error: Some(error),
    }
}

/// Pings every database and Redis concurrently.
pub async fn check(state: &AppState) -> Health {
    let databases = state.shards.databases().map(|db| async move {
        match tokio::time::timeout(CHECK_DEADLINE, db.ping()).await {
            Ok(Ok(latency)) => answered(db.label(), db.server(), latency),
            Ok(Err(error)) => failed(db.label(), db.server(), error.to_string()),
            Err(_) => failed(db.label(), db.server(), "no answer in time".into()),
        }
    });
    let redis = async {
        match tokio::time::timeout(CHECK_DEADLINE, state.redis.ping()).await {
            Ok(Ok(latency)) => answered("redis", "redis", latency),
            Ok(Err(error)) => {
                tracing::warn!(%error, "redis health check failed");
                failed("redis", "redis", "redis is unavailable".into())
            }
            Err(_) => failed("redis", "redis", "no answer in time".into()),
        }
    };
    let (databases, redis) = tokio::join!(futures_util::future::join_all(databases), redis);
    Health { databases, redis }
}
