//! `/api/v1` for accounts: users (register, read, update, delete, list) and sessions (log in, log
//! out). The same services as the account pages.

use app::accounts::model::{
    AccountPatchInput, LoginAnswer, LoginInput, RegisterInput, Role, User, UserId,
};
use app::accounts::{service, session};
use app::catalog::model::{Page, PageRequest};
use app::error::AppError;
use app::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::StatusCode;
use http::header::{LOCATION, SET_COOKIE};
use http::request::Parts;
use serde::Deserialize;
use utoipa::IntoParams;

use super::ErrorBody;
use super::extract::{ApiJson, ApiQuery, ClientAddress, RequireAdmin, RequireUser};

/// Filters and paging of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Usernames or emails that start with this.
    pub q: Option<String>,
    /// `customer` or `admin`.
    pub role: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

fn parse_user_id(text: &str) -> Result<UserId, AppError> {
    text.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .map(UserId)
        .ok_or_else(|| AppError::BadRequest {
            message: format!("{text:?} is not a user ID (a positive number)"),
        })
}

/// Registers a customer account.
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", request_body = RegisterInput,
    responses(
        (status = 201, body = User, headers(("Location" = String))),
        (status = 409, body = ErrorBody, description = "the username or email is taken"),
        (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<RegisterInput>,
) -> Result<impl IntoResponse, AppError> {
    let user = service::register(&state, input, Role::Customer).await?;
    Ok((
        StatusCode::CREATED,
        [(LOCATION, format!("/api/v1/users/{}", user.id.0))],
        Json(user),
    ))
}

/// Every account, filtered and paged (admins only).
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts", params(UserListQuery),
    security(("session" = [])),
    responses((status = 200, body = Page<User>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_users(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UserListQuery>,
) -> Result<Json<Page<User>>, AppError> {
    let role = query
        .role
        .as_deref()
        .map(|role| {
            Role::parse(role).ok_or_else(|| AppError::invalid("role", "must be customer or admin"))
        })
        .transpose()?;
    let page = PageRequest::parse(query.page, query.per_page, 20)?;
    Ok(Json(
        service::list_users(&state, query.q.as_deref(), role, page).await?,
    ))
}

/// One account: one's own, or any for an admin (404 otherwise).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "accounts", params(("id" = u64, Path)),
    security(("session" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_user(
    RequireUser(actor): RequireUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<User>, AppError> {
    Ok(Json(
        service::user(&state, &actor, parse_user_id(&id)?).await?,
    ))
}

/// Changes the fields the body names (one's own account, or any for an admin; the role only by
/// an admin; the password only by the owner, with the current one, and it ends every session).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "accounts",
    request_body = AccountPatchInput, params(("id" = u64, Path)), security(("session" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_user(
    RequireUser(actor): RequireUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AccountPatchInput>,
) -> Result<Json<User>, AppError> {
    let id = parse_user_id(&id)?;
    Ok(Json(service::update_user(&state, &actor, id, input).await?))
}

/// Deletes an account (one's own, or any for an admin) and ends its sessions.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "accounts", params(("id" = u64, Path)),
    security(("session" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_user(
    RequireUser(actor): RequireUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    service::delete_user(&state, &actor, parse_user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Logs in: the answer carries the token, and sets it as the session cookie.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "accounts", request_body = LoginInput,
    responses(
        (status = 201, body = LoginAnswer, headers(("Set-Cookie" = String))),
        (status = 401, body = ErrorBody, description = "wrong username or password"),
        (status = 429, body = ErrorBody, headers(("Retry-After" = u64)))))]
pub async fn log_in(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    parts: Parts,
    ApiJson(input): ApiJson<LoginInput>,
) -> Result<impl IntoResponse, AppError> {
    let (token, user) = service::log_in(&state, input, client).await?;
    let mut headers = http::HeaderMap::new();
    headers.append(SET_COOKIE, session::cookie(&parts, &token)?);
    if let Some(forget_visitor_cart) =
        app::cart::service::merge_at_sign_in(&state, &parts, user.id).await?
    {
        headers.append(SET_COOKIE, forget_visitor_cart);
    }
    Ok((
        StatusCode::CREATED,
        headers,
        Json(LoginAnswer { token, user }),
    ))
}

/// Logs out: this session ends and the cookie is cleared.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "accounts",
    security(("session" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn log_out(
    RequireUser(user): RequireUser,
    State(state): State<AppState>,
    parts: Parts,
) -> Result<impl IntoResponse, AppError> {
    if let Some(token) = session::token_from(&parts) {
        service::log_out(&state, &token, user.id).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, session::cookie(&parts, "")?)],
    ))
}
