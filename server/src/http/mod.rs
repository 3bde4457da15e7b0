//! The HTTP router: the Leptos pages and server functions, the REST API, `/healthz` and `/livez`, item pictures,
//! the site's bundle, and the layers every request passes through (the brake, kept pages,
//! tracing, timeout, body limit, compression, security headers).

mod brake;
mod health;
mod images;
mod kept_pages;
mod same_origin;
mod whole_bodies;

use std::time::Duration;

use app::state::AppState;
use app::{App, shell};
use axum::Router;
use axum::routing::get;
use http::header::{CACHE_CONTROL, VARY};
use http::{HeaderName, HeaderValue, StatusCode};
use leptos_axum::{
    LeptosRoutes, generate_route_list, site_pkg_dir_service, site_pkg_dir_service_route_path,
};
use tower::ServiceBuilder;
use tower::util::MapResponseLayer;
use tower_http::compression::predicate::{And, DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::HttpSettings;

/// Every route of the shop.
pub fn router(state: AppState, settings: &HttpSettings) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    // The bundle's names carry no hash, so a browser asks again on every page (an unchanged file
    // is a `304`): after a deploy it must not hydrate new pages with the old bundle. A file sent
    // as compressed at build time varies with `Accept-Encoding`, so a shared cache in front
    // keeps one copy per encoding.
    let bundle = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            VARY,
            HeaderValue::from_static("accept-encoding"),
        ))
        .service(site_pkg_dir_service(&options));
    // The API answers an oversized body with its own JSON 413; the pages with the layer's.
    let pages = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/livez", get(health::livez))
        .route("/images/items/{file}", get(images::item_image))
        .route_service(&site_pkg_dir_service_route_path(&options), bundle)
        .leptos_routes_with_context(&state, routes, leptos::nonce::provide_nonce, move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(RequestBodyLimitLayer::new(settings.body_limit_bytes));
    let shop = Router::new()
        .merge(crate::api::router(settings.body_limit_bytes))
        .merge(pages)
        .with_state(state.clone());
    // The layers wrap the finished router once, outermost first. (`Router::layer` wraps every route
    // in each layer, each level in a box of its own, and a request cloned and allocated its way
    // through all of them: about a seventh of the shop's CPU in the black-friday mix.) The shop's
    // own layers are tower services, not `axum::middleware::from_fn`, which boxes the rest of the
    // stack for every request.
    let layered = ServiceBuilder::new()
        .layer(brake::Brake::new(settings))
        .layer(kept_pages::Keeping::new(state, settings))
        .layer(TraceLayer::new_for_http())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(settings.request_timeout_ms),
        ))
        .layer(
            CompressionLayer::new()
                // (At level 0 nothing is compressed, and the quality is not used.)
                .quality(CompressionLevel::Precise(settings.compression_level as i32))
                .compress_when(WhenCompressed::new(settings)),
        )
        .layer(MapResponseLayer::new(whole_bodies::sized_when_complete))
        .layer(security_header(
            "referrer-policy",
            "strict-origin-when-cross-origin",
        ))
        .layer(security_header("x-frame-options", "DENY"))
        .layer(security_header("x-content-type-options", "nosniff"))
        .layer(same_origin::SameOriginLayer)
        .service(shop);
    Router::new().fallback_service(layered)
}

/// Which answers are compressed: none at `http.compression_level` 0; else those the default
/// predicate compresses (not images, not gRPC, not already encoded) of at least
/// `http.compression_min_bytes`.
#[derive(Clone)]
struct WhenCompressed {
    on: bool,
    sized: And<DefaultPredicate, SizeAbove>,
}

impl WhenCompressed {
    fn new(settings: &HttpSettings) -> Self {
        WhenCompressed {
            on: settings.compression_level > 0,
            sized: DefaultPredicate::new().and(SizeAbove::new(settings.compression_min_bytes)),
        }
    }
}

impl Predicate for WhenCompressed {
    fn should_compress<B>(&self, response: &http::Response<B>) -> bool
    where
        B: http_body::Body,
    {
        self.on && self.sized.should_compress(response)
    }
}

fn security_header(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}
