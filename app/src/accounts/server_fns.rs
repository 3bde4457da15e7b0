//! The account pages' server functions. Each is thin: the request's session, the same input types
//! and services as the REST API, and the cookie.

use leptos::prelude::*;

use super::model::User;
use crate::catalog::model::Page;
use crate::error::AppError;

#[cfg(feature = "ssr")]
mod ssr {
    use std::net::IpAddr;

    use crate::accounts::model::User;
    use crate::accounts::session;
    use crate::admin::server_fns::ssr::request_parts;
    use crate::error::AppError;
    use crate::state::{AppState, use_app_state};

    /// The state and the signed-in account.
    pub async fn signed_in() -> Result<(AppState, User), AppError> {
        let state = use_app_state()?;
        let user = crate::accounts::service::require_user(&state, &request_parts()?).await?;
        Ok((state, user))
    }

    /// After a sign-in: moves the visitor's cart into the account's and forgets the visitor cart.
    pub async fn adopt_visitor_cart(state: &AppState, user: &User) -> Result<(), AppError> {
        let parts = request_parts()?;
        if let (Some(cookie), Some(response)) = (
            crate::cart::service::merge_at_sign_in(state, &parts, user.id).await?,
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        ) {
            response.append_header(http::header::SET_COOKIE, cookie);
        }
        Ok(())
    }

    /// Hands `token` to the browser as the session cookie (an empty token clears it).
    pub fn set_session_cookie(token: &str) -> Result<(), AppError> {
        let cookie = session::cookie(&request_parts()?, token)?;
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.append_header(http::header::SET_COOKIE, cookie);
        }
        Ok(())
    }

    /// The address the request came from.
    pub fn client_address() -> Option<IpAddr> {
        crate::request::client_address(&request_parts().ok()?)
    }

    /// Where to go after signing in: a path of this shop, never another site.
    pub fn local_path(next: Option<String>, default: &str) -> String {
        next.filter(|path| path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'))
            .unwrap_or_else(|| default.to_owned())
    }
}

/// The signed-in account, if any (the header shows it).
#[server(endpoint = "me")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    let state = crate::state::use_app_state()?;
    let parts = crate::admin::server_fns::ssr::request_parts()?;
    crate::accounts::service::authenticate(&state, &parts)
        .await
        .map_err(crate::error::with_status)
}

/// Creates a customer account and signs it in.
#[server(endpoint = "register")]
pub async fn register(
    username: String,
    email: String,
    phone: String,
    display_name: String,
    timezone: String,
    password: String,
) -> Result<User, AppError> {
    use crate::accounts::model::RegisterInput;
    use crate::accounts::service;
    let result = async {
        let state = crate::state::use_app_state()?;
        let input = RegisterInput {
            username,
            email,
            phone,
            display_name,
            timezone,
            password,
        };
        let user = service::register(&state, input, crate::accounts::model::Role::Customer).await?;
        // Signed in at once: a new session, without hashing the password a second time.
        let token = service::start_session(&state, &user).await?;
        ssr::set_session_cookie(&token)?;
        ssr::adopt_visitor_cart(&state, &user).await?;
        leptos_axum::redirect("/account");
        Ok(user)
    };
    result.await.map_err(crate::error::with_status)
}

/// Signs in and goes to `next` (a path of this shop) or the account page.
#[server(endpoint = "log-in")]
pub async fn log_in(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<User, AppError> {
    use crate::accounts::model::LoginInput;
    let result = async {
        let state = crate::state::use_app_state()?;
        let input = LoginInput { username, password };
        let (token, user) =
            crate::accounts::service::log_in(&state, input, ssr::client_address()).await?;
        ssr::set_session_cookie(&token)?;
        ssr::adopt_visitor_cart(&state, &user).await?;
        leptos_axum::redirect(&ssr::local_path(next, "/account"));
        Ok(user)
    };
    result.await.map_err(crate::error::with_status)
}

/// Signs out: this session ends and its cookie is cleared.
#[server(endpoint = "log-out")]
pub async fn log_out() -> Result<(), AppError> {
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let token = crate::accounts::session::token_from(&parts);
        let user = crate::accounts::service::authenticate(&state, &parts).await?;
        if let (Some(token), Some(user)) = (token, user) {
            crate::accounts::service::log_out(&state, &token, user.id).await?;
        }
        ssr::set_session_cookie("")?;
        leptos_axum::redirect("/");
        Ok(())
    };
    result.await.map_err(crate::error::with_status)
}

/// Saves the account's details.
#[server(endpoint = "update-account")]
pub async fn update_account(
    display_name: String,
    timezone: String,
    email: String,
    phone: String,
) -> Result<User, AppError> {
    use crate::accounts::model::AccountPatchInput;
    let result = async {
        let (state, user) = ssr::signed_in().await?;
        let patch = AccountPatchInput {
            display_name: Some(display_name),
            timezone: Some(timezone),
            email: Some(email),
            phone: Some(phone),
            ..Default::default()
        };
        crate::accounts::service::update_user(&state, &user, user.id, patch).await
    };
    result.await.map_err(crate::error::with_status)
}

/// Changes the password; every session of the account ends, this one too.
#[server(endpoint = "change-password")]
pub async fn change_password(current_password: String, password: String) -> Result<(), AppError> {
    use crate::accounts::model::AccountPatchInput;
    let result = async {
        let (state, user) = ssr::signed_in().await?;
        let patch = AccountPatchInput {
            password: Some(password),
            current_password: Some(current_password),
            ..Default::default()
        };
        crate::accounts::service::update_user(&state, &user, user.id, patch).await?;
        ssr::set_session_cookie("")?;
        leptos_axum::redirect("/login?changed=1");
        Ok(())
    };
    result.await.map_err(crate::error::with_status)
}

/// The accounts, for the admin console.
#[server(endpoint = "admin/users")]
pub async fn admin_users(
    q: Option<String>,
    role: Option<String>,
    page: Option<String>,
) -> Result<Page<User>, AppError> {
    use crate::accounts::model::Role;
    use crate::catalog::model::PageRequest;
    let result = async {
        let state = crate::admin::server_fns::ssr::admin_state().await?;
        let role = match role.as_deref().filter(|r| !r.is_empty()) {
            None => None,
            Some(text) => Some(
                Role::parse(text)
                    .ok_or_else(|| AppError::invalid("role", "must be customer or admin"))?,
            ),
        };
        let page = page
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<u32>()
                    .map_err(|_| AppError::invalid("page", "must be a whole number"))
            })
            .transpose()?;
        let page = PageRequest::parse(page, None, 25)?;
        crate::accounts::service::list_users(&state, q.as_deref(), role, page).await
    };
    result.await.map_err(crate::error::with_status)
}

/// Makes an account an admin or a customer.
#[server(endpoint = "admin/set-role")]
pub async fn admin_set_role(id: String, role: String) -> Result<User, AppError> {
    use crate::accounts::model::{AccountPatchInput, UserId};
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let admin = crate::accounts::service::require_admin(&state, &parts).await?;
        let id = id
            .parse()
            .map(UserId)
            .map_err(|_| AppError::not_found("user"))?;
        let patch = AccountPatchInput {
            role: Some(role),
            ..Default::default()
        };
        crate::accounts::service::update_user(&state, &admin, id, patch).await
    };
    result.await.map_err(crate::error::with_status)
}

/// Deletes an account once the form confirms it.
#[server(endpoint = "admin/delete-user")]
pub async fn admin_delete_user(id: String, confirm: Option<String>) -> Result<(), AppError> {
    use crate::accounts::model::UserId;
    let result = async {
        let state = crate::state::use_app_state()?;
        let parts = crate::admin::server_fns::ssr::request_parts()?;
        let admin = crate::accounts::service::require_admin(&state, &parts).await?;
        let id = id
            .parse()
            .map(UserId)
            .map_err(|_| AppError::not_found("user"))?;
        if confirm.as_deref() != Some("yes") {
            return Err(AppError::invalid(
                "confirm",
                "tick the box to confirm the deletion",
            ));
        }
        crate::accounts::service::delete_user(&state, &admin, id).await
    };
    result.await.map_err(crate::error::with_status)
}
