//! Creating and migrating every database of the shard map.
//!
//! `migrations/directory` is applied to the directory, `migrations/shard` to every logical shard.
//! Each shard database records the shard number it was created for; a shard map that points a
//! shard at another shard's database (an easy mistake when moving shards between servers) is
//! refused instead of silently mixing data. sqlx takes a lock per database while it migrates,
//! so several copies of Surge starting at once are safe.

use std::str::FromStr;

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};

use super::topology::{DatabasePlan, Role, Topology};

static DIRECTORY: Migrator = sqlx::migrate!("../migrations/directory");
static SHARD: Migrator = sqlx::migrate!("../migrations/shard");

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{database} on server {server}: {source}")]
    Database {
        database: String,
        server: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{database} on server {server}: {source}")]
    Migration {
        database: String,
        server: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error(
        "{database} on server {server} belongs to shard {found}, but the shard map says {role}"
    )]
    WrongShard {
        database: String,
        server: String,
        found: u16,
        role: Role,
    },
}

fn server_options(plan: &DatabasePlan) -> Result<MySqlConnectOptions, sqlx::Error> {
    Ok(MySqlConnectOptions::from_str(plan.url.expose())?.charset("utf8mb4"))
}

/// Creates (if missing) and migrates every database of the topology, one after the other.
pub async fn migrate_all(topology: &Topology) -> Result<(), MigrateError> {
    for plan in &topology.databases {
        migrate_one(plan).await?;
        tracing::info!(database = %plan.database, server = %plan.server, role = %plan.role, "migrated");
    }
    Ok(())
}

async fn migrate_one(plan: &DatabasePlan) -> Result<(), MigrateError> {
    let db_error = |source| MigrateError::Database {
        database: plan.database.clone(),
        server: plan.server.clone(),
        source,
    };
    let options = server_options(plan).map_err(db_error)?;
    let mut server = MySqlConnection::connect_with(&options)
        .await
        .map_err(db_error)?;
    // The name is validated by the topology (a-z, 0-9, _), so quoting it with backticks is safe.
    sqlx::query(&format!(
        "CREATE DATABASE IF NOT EXISTS `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        plan.database
    ))
    .execute(&mut server)
    .await
    .map_err(db_error)?;
    server.close().await.map_err(db_error)?;

    let mut connection = MySqlConnection::connect_with(&options.database(&plan.database))
        .await
        .map_err(db_error)?;
    let migrator = match plan.role {
        Role::Directory => &DIRECTORY,
        Role::Shard(_) => &SHARD,
    };
    migrator
        .run(&mut connection)
        .await
        .map_err(|source| MigrateError::Migration {
            database: plan.database.clone(),
            server: plan.server.clone(),
            source,
        })?;

    if let Role::Shard(id) = plan.role {
        // The first migration of a shard claims it; INSERT IGNORE keeps an existing claim.
        sqlx::query("INSERT IGNORE INTO shard_identity (singleton, logical_shard) VALUES (1, ?)")
            .bind(id.number())
            .execute(&mut connection)
            .await
            .map_err(db_error)?;
        let found: u16 =
            sqlx::query_scalar("SELECT logical_shard FROM shard_identity WHERE singleton = 1")
                .fetch_one(&mut connection)
                .await
                .map_err(db_error)?;
        if found != id.number() {
            return Err(MigrateError::WrongShard {
                database: plan.database.clone(),
                server: plan.server.clone(),
                found,
                role: plan.role,
            });
        }
    }
    connection.close().await.map_err(db_error)?;
    Ok(())
}

/// Drops every database of the topology (tests, and `surge reset` on a local stack).
pub async fn drop_all(topology: &Topology) -> Result<(), MigrateError> {
    for plan in &topology.databases {
        let db_error = |source| MigrateError::Database {
            database: plan.database.clone(),
            server: plan.server.clone(),
            source,
        };
        let options = server_options(plan).map_err(db_error)?;
        let mut server = MySqlConnection::connect_with(&options)
            .await
            .map_err(db_error)?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS `{}`", plan.database))
            .execute(&mut server)
            .await
            .map_err(db_error)?;
        server.close().await.map_err(db_error)?;
    }
    Ok(())
}
