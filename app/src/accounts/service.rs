//! The accounts' rules: registration, log-in and log-out, who may read and change which account,
//! and the authentication every front door uses.
//!
//! Rules kept here:
//! - a log-in answers the same message, after the same work, whether the username exists or not;
//! - log-ins are rate limited per account and per client address;
//! - a new session (new token) at every log-in; changing the password or deleting the account
//!   ends every session of that account;
//! - a customer asking for another account gets 404, as if it did not exist;
//! - only admins change roles, and never their own (a shop cannot lock out its last admin by a
//!   slip of the hand).

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{SubsecRound, Utc};
use http::request::Parts;

use super::model::{
    AccountPatchInput, LoginInput, Password, RegisterInput, Role, User, UserId, parse_username,
};
use super::{password, repo, session};
use crate::catalog::model::{Page, PageRequest};
use crate::error::AppError;
use crate::rate_limit::{self, Limit};
use crate::state::AppState;

/// Log-in attempts per account.
pub const LOGIN_PER_ACCOUNT: Limit = Limit {
    scope: "login-account",
    max: 10,
    window_s: 300,
};
/// Log-in attempts per client address.
pub const LOGIN_PER_ADDRESS: Limit = Limit {
    scope: "login-address",
    max: 30,
    window_s: 60,
};

fn directory_error(state: &AppState) -> impl Fn(sqlx::Error) -> AppError + '_ {
    move |error| state.shards.directory().error(error).into()
}

fn taken_error(username: bool, email: bool) -> Option<AppError> {
    if username {
        Some(AppError::conflict("username", "this username is taken"))
    } else if email {
        Some(AppError::conflict(
            "email",
            "an account with this email exists",
        ))
    } else {
        None
    }
}

/// Creates an account with `role` (customers register themselves; `surge admin create` makes
/// admins).
pub async fn register(
    state: &AppState,
    input: RegisterInput,
    role: Role,
) -> Result<User, AppError> {
    let mut new = input.parse()?;
    let directory = state.shards.directory();
    let mut connection = directory.acquire().await?;
    let (username, email) =
        repo::taken(&mut connection, Some(&new.username), Some(&new.email), None)
            .await
            .map_err(directory_error(state))?;
    if let Some(error) = taken_error(username, email) {
        return Err(error);
    }
    drop(connection);
    // Moved out, not copied: the only copy is wiped when the hasher drops it.
    let secret = std::mem::replace(&mut new.password, Password::any(String::new()));
    let hash = password::hash(secret).await?;
    let now = Utc::now().trunc_subsecs(6);
    let mut connection = directory.acquire().await?;
    let id = match repo::insert(&mut connection, &new, &hash, role, now).await {
        Ok(id) => id,
        Err(sqlx::Error::Database(e)) if e.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            // Someone took the name between the check and the insert.
            return Err(AppError::conflict(
                "username",
                "this username or email is taken",
            ));
        }
        Err(error) => return Err(directory_error(state)(error)),
    };
    tracing::info!(user_id = id.0, role = role.as_str(), "account created");
    Ok(User {
        id,
        username: new.username,
        email: new.email,
        phone: new.phone,
        display_name: new.display_name,
        timezone: new.timezone,
        role,
        created_at: now,
    })
}

/// Checks a username and password; starts a session and returns its token and the account.
pub async fn log_in(
    state: &AppState,
    input: LoginInput,
    client: Option<IpAddr>,
) -> Result<(String, User), AppError> {
    let username = parse_username(&input.username).unwrap_or_default();
    if let Some(address) = client {
        rate_limit::check(&state.redis, LOGIN_PER_ADDRESS, &address.to_string()).await?;
    }
    rate_limit::check(&state.redis, LOGIN_PER_ACCOUNT, &username).await?;
    let directory = state.shards.directory();
    let stored = {
        let mut connection = directory.acquire().await?;
        repo::by_username(&mut connection, &username)
            .await
            .map_err(directory_error(state))?
    };
    let (user, hash) = match stored {
        Some(stored) => (Some(stored.user), Some(stored.password_hash)),
        None => (None, None),
    };
    let matches = password::verify(Password::any(input.password), hash).await?;
    let Some(user) = user.filter(|_| matches) else {
        return Err(AppError::Unauthorized {
            message: "wrong username or password".into(),
        });
    };
    rate_limit::reset(&state.redis, LOGIN_PER_ACCOUNT, &username).await;
    let token = start_session(state, &user).await?;
    tracing::info!(user_id = user.id.0, "logged in");
    Ok((token, user))
}

/// Starts a session for `user`, read from the directory just before; returns its token.
pub async fn start_session(state: &AppState, user: &User) -> Result<String, AppError> {
    let token = session::create(state, user).await?;
    keep_sessions_current(state, user.clone()).await?;
    Ok(token)
}

/// How often a change of an account is copied into its sessions before they are ended instead.
const COPY_ROUNDS: usize = 5;

/// Every session of the account carries `copied` now: reads the directory again and copies again
/// until a read agrees with the last copy. A change that committed meanwhile may have copied an
/// older version over it, but its own writer reads after its commit, so the last reader copies
/// the newest. A deleted account's sessions end; so do those of an account that keeps changing.
async fn keep_sessions_current(state: &AppState, mut copied: User) -> Result<(), AppError> {
    let directory = state.shards.directory();
    for _ in 0..COPY_ROUNDS {
        let now = {
            let mut connection = directory.acquire().await?;
            repo::get(&mut connection, copied.id)
                .await
                .map_err(directory_error(state))?
                .map(|stored| stored.user)
        };
        match now {
            Some(now) if now == copied => return Ok(()),
            Some(now) => {
                session::copy_account(state, &now).await?;
                copied = now;
            }
            None => break,
        }
    }
    session::end_all(state, copied.id).await
}

/// Ends the session of `token`.
pub async fn log_out(state: &AppState, token: &str, user: UserId) -> Result<(), AppError> {
    session::end(state, token, user).await
}

/// The account a request's session belongs to, if any.
pub async fn authenticate(state: &AppState, parts: &Parts) -> Result<Option<User>, AppError> {
    let Some(token) = session::token_from(parts) else {
        return Ok(None);
    };
    session::resolve(state, &token).await
}

/// [`authenticate`], in the same round trip as the commands `add` puts in a pipeline (see
/// `session::resolve_with`): the account, if any, and what those commands answered.
pub async fn authenticate_with<T: redis::FromRedisValue>(
    state: &AppState,
    parts: &Parts,
    add: impl FnOnce(&mut redis::Pipeline),
) -> Result<(Option<User>, T), AppError> {
    let token = session::token_from(parts);
    session::resolve_with(state, token.as_deref(), add).await
}

/// The signed-in account, or 401.
pub async fn require_user(state: &AppState, parts: &Parts) -> Result<User, AppError> {
    signed_in(authenticate(state, parts).await?)
}

/// The account [`authenticate`] found, or 401 when it found none.
pub fn signed_in(user: Option<User>) -> Result<User, AppError> {
    user.ok_or_else(|| AppError::Unauthorized {
        message: "sign in first".into(),
    })
}

/// The signed-in admin: 401 when nobody is signed in, 403 for a customer.
pub async fn require_admin(state: &AppState, parts: &Parts) -> Result<User, AppError> {
    let user = require_user(state, parts).await?;
    if user.role != Role::Admin {
        return Err(AppError::Forbidden {
            message: "this needs an admin account".into(),
        });
    }
    Ok(user)
}

/// An account `actor` may see: their own, or any for an admin; 404 otherwise.
pub async fn user(state: &AppState, actor: &User, id: UserId) -> Result<User, AppError> {
    if actor.id != id && actor.role != Role::Admin {
        return Err(AppError::not_found("user"));
    }
    let directory = state.shards.directory();
    let mut connection = directory.acquire().await?;
    repo::get(&mut connection, id)
        .await
        .map_err(directory_error(state))?
        .map(|stored| stored.user)
        .ok_or_else(|| AppError::not_found("user"))
}

/// The account with this username, if any (admins' lookups: the caller checks).
pub async fn find_by_username(state: &AppState, username: &str) -> Result<Option<User>, AppError> {
    let directory = state.shards.directory();
    let mut connection = directory.acquire().await?;
    Ok(repo::by_username(&mut connection, username)
        .await
        .map_err(directory_error(state))?
        .map(|stored| stored.user))
}

/// The usernames of these accounts, in one query (admins' lists: the caller checks). Deleted
/// accounts are missing from the answer.
pub async fn usernames(
    state: &AppState,
    ids: &[UserId],
) -> Result<BTreeMap<UserId, String>, AppError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let directory = state.shards.directory();
    let mut connection = directory.acquire().await?;
    Ok(repo::usernames(&mut connection, ids)
        .await
        .map_err(directory_error(state))?
        .into_iter()
        .collect())
}

/// Changes the fields a patch names. A new password needs the current one and ends every
/// session of the account.
pub async fn update_user(
    state: &AppState,
    actor: &User,
    id: UserId,
    input: AccountPatchInput,
) -> Result<User, AppError> {
    let patch = input.parse()?;
    let current = user(state, actor, id).await?;
    if patch.role.is_some() {
        if actor.role != Role::Admin {
            return Err(AppError::Forbidden {
                message: "only admins change roles".into(),
            });
        }
        if actor.id == id {
            return Err(AppError::conflict(
                "role",
                "admins cannot change their own role",
            ));
        }
    }
    let directory = state.shards.directory();
    if let Some(email) = &patch.email {
        let mut connection = directory.acquire().await?;
        let (_, taken) = repo::taken(&mut connection, None, Some(email), Some(id))
            .await
            .map_err(directory_error(state))?;
        if taken {
            return Err(AppError::conflict(
                "email",
                "an account with this email exists",
            ));
        }
    }
    let new_hash = match patch.password {
        Some((new, current_password)) => {
            if actor.id != id {
                return Err(AppError::Forbidden {
                    message: "only the account's owner changes its password".into(),
                });
            }
            let stored = {
                let mut connection = directory.acquire().await?;
                repo::get(&mut connection, id)
                    .await
                    .map_err(directory_error(state))?
                    .ok_or_else(|| AppError::not_found("user"))?
            };
            if !password::verify(current_password, Some(stored.password_hash)).await? {
                return Err(AppError::invalid(
                    "current_password",
                    "is not the current password",
                ));
            }
            Some(password::hash(new).await?)
        }
        None => None,
    };
    let updated = User {
        display_name: patch.display_name.unwrap_or(current.display_name),
        timezone: patch.timezone.unwrap_or(current.timezone),
        email: patch.email.unwrap_or(current.email),
        phone: patch.phone.unwrap_or(current.phone),
        role: patch.role.unwrap_or(current.role),
        ..current
    };
    let mut connection = directory.acquire().await?;
    repo::update(&mut connection, &updated, Utc::now())
        .await
        .map_err(directory_error(state))?;
    if let Some(hash) = new_hash {
        repo::set_password(&mut connection, id, &hash)
            .await
            .map_err(directory_error(state))?;
        session::end_all(state, id).await?;
        tracing::info!(user_id = id.0, "password changed; every session ended");
    } else {
        drop(connection);
        session::copy_account(state, &updated).await?;
        keep_sessions_current(state, updated.clone()).await?;
    }
    Ok(updated)
}

/// Deletes an account (its own owner, or an admin) and ends its sessions.
pub async fn delete_user(state: &AppState, actor: &User, id: UserId) -> Result<(), AppError> {
    user(state, actor, id).await?;
    let directory = state.shards.directory();
    let mut connection = directory.acquire().await?;
    if !repo::delete(&mut connection, id)
        .await
        .map_err(directory_error(state))?
    {
        return Err(AppError::not_found("user"));
    }
    session::end_all(state, id).await?;
    tracing::info!(user_id = id.0, by = actor.id.0, "account deleted");
    Ok(())
}

/// One page of accounts (admins only: the caller checks), filtered by a username or email prefix
/// and a role.
pub async fn list_users(
    state: &AppState,
    prefix: Option<&str>,
    role: Option<Role>,
    page: PageRequest,
) -> Result<Page<User>, AppError> {
    let directory = state.shards.directory();
    let mut connection = directory.acquire().await?;
    let prefix = prefix.map(str::trim).filter(|p| !p.is_empty());
    let (items, total) = repo::list(&mut connection, prefix, role, page.offset(), page.per_page)
        .await
        .map_err(directory_error(state))?;
    Ok(Page {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    })
}
