//! The versioned REST API (`/api/v1`) and its OpenAPI document (`/api/openapi.json`), generated
//! from the handlers below.

mod accounts;
mod cart;
mod catalog;
mod extract;
mod orders;
mod payments;

use std::collections::BTreeMap;

use app::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What kind of error: `validation`, `not_found`, `conflict`, `bad_request`, ...
    pub error: String,
    /// A sentence for people.
    pub message: String,
    /// For `validation`: each invalid field and what is wrong with it.
    pub fields: Option<BTreeMap<String, Vec<String>>>,
    /// For `conflict`: the field the conflict is about.
    pub field: Option<String>,
}

/// Sessions: the token from `POST /api/v1/sessions`, as a bearer token (or the cookie).
struct SessionScheme;

impl Modify for SessionScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Surge", description = "The storefront and payment API of Surge."),
    paths(
        catalog::list_categories,
        catalog::create_category,
        catalog::get_category,
        catalog::rename_category,
        catalog::list_category_items,
        catalog::create_item,
        catalog::get_item,
        catalog::update_item,
        catalog::delete_item,
        catalog::change_stock,
        catalog::list_stock_movements,
        catalog::search,
        accounts::register,
        accounts::list_users,
        accounts::get_user,
        accounts::update_user,
        accounts::delete_user,
        accounts::log_in,
        accounts::log_out,
        cart::get_cart,
        cart::put_line,
        cart::delete_line,
        cart::clear,
        orders::check_out,
        orders::list,
        orders::get,
        orders::cancel,
        payments::pay,
        payments::progress,
        payments::place,
        payments::webhook,
        payments::list,
    ),
    components(schemas(ErrorBody)),
    modifiers(&SessionScheme),
    tags(
        (name = "catalog", description = "Categories, items and the stock ledger"),
        (name = "accounts", description = "Users and sessions"),
        (name = "cart", description = "The caller's cart"),
        (name = "orders", description = "Checkout and the caller's orders"),
        (name = "payments", description = "Paying checkouts, and the processor's webhook")
    )
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `/api/v1` and `/api/openapi.json`. Bodies over `body_limit_bytes` get a JSON 413.
pub fn router(body_limit_bytes: usize) -> Router<AppState> {
    let v1 = Router::new()
        .route(
            "/categories",
            get(catalog::list_categories).post(catalog::create_category),
        )
        .route(
            "/categories/{id}",
            get(catalog::get_category).patch(catalog::rename_category),
        )
        .route("/categories/{id}/items", get(catalog::list_category_items))
        .route("/items", axum::routing::post(catalog::create_item))
        .route("/search", get(catalog::search))
        .route(
            "/items/{id}",
            get(catalog::get_item)
                .patch(catalog::update_item)
                .delete(catalog::delete_item),
        )
        .route(
            "/items/{id}/stock-movements",
            get(catalog::list_stock_movements).post(catalog::change_stock),
        )
        .route("/users", get(accounts::list_users).post(accounts::register))
        .route(
            "/users/{id}",
            get(accounts::get_user)
                .patch(accounts::update_user)
                .delete(accounts::delete_user),
        )
        .route("/cart", get(cart::get_cart).delete(cart::clear))
        .route(
            "/cart/items/{item_id}",
            axum::routing::put(cart::put_line).delete(cart::delete_line),
        )
        .route("/checkouts", axum::routing::post(orders::check_out))
        .route(
            "/checkouts/{checkout_id}/payment",
            axum::routing::post(payments::pay).get(payments::progress),
        )
        .route(
            "/checkouts/{checkout_id}/place",
            axum::routing::post(payments::place),
        )
        .route("/payments", get(payments::list))
        .route("/payments/webhook", axum::routing::post(payments::webhook))
        .route("/orders", get(orders::list))
        .route("/orders/{id}", get(orders::get))
        .route("/orders/{id}/cancel", axum::routing::post(orders::cancel))
        .route("/sessions", axum::routing::post(accounts::log_in))
        .route(
            "/sessions/current",
            axum::routing::delete(accounts::log_out),
        )
        .fallback(|| async { app::error::AppError::not_found("route") })
        .layer(DefaultBodyLimit::max(body_limit_bytes));
    Router::new()
        .nest("/api/v1", v1)
        .route("/api/openapi.json", get(|| async { axum::Json(openapi()) }))
}
