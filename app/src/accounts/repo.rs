//! The accounts' SQL, on the directory database.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::{MySql, MySqlConnection, QueryBuilder};

use super::model::{NewUser, Role, User, UserId};

/// A stored account and its password hash.
pub struct StoredUser {
    pub user: User,
    pub password_hash: String,
}

type Row = (
    u64,
    String,
    String,
    String,
    String,
    String,
    String,
    NaiveDateTime,
    String,
);

const COLUMNS: &str =
    "id, username, email, phone, display_name, timezone, role, created_at, password_hash";

fn stored(row: Row) -> Result<StoredUser, sqlx::Error> {
    let (id, username, email, phone, display_name, timezone, role, created_at, password_hash) = row;
    let role = Role::parse(&role)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown role {role:?}").into()))?;
    Ok(StoredUser {
        user: User {
            id: UserId(id),
            username,
            email,
            phone,
            display_name,
            timezone,
            role,
            created_at: created_at.and_utc(),
        },
        password_hash,
    })
}

/// Adds an account; a taken username or email fails with a unique violation.
pub async fn insert(
    connection: &mut MySqlConnection,
    user: &NewUser,
    password_hash: &str,
    role: Role,
    now: DateTime<Utc>,
) -> Result<UserId, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO users (username, email, phone, display_name, timezone, password_hash, role, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&user.username)
    .bind(&user.email)
    .bind(&user.phone)
    .bind(&user.display_name)
    .bind(&user.timezone)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now.naive_utc())
    .bind(now.naive_utc())
    .execute(connection)
    .await?;
    Ok(UserId(result.last_insert_id()))
}

/// Which of a username and an email are taken, by another account than `except`.
pub async fn taken(
    connection: &mut MySqlConnection,
    username: Option<&str>,
    email: Option<&str>,
    except: Option<UserId>,
) -> Result<(bool, bool), sqlx::Error> {
    let row: (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(username = ?), 0) AS SIGNED), CAST(COALESCE(SUM(email = ?), 0) AS SIGNED) FROM users \
         WHERE (username = ? OR email = ?) AND id <> ?",
    )
    .bind(username)
    .bind(email)
    .bind(username)
    .bind(email)
    .bind(except.map_or(0, |id| id.0))
    .fetch_one(connection)
    .await?;
    Ok((row.0 > 0, row.1 > 0))
}

/// An account by id.
pub async fn get(
    connection: &mut MySqlConnection,
    id: UserId,
) -> Result<Option<StoredUser>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = ?"))
        .bind(id.0)
        .fetch_optional(connection)
        .await?;
    row.map(stored).transpose()
}

/// An account by username.
pub async fn by_username(
    connection: &mut MySqlConnection,
    username: &str,
) -> Result<Option<StoredUser>, sqlx::Error> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE username = ?"))
            .bind(username)
            .fetch_optional(connection)
            .await?;
    row.map(stored).transpose()
}

/// The usernames of these accounts.
pub async fn usernames(
    connection: &mut MySqlConnection,
    ids: &[UserId],
) -> Result<Vec<(UserId, String)>, sqlx::Error> {
    let mut sql = QueryBuilder::<MySql>::new("SELECT id, username FROM users WHERE id IN (");
    let mut list = sql.separated(", ");
    for id in ids {
        list.push_bind(id.0);
    }
    sql.push(")");
    let rows: Vec<(u64, String)> = sql.build_query_as().fetch_all(connection).await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| (UserId(id), name))
        .collect())
}

/// Writes an account's editable fields and role.
pub async fn update(
    connection: &mut MySqlConnection,
    user: &User,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET email = ?, phone = ?, display_name = ?, timezone = ?, role = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&user.email)
    .bind(&user.phone)
    .bind(&user.display_name)
    .bind(&user.timezone)
    .bind(user.role.as_str())
    .bind(now.naive_utc())
    .bind(user.id.0)
    .execute(connection)
    .await?;
    Ok(())
}

/// Replaces an account's password hash.
pub async fn set_password(
    connection: &mut MySqlConnection,
    id: UserId,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
        .bind(password_hash)
        .bind(id.0)
        .execute(connection)
        .await?;
    Ok(())
}

/// Removes an account; returns whether it existed.
pub async fn delete(connection: &mut MySqlConnection, id: UserId) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(id.0)
        .execute(connection)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// One page of accounts, by id, filtered by a username or email prefix and a role.
pub async fn list(
    connection: &mut MySqlConnection,
    prefix: Option<&str>,
    role: Option<Role>,
    offset: u32,
    limit: u32,
) -> Result<(Vec<User>, u64), sqlx::Error> {
    let pattern = prefix.map(|p| {
        format!(
            "{}%",
            p.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let filter = "(? IS NULL OR username LIKE ? OR email LIKE ?) AND (? IS NULL OR role = ?)";
    let role = role.map(Role::as_str);
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users WHERE {filter} ORDER BY id LIMIT ? OFFSET ?"
    ))
    .bind(&pattern)
    .bind(&pattern)
    .bind(&pattern)
    .bind(role)
    .bind(role)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *connection)
    .await?;
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM users WHERE {filter}"))
        .bind(&pattern)
        .bind(&pattern)
        .bind(&pattern)
        .bind(role)
        .bind(role)
        .fetch_one(connection)
        .await?;
    let users = rows
        .into_iter()
        .map(|row| stored(row).map(|s| s.user))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((users, u64::try_from(total).unwrap_or_default()))
}
