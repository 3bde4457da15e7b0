//! The shard router: the only way to a database connection.
//!
//! It holds one lazily connected pool per database of the [`Topology`]. A database that cannot be
//! reached fails fast: the first request waits at most the acquire timeout, and for a short
//! cool-down after that every request to *that* database is refused at once with
//! [`DbError::Unavailable`], while the other shards keep working.

use std::collections::BTreeMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::mysql::MySqlConnectOptions;

use super::id::{IdKind, ShardId, ShardedId};
use super::pool::{Pool, PoolLimits, Pooled, Tx};
use super::topology::{DatabasePlan, Role, Topology};
use crate::error::AppError;

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached (down, unreachable, or all its connections are stuck).
    #[error("{database} is unavailable")]
    Unavailable { database: String },
    /// An ID names a logical shard this deployment does not have.
    #[error("{0} is not in the shard map")]
    UnknownShard(ShardId),
    /// The database answered with an error.
    #[error("{database}: {source}")]
    Query {
        database: String,
        #[source]
        source: sqlx::Error,
    },
}

impl From<DbError> for AppError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable { database } => AppError::Unavailable { what: database },
            DbError::UnknownShard(_) => AppError::NotFound {
                what: "the record".into(),
            },
            error @ DbError::Query { .. } => AppError::internal(error),
        }
    }
}

/// Whether the server refused a new connection because it has too many (1040, 1203): it is up
/// but full, so the request is answered "unavailable" without marking the server down.
fn is_full(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => e
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|e| matches!(e.number(), 1040 | 1203)),
        _ => false,
    }
}

/// Whether an error means the server could not be reached, as opposed to a failed statement.
fn is_connectivity(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    )
}

/// One database: its pool, and the memory of when it was last found unreachable.
pub struct Database {
    role: Role,
    label: String,
    server: String,
    name: String,
    pool: Pool,
    cooldown: Duration,
    epoch: Instant,
    /// Milliseconds since `epoch` until which requests are refused without trying; 0 = healthy.
    down_until_ms: AtomicU64,
}

impl Database {
    fn connect_lazy(plan: &DatabasePlan, topology: &Topology) -> Result<Self, sqlx::Error> {
        let options = MySqlConnectOptions::from_str(plan.url.expose())?
            .database(&plan.database)
            .charset("utf8mb4");
        let pool = Pool::new(
            options,
            PoolLimits {
                max_connections: plan.pool_size,
                acquire_timeout: Duration::from_millis(topology.acquire_timeout_ms),
                idle_timeout: Duration::from_secs(300),
            },
        );
        Ok(Database {
            role: plan.role,
            label: plan.role.to_string(),
            server: plan.server.clone(),
            name: plan.database.clone(),
            pool,
            cooldown: Duration::from_millis(topology.unavailable_cooldown_ms),
            epoch: Instant::now(),
            down_until_ms: AtomicU64::new(0),
        })
    }

    /// What this database holds.
    pub fn role(&self) -> Role {
        self.role
    }

    /// `directory` or `shard N`: how errors and health reports name it.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The configured name of the server that holds it.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The database's name on its server.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn unavailable(&self) -> DbError {
        DbError::Unavailable {
            database: self.label.clone(),
        }
    }

    /// Maps a driver error to a [`DbError`], remembering an unreachable server so that the next
    /// requests fail at once.
    pub fn error(&self, error: sqlx::Error) -> DbError {
        if is_full(&error) {
            tracing::warn!(database = %self.label, server = %self.server, %error, "database refused a connection");
            return self.unavailable();
        }
        if is_connectivity(&error) {
            let until = self.now_ms() + u64::try_from(self.cooldown.as_millis()).unwrap_or(0);
            self.down_until_ms.store(until, Ordering::Relaxed);
            tracing::warn!(database = %self.label, server = %self.server, %error, "database unreachable");
            self.unavailable()
        } else {
            DbError::Query {
                database: self.label.clone(),
                source: error,
            }
        }
    }

    /// Whether the database is in its cool-down after being found unreachable.
    pub fn is_cooling_down(&self) -> bool {
        self.now_ms() < self.down_until_ms.load(Ordering::Relaxed)
    }

    /// A connection from the pool, or [`DbError::Unavailable`] quickly.
    pub async fn acquire(&self) -> Result<Pooled, DbError> {
        if self.is_cooling_down() {
            return Err(self.unavailable());
        }
        let connection = self.pool.acquire().await.map_err(|e| self.error(e))?;
        self.down_until_ms.store(0, Ordering::Relaxed);
        Ok(connection)
    }

    /// A transaction on this database.
    pub async fn begin(&self) -> Result<Tx, DbError> {
        if self.is_cooling_down() {
            return Err(self.unavailable());
        }
        let transaction = self.pool.begin().await.map_err(|e| self.error(e))?;
        self.down_until_ms.store(0, Ordering::Relaxed);
        Ok(transaction)
    }

    /// Checks the database answers, bypassing the cool-down; returns the round-trip time.
    pub async fn ping(&self) -> Result<Duration, DbError> {
        let started = Instant::now();
        let mut connection = self.pool.acquire().await.map_err(|e| self.error(e))?;
        sqlx::query("SELECT 1")
            .execute(&mut *connection)
            .await
            .map_err(|e| self.error(e))?;
        self.down_until_ms.store(0, Ordering::Relaxed);
        Ok(started.elapsed())
    }

    /// The pool's current size and idle connections, for metrics.
    pub fn pool_stats(&self) -> (u32, usize) {
        self.pool.stats()
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Routes every query to the database that holds its data. Cheap to clone.
#[derive(Clone)]
pub struct ShardRouter {
    inner: Arc<Inner>,
}

struct Inner {
    directory: Database,
    shards: BTreeMap<ShardId, Database>,
}

impl ShardRouter {
    /// Creates the pools without connecting: a server that is down at start does not stop Surge,
    /// it only makes the data on it unavailable until it comes back.
    pub fn connect_lazy(topology: &Topology) -> Result<Self, sqlx::Error> {
        let mut directory = None;
        let mut shards = BTreeMap::new();
        for plan in &topology.databases {
            let database = Database::connect_lazy(plan, topology)?;
            match plan.role {
                Role::Directory => directory = Some(database),
                Role::Shard(id) => {
                    shards.insert(id, database);
                }
            }
        }
        let directory = directory.ok_or_else(|| {
            sqlx::Error::Configuration("the topology has no directory database".into())
        })?;
        Ok(ShardRouter {
            inner: Arc::new(Inner { directory, shards }),
        })
    }

    /// The directory database: users, categories and the shard each category lives on.
    pub fn directory(&self) -> &Database {
        &self.inner.directory
    }

    /// The database of a logical shard.
    pub fn shard(&self, id: ShardId) -> Result<&Database, DbError> {
        self.inner.shards.get(&id).ok_or(DbError::UnknownShard(id))
    }

    /// The database that holds the entity an ID names.
    pub fn for_id<K: IdKind>(&self, id: &ShardedId<K>) -> Result<&Database, DbError> {
        self.shard(id.shard())
    }

    /// Every logical shard, in shard order.
    pub fn shards(&self) -> impl Iterator<Item = (ShardId, &Database)> {
        self.inner.shards.iter().map(|(id, db)| (*id, db))
    }

    /// The directory, then every shard.
    pub fn databases(&self) -> impl Iterator<Item = &Database> {
        std::iter::once(&self.inner.directory).chain(self.inner.shards.values())
    }

    /// Runs `query` on every shard at once and returns each shard's result, in shard order. One
    /// shard failing does not stop the others: the caller decides what a partial answer means.
    pub async fn scatter<'a, T, F, Fut>(&'a self, query: F) -> Vec<(ShardId, Result<T, DbError>)>
    where
        F: Fn(ShardId, &'a Database) -> Fut,
        Fut: Future<Output = Result<T, DbError>> + 'a,
    {
        let calls = self
            .inner
            .shards
            .iter()
            .map(|(id, db)| {
                let call = query(*id, db);
                async move { (*id, call.await) }
            })
            .collect::<Vec<_>>();
        futures_util::future::join_all(calls).await
    }

    /// Closes every pool (at shutdown, and at the end of a test).
    pub async fn close(&self) {
        for database in self.databases() {
            database.close().await;
        }
    }
}
