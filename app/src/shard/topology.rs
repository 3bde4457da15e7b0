//! The shard map: which databases exist, on which server, and how many connections each may use.
//!
//! Settings come from configuration ([`DatabaseSettings`]); [`Topology::plan`] validates them once
//! at start and sizes every connection pool so that all copies of Surge together never open more
//! connections to a server than it allows (`max_connections`, 250 in the capacity plan), keeping a
//! reserve for administrators, migrations and the audit.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::id::ShardId;

/// A connection URL that may carry a password: it never appears in logs or debug output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        SecretUrl(url.into())
    }

    /// The URL itself, for the one place that connects.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretUrl(***)")
    }
}

/// One MariaDB/MySQL server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSettings {
    /// A short name the shard map refers to (`db0`).
    pub name: String,
    /// `mysql://user:password@host:port`, without a database: Surge names its databases itself.
    pub url: SecretUrl,
    /// The server's `max_connections`.
    pub max_connections: u32,
}

/// One logical shard and the server that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSettings {
    pub id: u16,
    pub server: String,
}

/// Everything about the databases, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseSettings {
    /// Every database name starts with this (`surge_directory`, `surge_shard_0`, ...), so tests
    /// and several shops can share servers without seeing each other's data.
    pub prefix: String,
    pub servers: Vec<ServerSettings>,
    pub shards: Vec<ShardSettings>,
    /// The server that holds the directory database (users, categories and their shard).
    pub directory_server: String,
    /// How many copies of Surge share these servers: the connection budget is split among them.
    pub server_copies: u32,
    /// Connections left free on every server for administrators, migrations and the audit.
    pub reserved_connections: u32,
    /// No pool grows beyond this, even when the budget would allow it: past a few dozen
    /// connections a server only queues more.
    pub max_pool_size: u32,
    /// How long a query waits for a connection before the database counts as unavailable.
    pub acquire_timeout_ms: u64,
    /// After a database was found unreachable, requests fail at once for this long instead of
    /// each waiting for the timeout; then one request tries again.
    pub unavailable_cooldown_ms: u64,
}

impl DatabaseSettings {
    /// The local stack of `scripts/stack.sh`: three servers on `base_port`, +1, +2, one logical
    /// shard on each, the directory on the first.
    pub fn local(base_port: u16) -> Self {
        let servers = (0..3u16)
            .map(|i| ServerSettings {
                name: format!("db{i}"),
                url: SecretUrl::new(format!("mysql://root@127.0.0.1:{}", base_port + i)),
                max_connections: 250,
            })
            .collect();
        let shards = (0..3u16)
            .map(|i| ShardSettings {
                id: i,
                server: format!("db{i}"),
            })
            .collect();
        DatabaseSettings {
            prefix: "surge".into(),
            servers,
            shards,
            directory_server: "db0".into(),
            server_copies: 1,
            reserved_connections: 10,
            max_pool_size: 64,
            acquire_timeout_ms: 2000,
            unavailable_cooldown_ms: 2000,
        }
    }
}

/// What a database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Directory,
    Shard(ShardId),
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Directory => f.write_str("directory"),
            Role::Shard(id) => id.fmt(f),
        }
    }
}

/// One database Surge uses, with the server that holds it and its pool size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabasePlan {
    pub role: Role,
    pub server: String,
    pub url: SecretUrl,
    pub database: String,
    pub pool_size: u32,
}

/// The validated shard map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub databases: Vec<DatabasePlan>,
    pub acquire_timeout_ms: u64,
    pub unavailable_cooldown_ms: u64,
}

/// Why a shard map cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    #[error("database prefix {0:?} must be 1 to 40 characters of a-z, 0-9 and _")]
    BadPrefix(String),
    #[error("no shards are configured")]
    NoShards,
    #[error("server name {0:?} is used twice")]
    DuplicateServer(String),
    #[error("shard {0} is configured twice")]
    DuplicateShard(u16),
    #[error("shard {0} is beyond the maximum number of logical shards")]
    ShardOutOfRange(u16),
    #[error("{what} refers to server {server:?}, which is not configured")]
    UnknownServer { what: String, server: String },
    #[error("server copies must be at least 1")]
    NoCopies,
    #[error(
        "server {server:?} allows {max_connections} connections: after the {reserved} reserved, \
         {copies} copies and {databases} databases leave {per_database} per pool (at least 2 needed)"
    )]
    BudgetTooSmall {
        server: String,
        max_connections: u32,
        reserved: u32,
        copies: u32,
        databases: u32,
        per_database: u32,
    },
}

impl Topology {
    /// Validates the settings and sizes every pool within its server's connection budget.
    pub fn plan(settings: &DatabaseSettings) -> Result<Topology, TopologyError> {
        let prefix_ok = (1..=40).contains(&settings.prefix.len())
            && settings
                .prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !prefix_ok {
            return Err(TopologyError::BadPrefix(settings.prefix.clone()));
        }
        if settings.shards.is_empty() {
            return Err(TopologyError::NoShards);
        }
        if settings.server_copies == 0 {
            return Err(TopologyError::NoCopies);
        }
        let mut servers = BTreeMap::new();
        for server in &settings.servers {
            if servers.insert(server.name.as_str(), server).is_some() {
                return Err(TopologyError::DuplicateServer(server.name.clone()));
            }
        }
        let lookup = |what: String, name: &str| {
            servers
                .get(name)
                .copied()
                .ok_or_else(|| TopologyError::UnknownServer {
                    what,
                    server: name.to_owned(),
                })
        };

        let mut roles = vec![(
            Role::Directory,
            lookup("the directory".into(), &settings.directory_server)?,
        )];
        let mut seen = BTreeSet::new();
        for shard in &settings.shards {
            let id =
                ShardId::new(shard.id).map_err(|_| TopologyError::ShardOutOfRange(shard.id))?;
            if !seen.insert(id) {
                return Err(TopologyError::DuplicateShard(shard.id));
            }
            roles.push((
                Role::Shard(id),
                lookup(format!("shard {}", shard.id), &shard.server)?,
            ));
        }
        roles.sort_by_key(|(role, _)| *role);

        let mut per_server: BTreeMap<&str, u32> = BTreeMap::new();
        for (_, server) in &roles {
            *per_server.entry(server.name.as_str()).or_default() += 1;
        }

        let mut databases = Vec::with_capacity(roles.len());
        for (role, server) in roles {
            let count = per_server[server.name.as_str()];
            let budget = server
                .max_connections
                .saturating_sub(settings.reserved_connections)
                / settings.server_copies;
            let per_database = budget / count;
            if per_database < 2 {
                return Err(TopologyError::BudgetTooSmall {
                    server: server.name.clone(),
                    max_connections: server.max_connections,
                    reserved: settings.reserved_connections,
                    copies: settings.server_copies,
                    databases: count,
                    per_database,
                });
            }
            let database = match role {
                Role::Directory => format!("{}_directory", settings.prefix),
                Role::Shard(id) => format!("{}_shard_{}", settings.prefix, id.number()),
            };
            databases.push(DatabasePlan {
                role,
                server: server.name.clone(),
                url: server.url.clone(),
                database,
                pool_size: per_database.min(settings.max_pool_size.max(2)),
            });
        }
        Ok(Topology {
            databases,
            acquire_timeout_ms: settings.acquire_timeout_ms,
            unavailable_cooldown_ms: settings.unavailable_cooldown_ms,
        })
    }

    /// The most connections all copies of Surge together may open to each server.
    pub fn connections_per_server(&self, copies: u32) -> BTreeMap<String, u32> {
        let mut totals = BTreeMap::new();
        for db in &self.databases {
            *totals.entry(db.server.clone()).or_default() += db.pool_size * copies;
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_stack_has_a_directory_and_three_shards_on_three_servers() {
        let topology = Topology::plan(&DatabaseSettings::local(3307)).unwrap();
        let names: Vec<_> = topology
            .databases
            .iter()
            .map(|d| (d.database.as_str(), d.server.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("surge_directory", "db0"),
                ("surge_shard_0", "db0"),
                ("surge_shard_1", "db1"),
                ("surge_shard_2", "db2"),
            ]
        );
    }

    #[test]
    fn no_server_is_ever_asked_for_more_than_its_connections() {
        for copies in [1, 2, 3, 5, 8, 12] {
            let mut settings = DatabaseSettings::local(3307);
            settings.server_copies = copies;
            settings.max_pool_size = 1000;
            // Six logical shards on three servers, two per server plus the directory on db0.
            settings.shards = (0..6)
                .map(|i| ShardSettings {
                    id: i,
                    server: format!("db{}", i % 3),
                })
                .collect();
            let topology = Topology::plan(&settings).unwrap();
            for (server, total) in topology.connections_per_server(copies) {
                assert!(
                    total <= 250 - settings.reserved_connections,
                    "{server}: {total} with {copies} copies"
                );
            }
        }
    }

    #[test]
    fn too_many_copies_for_the_budget_is_refused_at_start() {
        let mut settings = DatabaseSettings::local(3307);
        settings.server_copies = 200;
        assert!(matches!(
            Topology::plan(&settings),
            Err(TopologyError::BudgetTooSmall { .. })
        ));
    }

    #[test]
    fn a_shard_on_an_unknown_server_is_refused() {
        let mut settings = DatabaseSettings::local(3307);
        settings.shards[1].server = "db9".into();
        assert_eq!(
            Topology::plan(&settings),
            Err(TopologyError::UnknownServer {
                what: "shard 1".into(),
                server: "db9".into()
            })
        );
    }

    #[test]
    fn duplicate_shards_and_bad_prefixes_are_refused() {
        let mut settings = DatabaseSettings::local(3307);
        settings.shards[2].id = 0;
        assert_eq!(
            Topology::plan(&settings),
            Err(TopologyError::DuplicateShard(0))
        );
        let mut settings = DatabaseSettings::local(3307);
        settings.prefix = "surge; DROP".into();
        assert!(matches!(
            Topology::plan(&settings),
            Err(TopologyError::BadPrefix(_))
        ));
    }

    #[test]
    fn the_url_never_prints() {
        let url = SecretUrl::new("mysql://root:hunter2@db");
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
