//! Building the shared state and running the server.

use std::net::SocketAddr;

use std::sync::Arc;
use std::time::Duration;

use app::events::stream::Cursor;
use app::payments::Webhooks;
use app::payments::breaker::CircuitBreaker;
use app::payments::processor::PaymentProcessor;
use app::redis_store::Redis;
use app::search;
use app::search::engine::TantivyEngine;
use app::shard::migrate;
use app::shard::router::ShardRouter;
use app::state::{AppState, Shared};
use leptos::config::{Env, LeptosOptions};
use tokio::net::{TcpListener, TcpSocket};

use crate::config::Settings;
use crate::payments::http_processor::HttpProcessor;
use crate::{http, jobs};

/// A server bound to its port, ready to serve.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    /// Where this copy follows the event stream from: the moment before its index was built.
    events: Cursor,
}

impl Application {
    /// Connects (lazily) to every database and Redis, builds the search index from the shards, and
    /// binds the listener. With `migrate`, it first creates and migrates every database of the
    /// shard map.
    pub async fn build(settings: &Settings, migrate: bool) -> anyhow::Result<Self> {
        let topology = settings.topology()?;
        if migrate {
            migrate::migrate_all(&topology).await?;
        }
        let listener = bind(settings.http.addr, settings.http.listen_backlog)?;
        let addr = listener.local_addr()?;
        let state = connect(settings, addr)?;
        let events = Cursor::at_latest(&state).await;
        search::service::build_index(&state).await?;
        let router = http::router(state.clone(), &settings.http);
        Ok(Application {
            listener,
            router,
            state,
            events,
        })
    }

    /// The address the server listens on (the real port when the settings asked for port 0).
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (tests use it to reach the same databases).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Application {
            listener,
            router,
            state,
            events,
        } = self;
        let jobs = jobs::spawn(&state, events);
        // The peer address reaches handlers (rate limits per client address).
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        for job in jobs {
            job.abort();
        }
        state.shards.close().await;
        result
    }
}

/// The shared state: pools for every database (connected lazily) and Redis. `addr` is where the
/// site is served from.
pub fn connect(settings: &Settings, addr: SocketAddr) -> anyhow::Result<AppState> {
    let topology = settings.topology()?;
    let leptos_options = LeptosOptions::builder()
        .output_name("surge")
        .site_root(settings.site.root.as_str())
        .site_pkg_dir(settings.site.pkg_dir.as_str())
        .site_addr(addr)
        .env(Env::PROD)
        .build();
    Ok(AppState::new(Shared {
        leptos_options,
        shards: ShardRouter::connect_lazy(&topology)?,
        redis: Redis::connect_lazy(&settings.redis)?,
        categories: Arc::default(),
        pages: Arc::default(),
        search: Arc::new(TantivyEngine::new()?),
        checkout: settings.checkout,
        processor: processor(settings)?,
        webhooks: Webhooks {
            url: settings.payments.webhook_url.clone(),
            secret: settings.payments.webhook_secret.clone(),
        },
    }))
}

/// The payment processor's client, when an API key is configured.
fn processor(settings: &Settings) -> anyhow::Result<Option<Arc<dyn PaymentProcessor>>> {
    let payments = &settings.payments;
    let Some(api_key) = payments.api_key.as_deref() else {
        return Ok(None);
    };
    let client = HttpProcessor::new(
        &payments.processor_url,
        api_key,
        Duration::from_millis(payments.timeout_ms),
        CircuitBreaker::new(
            payments.breaker_failures,
            Duration::from_millis(payments.breaker_open_ms),
        ),
    )?;
    Ok(Some(Arc::new(client)))
}

/// Binds with a listen backlog large enough for a connection storm.
fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
