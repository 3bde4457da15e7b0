//! One database's connection pool.
//!
//! sqlx's own pool sends a ping on every connection it takes back, from a task of its own: one
//! more round trip for every acquire, as many as all the statements of a purchase's requests
//! together (the load runs counted 2,466 pings a second against 4,102 statements at half the
//! plan). This pool takes a connection back as it is. What the ping was for is kept otherwise:
//! - a connection given back in the middle of a statement (its request was dropped) has the rest
//!   of that answer read by sqlx before its next statement, and a transaction dropped without
//!   commit is rolled back before it, as with any sqlx connection;
//! - a connection idle for more than [`CHECK_AFTER`] is pinged before it is handed out, and closed
//!   and replaced when the ping fails: after a server restarts, the old connections are found
//!   dead there instead of failing requests;
//! - a connection idle for longer than the idle timeout is closed.
//!
//! Connections are handed out most recently used first, so a quiet pool lets the others age out.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{ConnectOptions, Connection, MySql, TransactionManager};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a connection may sit idle before it is pinged when next handed out.
const CHECK_AFTER: Duration = Duration::from_secs(1);

/// The pool's limits.
#[derive(Debug, Clone, Copy)]
pub struct PoolLimits {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
}

struct Idle {
    connection: MySqlConnection,
    since: Instant,
}

struct Shared {
    options: MySqlConnectOptions,
    limits: PoolLimits,
    idle: Mutex<Vec<Idle>>,
    permits: Arc<Semaphore>,
    open: AtomicU32,
    closed: AtomicBool,
}

impl Shared {
    fn take_idle(&self) -> Option<Idle> {
        self.idle.lock().ok()?.pop()
    }

    fn give_back(&self, connection: MySqlConnection) {
        if self.closed.load(Ordering::Acquire) {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        match self.idle.lock() {
            Ok(mut idle) => idle.push(Idle {
                connection,
                since: Instant::now(),
            }),
            Err(_) => {
                self.open.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    async fn close(&self, connection: MySqlConnection) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        let _ = connection.close().await;
    }
}

/// A pool of connections to one database, connecting lazily. Its state is shared with the
/// connections it hands out, which go back to it when dropped.
pub struct Pool {
    shared: Arc<Shared>,
}

impl Pool {
    /// A pool that opens its first connection when first asked.
    pub fn new(options: MySqlConnectOptions, limits: PoolLimits) -> Pool {
        Pool {
            shared: Arc::new(Shared {
                options,
                limits,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(limits.max_connections as usize)),
                open: AtomicU32::new(0),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// A connection: an idle one, or a new one when none is idle and the pool has room. Fails
    /// with [`sqlx::Error::PoolTimedOut`] after the acquire timeout.
    pub async fn acquire(&self) -> Result<Pooled, sqlx::Error> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        let deadline = tokio::time::Instant::now() + shared.limits.acquire_timeout;
        let permit = tokio::time::timeout_at(deadline, Arc::clone(&shared.permits).acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        while let Some(Idle {
            mut connection,
            since,
        }) = shared.take_idle()
        {
            let idle_for = since.elapsed();
            if idle_for > shared.limits.idle_timeout {
                shared.close(connection).await;
                continue;
            }
            if idle_for > CHECK_AFTER {
                let pinged = tokio::time::timeout_at(deadline, connection.ping()).await;
                if !matches!(pinged, Ok(Ok(()))) {
                    // Dead (its server restarted, or the network dropped it): not closed
                    // politely, as nothing answers.
                    shared.open.fetch_sub(1, Ordering::AcqRel);
                    drop(connection);
                    continue;
                }
            }
            return Ok(self.pooled(connection, permit));
        }
        let connection = tokio::time::timeout_at(deadline, shared.options.connect())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        shared.open.fetch_add(1, Ordering::AcqRel);
        Ok(self.pooled(connection, permit))
    }

    fn pooled(&self, connection: MySqlConnection, permit: OwnedSemaphorePermit) -> Pooled {
        Pooled {
            connection: Some(connection),
            shared: Arc::clone(&self.shared),
            _permit: permit,
        }
    }

    /// A connection with a transaction begun on it.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let mut connection = self.acquire().await?;
        <MySql as sqlx::Database>::TransactionManager::begin(&mut connection, None).await?;
        Ok(Tx {
            connection,
            open: true,
        })
    }

    /// Open connections, and how many of them are idle.
    pub fn stats(&self) -> (u32, usize) {
        let idle = self.shared.idle.lock().map(|idle| idle.len()).unwrap_or(0);
        (self.shared.open.load(Ordering::Acquire), idle)
    }

    /// Closes the idle connections and every connection given back from now on; acquiring fails.
    pub async fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.permits.close();
        let idle = match self.shared.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => Vec::new(),
        };
        for Idle { connection, .. } in idle {
            self.shared.close(connection).await;
        }
    }
}

/// A connection from the pool; going out of scope gives it back.
pub struct Pooled {
    connection: Option<MySqlConnection>,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Deref for Pooled {
    type Target = MySqlConnection;

    fn deref(&self) -> &MySqlConnection {
        self.connection
            .as_ref()
            .expect("a pooled connection is present until it is dropped")
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut MySqlConnection {
        self.connection
            .as_mut()
            .expect("a pooled connection is present until it is dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.shared.give_back(connection);
        }
    }
}

/// A transaction on a pooled connection. Dropped without [`Tx::commit`], it is rolled back
/// (before the connection's next statement, by whoever uses it next).
pub struct Tx {
    connection: Pooled,
    open: bool,
}

impl Tx {
    /// Commits the transaction.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        <MySql as sqlx::Database>::TransactionManager::commit(&mut self.connection).await?;
        self.open = false;
        Ok(())
    }

    /// Rolls the transaction back.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        <MySql as sqlx::Database>::TransactionManager::rollback(&mut self.connection).await?;
        self.open = false;
        Ok(())
    }
}

impl Deref for Tx {
    type Target = MySqlConnection;

    fn deref(&self) -> &MySqlConnection {
        &self.connection
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut MySqlConnection {
        &mut self.connection
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open {
            <MySql as sqlx::Database>::TransactionManager::start_rollback(&mut self.connection);
        }
    }
}
