//! The state every front door shares: SSR, server functions, the REST API and the jobs.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::catalog::kept_pages::KeptPages;
use crate::catalog::memo::CategoryMemo;
use crate::checkout::service::CheckoutSettings;
use crate::error::AppError;
use crate::payments::Webhooks;
use crate::payments::processor::PaymentProcessor;
use crate::redis_store::Redis;
use crate::search::engine::SearchEngine;
use crate::shard::router::ShardRouter;

/// Surge's shared state: one reference count to clone, as axum and Leptos clone it for every
/// request (a struct of handles took one count per field and copied the webhook settings). Its
/// fields are read through it (`state.shards`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Leptos's integration takes its options from the state.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos_options.clone()
    }
}

/// What the state holds.
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub shards: ShardRouter,
    pub redis: Redis,
    /// This copy's copy of the category list (see `catalog::memo`).
    pub categories: Arc<CategoryMemo>,
    /// The catalog pages this copy keeps rendered for visitors (see `catalog::kept_pages`).
    pub pages: Arc<KeptPages>,
    /// This copy's search index.
    pub search: Arc<dyn SearchEngine>,
    pub checkout: CheckoutSettings,
    /// The payment processor (none configured: payments answer "unavailable").
    pub processor: Option<Arc<dyn PaymentProcessor>>,
    pub webhooks: Webhooks,
}

/// The state, inside a server function or a server-side render.
pub fn use_app_state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| AppError::internal("AppState missing from the Leptos context"))
}
