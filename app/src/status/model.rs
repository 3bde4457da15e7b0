//! What a health check reports.

use serde::{Deserialize, Serialize};

/// The state of one dependency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentHealth {
    /// `directory`, `shard 0`, ... or `redis`.
    pub name: String,
    /// The configured server that holds it (`db0`), or the Redis address' role.
    pub server: String,
    pub up: bool,
    /// Round-trip time of the check, in microseconds, when it answered.
    pub latency_us: Option<u64>,
    /// Why it is down, in words safe to show.
    pub error: Option<String>,
}

/// The state of everything the shop depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub databases: Vec<ComponentHealth>,
    pub redis: ComponentHealth,
}

impl Health {
    /// Whether every dependency answered.
    pub fn all_up(&self) -> bool {
        self.redis.up && self.databases.iter().all(|db| db.up)
    }

    /// The names of the dependencies that did not answer.
    pub fn down(&self) -> Vec<&str> {
        self.databases
            .iter()
            .chain(std::iter::once(&self.redis))
            .filter(|c| !c.up)
            .map(|c| c.name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(name: &str, up: bool) -> ComponentHealth {
        ComponentHealth {
            name: name.into(),
            server: "db0".into(),
            up,
            latency_us: up.then_some(120),
            error: (!up).then(|| "unreachable".into()),
        }
    }

    #[test]
    fn one_component_down_makes_the_shop_unhealthy_and_is_named() {
        let health = Health {
            databases: vec![component("directory", true), component("shard 1", false)],
            redis: component("redis", true),
        };
        assert!(!health.all_up());
        assert_eq!(health.down(), ["shard 1"]);
    }
}
